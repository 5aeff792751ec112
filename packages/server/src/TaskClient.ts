/**
 * The typed client of a task server, derived from the same `TaskApi` definition the server implements,
 * over TCP or a Unix socket. It adds the bearer token to every request (in a header, never in the URL).
 *
 * ```ts
 * import { TaskClient } from "@effect-tasks/server"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* TaskClient.make({ connect: "http://127.0.0.1:7420", token: "..." })
 *   const tasks = yield* client.tasks.list()
 *   const stopped = yield* client.tasks.revoke({ params: { id: tasks[0]!.id }, payload: { graceful: false } })
 *   console.log(stopped.state) // REVOKED
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 */
import { TaskId } from "@effect-tasks/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { HttpApiClient, HttpApiMiddleware } from "effect/http-api"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Api, Authorization, type FollowMessage } from "./TaskApi.js"

/**
 * Where a server listens: an `http://` (or `https://`) URL, or the path of a Unix socket.
 *
 * @since 0.1.0
 * @category models
 */
export type Target =
  | { readonly _tag: "Url"; readonly url: string }
  | { readonly _tag: "Socket"; readonly path: string }

/**
 * Reads what a user gives to `--connect`: a URL (`http://127.0.0.1:7420`), `host:port` or a bare port
 * (`7420`, meaning 127.0.0.1), or a socket path (`./tasks.sock`, `/run/user/1000/tasks.sock`, `unix:/path`).
 *
 * @since 0.1.0
 * @category models
 */
export const parseTarget = (text: string): Target => {
  const trimmed = text.trim()
  if (/^https?:\/\//i.test(trimmed)) return { _tag: "Url", url: trimmed.replace(/\/+$/, "") }
  if (trimmed.startsWith("unix:")) return { _tag: "Socket", path: trimmed.slice("unix:".length) }
  if (/^\d+$/.test(trimmed)) return { _tag: "Url", url: `http://127.0.0.1:${trimmed}` }
  if (/^[^/\s]+:\d+$/.test(trimmed) && !trimmed.includes("/")) return { _tag: "Url", url: `http://${trimmed}` }
  return { _tag: "Socket", path: trimmed }
}

/**
 * How to reach a server.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions {
  /** A URL, `host:port`, a port, or a socket path (see `parseTarget`). */
  readonly connect: string
  readonly token: string | Redacted.Redacted<string>
}

/**
 * The derived client: `client.tasks.list()`, `get`, `output`, `follow`, `revoke`, `revokeAll`, `events`, `submit`.
 *
 * @since 0.1.0
 * @category models
 */
export type Client = HttpApiClient.ForApi<typeof Api>

/**
 * The client as a service.
 *
 * @since 0.1.0
 * @category services
 */
export class TaskClient extends Context.Service<TaskClient, Client>()("@effect-tasks/server/TaskClient") {}

/**
 * Builds a client for the scope (its HTTP agent, which keeps connections alive, closes with it).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options: ConnectOptions) => Effect.Effect<Client, never, Scope.Scope> = Effect.fn(
  "TaskClient.make"
)(function*(options: ConnectOptions) {
  const target = parseTarget(options.connect)
  const token = Redacted.isRedacted(options.token) ? Redacted.value(options.token) : options.token
  const http = NodeHttpClient.layerNodeHttpOptions(
    target._tag === "Socket" ? { socketPath: target.path, keepAlive: true } : { keepAlive: true }
  )
  const authorization = HttpApiMiddleware.layerClient(
    Authorization,
    ({ next, request }) => next(HttpClientRequest.bearerToken(request, token))
  )
  const services = yield* Layer.build(Layer.mergeAll(http, authorization))
  return yield* HttpApiClient.make(Api, {
    baseUrl: target._tag === "Socket" ? "http://localhost" : target.url
  }).pipe(Effect.provideContext(services))
})

/**
 * The client as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: ConnectOptions): Layer.Layer<TaskClient> => Layer.effect(TaskClient, make(options))

/**
 * What following a task yields: its output chunks (the kept tail first when the follow starts late, after an
 * `OutputSkipped` if the tail is not everything), and last its `TaskFinished`.
 *
 * @since 0.1.0
 * @category models
 */
export type FollowEvent = FollowMessage

/**
 * A follow ended before the task did: the server dropped the client for falling too far behind (it keeps at most
 * its `followBuffer` for a client, and never slows the task), or the connection broke. The output received is
 * exact up to that point; what came after is in the task's kept tail (`client.tasks.output`).
 *
 * @since 0.1.0
 * @category errors
 */
export class FollowDropped extends Schema.TaggedError<FollowDropped>()("FollowDropped", {
  id: TaskId.TaskId
}) {
  override get message(): string {
    return `the follow of task ${this.id} ended before the task did (the server dropped a client that fell too far behind, or the connection broke)`
  }
}

/**
 * Follows a task's output until it ends, without loss (`GET /api/tasks/:id/follow`): every chunk in the order
 * the task's processes wrote it, then its `TaskFinished` (at once if the task already ended). Fails with
 * `TaskNotFound` for an unknown task, and with `FollowDropped` if the stream ends before `TaskFinished`.
 *
 * @since 0.1.0
 * @category following
 */
export const follow = (client: Client, id: TaskId.TaskId) =>
  Stream.unwrap(Effect.map(client.tasks.follow({ params: { id } }), (messages) => {
    let finished = false
    return messages.pipe(
      Stream.tap((message) =>
        Effect.sync(() => {
          if (message._tag === "TaskFinished") finished = true
        })
      ),
      Stream.concat(Stream.suspend(() => finished ? Stream.empty : Stream.fail(new FollowDropped({ id }))))
    )
  }))
