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
import { TaskEvent, TaskId, TaskState } from "@effect-tasks/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { HttpApiClient, HttpApiMiddleware } from "effect/http-api"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Api, Authorization } from "./TaskApi.js"

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
 * The derived client: `client.tasks.list()`, `get`, `output`, `revoke`, `revokeAll`, `events`, `submit`.
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
 * What following a task yields: its output chunks (the kept tail first, then live), a notice when events
 * were dropped on the way, and last its `TaskFinished`.
 *
 * @since 0.1.0
 * @category models
 */
export type FollowEvent = Extract<
  TaskEvent.TaskEvent,
  { readonly _tag: "TaskOutput" | "EventsDropped" | "TaskFinished" }
>

type EventOf<Tag extends FollowEvent["_tag"]> = Extract<FollowEvent, { readonly _tag: Tag }>

/**
 * Follows a task's output until it ends: the kept tail, then every chunk published after, then its
 * `TaskFinished` (at once if the task already ended).
 *
 * Built on the event stream, so it is lossy: a client that falls behind, or a flood of output, gets an
 * `EventsDropped` instead of the missing chunks, and a chunk written while the stream opens may show
 * twice (once in the tail, once live). It moves to a lossless follow of the manager once core has one.
 *
 * @since 0.1.0
 * @category following
 */
export const follow = (client: Client, id: TaskId.TaskId) =>
  Stream.unwrap(Effect.gen(function*() {
    // Open the stream before reading the tail, so nothing published in between is missed.
    const events = yield* client.tasks.events()
    const tail = yield* client.tasks.output({ params: { id } })
    const record = yield* client.tasks.get({ params: { id } })
    const chunk = (stream: "stdout" | "stderr", text: string): ReadonlyArray<EventOf<"TaskOutput">> =>
      text.length === 0 ? [] : [{ _tag: "TaskOutput", id, pid: record.processes[0]?.pid ?? 0, stream, text }]
    const head = Stream.fromIterable<FollowEvent>([...chunk("stdout", tail.stdout), ...chunk("stderr", tail.stderr)])
    if (TaskState.isTerminal(record.state)) {
      const finished: EventOf<"TaskFinished"> = {
        _tag: "TaskFinished",
        id,
        state: record.state,
        at: record.finishedAt ?? 0,
        ...(record.revocation === undefined ? {} : { revocation: record.revocation }),
        ...(record.error === undefined ? {} : { error: record.error })
      }
      return Stream.concat(head, Stream.succeed(finished))
    }
    const live = events.pipe(
      Stream.filter((event): event is FollowEvent =>
        event._tag === "EventsDropped"
        || ((event._tag === "TaskOutput" || event._tag === "TaskFinished") && event.id === id)
      ),
      Stream.takeUntil((event) => event._tag === "TaskFinished")
    )
    return Stream.concat(head, live)
  }))
