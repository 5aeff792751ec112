/**
 * `--serve [PORT|SOCKET]` for `tasks shell` and `tasks demo`: serves the command's own manager with
 * `@effect-tasks/server` (the API, the event stream and the dashboard), and says where and how to connect.
 * Without a value it serves on 127.0.0.1:7420; a number is a port, anything else a Unix socket path. The
 * token is `TASKS_TOKEN` when set, else a fresh random one; either way it is written to a 0600 file in the
 * state directory, where the remote commands find it by the address.
 *
 * @since 0.1.0
 */
import { TaskManager } from "@effect-tasks/core"
import { TaskServer } from "@effect-tasks/server"
import { Flag } from "effect/cli"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TokenFile from "./remote/tokenFile.js"
import * as Terminal from "./terminal.js"

/** The default port of `--serve` without a value. */
export const defaultPort = 7420

/** `--serve[=PORT|SOCKET]`. */
export const flag: Flag.Flag<Option.Option<string>> = Flag.String("serve").pipe(
  Flag.withOptionalValue(String(defaultPort)),
  Flag.optional,
  Flag.withMetavar("PORT|SOCKET"),
  Flag.withDescription(
    `serve this manager over HTTP (API and dashboard) on 127.0.0.1:PORT (default ${defaultPort}) or a Unix socket`
  )
)

/** The commands that take `--serve`. */
const serving = new Set(["shell", "demo"])

/**
 * Lets `--serve` take its value as the next word (`tasks shell --serve 7421`), as the usage line promises;
 * the parser only reads `--serve=7421`. Only for `shell` and `demo`, which take no positional arguments.
 */
export const normalizeArgs = (args: ReadonlyArray<string>): ReadonlyArray<string> => {
  if (!serving.has(args[0] ?? "")) return args
  const out: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    const next = args[i + 1]
    if (arg === "--serve" && next !== undefined && !next.startsWith("-")) {
      out.push(`--serve=${next}`)
      i++
    } else {
      out.push(arg)
    }
  }
  return out
}

/** Where `--serve`'s value says to listen. */
export const listenOptions = (value: string): { readonly port: number } | { readonly socket: string } =>
  /^\d+$/.test(value) ? { port: Number(value) } : { socket: value }

/**
 * Serves the manager in context as `--serve` asked, writes the token file, and prints the address and how to
 * connect (on stderr, so `--json` output stays clean).
 */
export const layer = (value: string): Layer.Layer<never, TaskServer.TaskServerError, TaskManager.TaskManager> =>
  Layer.effectDiscard(Effect.gen(function*() {
    const given = process.env["TASKS_TOKEN"]
    const token = given !== undefined && given.length > 0 ? given : TaskServer.generateToken()
    const server = yield* TaskServer.make({ ...listenOptions(value), token })
    const file = TokenFile.write(server.connect, token)
    const url = server.connect.startsWith("http") ? `${server.connect}/` : undefined
    const lines = [
      `serving this manager's tasks on ${server.connect}`,
      `  token:     ${file}${given === undefined ? " (new, mode 0600)" : " (from TASKS_TOKEN)"}`,
      `  remote:    tasks ls --connect ${server.connect}    (also show, logs, follow, revoke, revoke-all)`,
      url === undefined
        ? `  curl:      curl --unix-socket ${server.connect} -H "Authorization: Bearer $(cat ${file})" http://localhost/api/tasks`
        : `  dashboard: open ${url} and paste the token`
    ]
    Terminal.stderr.write(`${lines.join("\n")}\n`)
  }))

/** The manager's layer, served when `--serve` was given. */
export const provide = <ROut, E, RIn>(
  serve: Option.Option<string>,
  manager: Layer.Layer<ROut | TaskManager.TaskManager, E, RIn>
): Layer.Layer<ROut | TaskManager.TaskManager, E | TaskServer.TaskServerError, RIn> =>
  Option.isNone(serve) ? manager : layer(serve.value).pipe(Layer.provideMerge(manager))
