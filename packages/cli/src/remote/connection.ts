/**
 * How the remote commands find a server: `--connect URL|SOCKET` (or `TASKS_CONNECT`) and `--token` (or
 * `TASKS_TOKEN`, or the token file `--serve` wrote for that address), and how what goes wrong on the way is
 * said in one line.
 *
 * @since 0.1.0
 */
import { TaskClient } from "@effect-tasks/server"
import { Flag } from "effect/cli"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as TokenFile from "./tokenFile.js"

/** `--connect`: where the server is. */
export const connect: Flag.Flag<Option.Option<string>> = Flag.String("connect").pipe(
  Flag.withFallbackConfig(Config.String("TASKS_CONNECT")),
  Flag.optional,
  Flag.withMetavar("URL|SOCKET"),
  Flag.withDescription("the server: http://127.0.0.1:7420, a port, or a Unix socket path (or TASKS_CONNECT)")
)

/** `--token`: the server's bearer token. */
export const token: Flag.Flag<Option.Option<string>> = Flag.String("token").pipe(
  Flag.withFallbackConfig(Config.String("TASKS_TOKEN")),
  Flag.optional,
  Flag.withMetavar("TOKEN"),
  Flag.withDescription("the server's token (or TASKS_TOKEN; default: the token file --serve wrote for that address)")
)

/** The connection flags every remote command takes. */
export const flags = { connect, token }

/** A remote command cannot go on: the one line to print, and exit 1. */
export class RemoteError extends Schema.TaggedError<RemoteError>()("RemoteError", {
  message: Schema.String
}) {}

/** Opens a client for the flags given, or fails with the reason in one line. */
export const open = (config: {
  readonly connect: Option.Option<string>
  readonly token: Option.Option<string>
}): Effect.Effect<TaskClient.Client, RemoteError, Scope.Scope> =>
  Effect.gen(function*() {
    if (Option.isNone(config.connect)) {
      return yield* new RemoteError({ message: "which server? pass --connect URL|SOCKET (or set TASKS_CONNECT)" })
    }
    const target = config.connect.value
    const token = Option.getOrUndefined(config.token) ?? TokenFile.read(target)
    if (token === undefined) {
      return yield* new RemoteError({
        message: `no token for ${target}: pass --token (or set TASKS_TOKEN); no token file at ${TokenFile.path(target)}`
      })
    }
    return yield* TaskClient.make({ connect: target, token })
  })

const causeText = (error: unknown): string => {
  let current: any = error
  for (let depth = 0; depth < 6 && current != null; depth++) {
    if (typeof current.code === "string") return current.code
    current = current.cause ?? current.reason
  }
  return String((error as { message?: unknown })?.message ?? error)
}

/** The one line for any failure of a remote call. */
export const describe = (error: unknown, connect: Option.Option<string>): string => {
  const where = Option.getOrElse(connect, () => "the server")
  const tag = (error as { _tag?: unknown })?._tag
  const message = (error as { message?: unknown })?.message
  switch (tag) {
    case "RemoteError":
    case "TaskNotFound":
    case "BadRequest":
    case "Forbidden":
    case "ManagerClosed":
      return String(message)
    case "Unauthorized":
      return `${where} refused the token (${String(message)})`
    case "HttpClientError":
      return `cannot reach ${where} (${causeText(error)})`
    default:
      return `unexpected answer from ${where}: ${String(message ?? tag ?? error)}`
  }
}
