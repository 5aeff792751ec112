/**
 * Serves a running task manager over HTTP: the JSON API of `TaskApi`, its event stream as Server-Sent
 * Events, its OpenAPI document at `/api/openapi.json`, and a dashboard at `/`.
 *
 * ```ts
 * import { NodeTaskManager } from "@effect-tasks/node"
 * import { TaskServer } from "@effect-tasks/server"
 * import { Layer } from "effect"
 *
 * // Serves until the layer closes; the token guards every /api request.
 * const App = TaskServer.layer({ port: 7420, token: process.env["TASKS_TOKEN"]! }).pipe(
 *   Layer.provideMerge(NodeTaskManager.layer)
 * )
 * ```
 *
 * Safe by default: loopback only (binding elsewhere needs `allowRemote: true` and logs a warning), a
 * Unix socket is created with mode 0600, every `/api` request needs the bearer token (compared in constant
 * time, never accepted in a URL), a `Host` that is not loopback and an `Origin` that is not the server's
 * own are refused (DNS rebinding, cross-site requests), bodies are limited, and a client that stops
 * reading the event stream or a follow is dropped; neither the manager nor a task ever waits for a client.
 *
 * @since 0.1.0
 */
import { TaskManager, TrackedTask } from "@effect-tasks/core"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { HttpApiBuilder, HttpApiMiddleware } from "effect/http-api"
import type { HttpApiSchemaError } from "effect/http-api/HttpApiError"
import * as HttpRouter from "effect/http/HttpRouter"
import { HttpServerRequest } from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Layer from "effect/Layer"
import * as NetAddress from "effect/net/NetAddress"
import * as Option from "effect/Option"
import { ChildProcessSpawner } from "effect/process/ChildProcessSpawner"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as Http from "node:http"
import * as Command from "./internal/command.js"
import * as Dashboard from "./internal/dashboard.js"
import * as EventStream from "./internal/eventStream.js"
import * as FollowStream from "./internal/followStream.js"
import * as Guard from "./internal/guard.js"
import * as Security from "./internal/security.js"
import * as Stall from "./internal/stall.js"
import * as Socket from "./internal/unixSocket.js"
import {
  Api,
  Authorization,
  BadRequest,
  Forbidden,
  ManagerClosed,
  RequestErrors,
  TaskNotFound,
  Unauthorized
} from "./TaskApi.js"

/**
 * Where and how to serve.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The TCP port (default 7420; 0 picks a free one). Ignored when `socket` is given. */
  readonly port?: number | undefined
  /** A Unix socket path to serve on instead of TCP; created with mode 0600, removed on close. */
  readonly socket?: string | undefined
  /** The address to bind (default `127.0.0.1`). A non-loopback address needs `allowRemote: true`. */
  readonly host?: string | undefined
  /** The bearer token every `/api` request must carry. Use a long random one: `generateToken()`. */
  readonly token: string | Redacted.Redacted<string>
  /** Accept `POST /api/tasks`, which runs commands as tasks (default false: 403). */
  readonly allowSubmit?: boolean | undefined
  /**
   * Allow binding a non-loopback address. The server is then reachable by anyone on that network who
   * has the token, in clear text: put it behind TLS. Logs a warning.
   */
  readonly allowRemote?: boolean | undefined
  /** The largest request body accepted, in bytes (default 64 KiB); larger ones get 413. */
  readonly maxBodyBytes?: number | undefined
  /** How long an event-stream or follow client may leave its socket full before it is dropped (default 10 seconds). */
  readonly stallTimeout?: Duration.Input | undefined
  /**
   * Bytes of a task's output the server keeps for a follow client (`GET /api/tasks/:id/follow`) that reads slower
   * than the task writes (default 8 MiB). A client further behind is dropped: a remote client never slows a task.
   */
  readonly followBuffer?: number | undefined
}

/**
 * A running server: its bound address, and the string a client passes to connect (a URL, or the
 * socket's path).
 *
 * @since 0.1.0
 * @category services
 */
export class TaskServer extends Context.Service<TaskServer, {
  readonly address: NetAddress.SocketAddress
  readonly connect: string
}>()("@effect-tasks/server/TaskServer") {}

/**
 * The server could not start as asked: bad options, a non-loopback host without `allowRemote`, a socket
 * path that is in use or is not a socket.
 *
 * @since 0.1.0
 * @category errors
 */
export class TaskServerError extends Schema.TaggedError<TaskServerError>()("TaskServerError", {
  message: Schema.String
}) {}

/**
 * A fresh random token: 32 bytes from the system's CSPRNG, base64url (43 characters).
 *
 * @since 0.1.0
 * @category tokens
 */
export const generateToken: () => string = Security.generateToken

/** Paths served without a token: the dashboard asks for it in the page. */
const publicPaths = new Set(Object.keys(Dashboard.files))

const securityHeaders = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store"
}

const dashboardRoutes = HttpRouter.use((router) =>
  Effect.forEach(Object.entries(Dashboard.files), ([path, file]) =>
    router.add(
      "GET",
      path as `/${string}`,
      HttpServerResponse.text(file.body, { contentType: file.contentType, headers: securityHeaders })
    ), { discard: true })
)

const issueList = (error: HttpApiSchemaError) =>
  SchemaIssue.makeFormatterStandardSchemaV1()(error.cause.issue).issues.map((issue) => ({
    path: [
      error.kind.toLowerCase(),
      ...(issue.path ?? []).map((key) => String(typeof key === "object" ? key.key : key))
    ]
      .join("."),
    message: issue.message
  }))

const requestErrors = HttpApiMiddleware.layerSchemaErrorTransform(RequestErrors, (error) => {
  if (error.kind === "Body" || error.kind === "ResponseHeaders") return Effect.fail(error)
  const issues = issueList(error)
  const what = error.kind === "Params" ? "the task id must be a positive integer" : "the request body is invalid"
  return Effect.fail(
    new BadRequest({ message: `${what}: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, issues })
  )
})

const tokenOf = (token: string | Redacted.Redacted<string>) =>
  Redacted.isRedacted(token) ? Redacted.value(token) : token

const fail = (message: string) => Effect.fail(new TaskServerError({ message }))

const notFound = (id: number) =>
  new TaskNotFound({ id, message: `no task with id ${id} (never submitted, or dropped from the retained history)` })

const validate = (options: Options) =>
  Effect.gen(function*() {
    const token = tokenOf(options.token)
    if (typeof token !== "string" || token.length === 0) return yield* fail("a token is required")
    if (/\s/.test(token)) return yield* fail("the token must not contain whitespace")
    if (options.socket !== undefined && options.socket.length === 0) return yield* fail("the socket path is empty")
    const port = options.port ?? 7420
    if (!Number.isInteger(port) || port < 0 || port > 65535) return yield* fail(`invalid port ${options.port}`)
    const host = options.host ?? "127.0.0.1"
    const loopback = Security.isLoopbackBind(host)
    if (options.socket === undefined && !loopback && options.allowRemote !== true) {
      return yield* fail(
        `refusing to bind ${host}, which is not a loopback address: pass allowRemote: true to expose the server`
      )
    }
    const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024
    if (!Number.isInteger(maxBodyBytes) || maxBodyBytes <= 0) return yield* fail("maxBodyBytes must be positive")
    const followBuffer = options.followBuffer ?? 8 * 1024 * 1024
    if (!Number.isInteger(followBuffer) || followBuffer <= 0) return yield* fail("followBuffer must be positive")
    return { token, port, host, loopback, maxBodyBytes, followBuffer }
  })

const urlOf = (address: NetAddress.SocketAddress, host: string): string => {
  if (NetAddress.isUnixPathAddress(address)) return address.path
  const name = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host
  return `http://${name}:${address.port}`
}

/**
 * Starts serving the `TaskManager.TaskManager` in context, and stops when the scope closes (event streams end first,
 * then the server closes, before the manager's own shutdown).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fn("TaskServer.make")(function*(options: Options) {
  const config = yield* validate(options)
  const tm = yield* TaskManager.TaskManager
  const outer = yield* Effect.context<never>()
  const stallTimeout = options.stallTimeout ?? "10 seconds"
  const allowSubmit = options.allowSubmit === true

  // Built here, so the app's own spawner (the task-aware one of NodeTaskManager) wins when there is one.
  const httpServices = yield* Layer.build(NodeHttpServer.layerHttpServices)
  const spawner = Option.getOrElse(
    Context.getOption(outer, ChildProcessSpawner),
    () => Context.get(httpServices, ChildProcessSpawner)
  )
  const submitContext = Context.add(outer, ChildProcessSpawner, spawner)

  const closing = yield* Deferred.make<void>()

  const handlers = HttpApiBuilder.group(Api, "tasks", (h) =>
    h.handleAll({
      list: () => Effect.map(tm.list, (tasks) => tasks.map(TrackedTask.toJson)),
      get: ({ params }) =>
        tm.get(params.id).pipe(
          Effect.map(TrackedTask.toJson),
          Effect.catchTag("TaskNotFound", () => Effect.fail(notFound(params.id)))
        ),
      output: ({ params }) =>
        tm.output(params.id).pipe(Effect.catchTag("TaskNotFound", () => Effect.fail(notFound(params.id)))),
      revoke: ({ params, payload }) =>
        tm.revoke(params.id, { graceful: payload?.graceful ?? true }).pipe(
          Effect.map(TrackedTask.toJson),
          Effect.catchTag("TaskNotFound", () => Effect.fail(notFound(params.id)))
        ),
      revokeAll: ({ payload }) =>
        Effect.map(tm.revokeAll({ graceful: payload?.graceful ?? true }), (tasks) => tasks.map(TrackedTask.toJson)),
      follow: ({ params }) =>
        Effect.gen(function*() {
          // Known before the answer starts: an unknown id is a 404, not an empty stream.
          yield* tm.get(params.id).pipe(Effect.catchTag("TaskNotFound", () => Effect.fail(notFound(params.id))))
          const request = yield* HttpServerRequest
          const socket = Stall.socketOf(request.source)
          if (socket !== undefined) yield* Stall.dropWhenStalled(socket, stallTimeout)
          return FollowStream.response(tm, params.id, {
            maxBuffered: config.followBuffer,
            stop: Deferred.await(closing)
          })
        }),
      events: () =>
        Effect.gen(function*() {
          // Subscribed before the answer's headers go out: a client that reads the task list once the
          // stream is open misses nothing in between.
          const events = yield* tm.subscribe
          const request = yield* HttpServerRequest
          const socket = Stall.socketOf(request.source)
          if (socket !== undefined) yield* Stall.dropWhenStalled(socket, stallTimeout)
          return EventStream.response(events, Deferred.await(closing))
        }),
      submit: ({ payload }) =>
        Effect.gen(function*() {
          if (!allowSubmit) {
            return yield* new Forbidden({
              message: "submitting tasks is disabled (start the server with allowSubmit: true)"
            })
          }
          const task = yield* tm.submit(Command.run(payload), {
            name: payload.name ?? Command.displayName(payload),
            ...(payload.mode === undefined ? {} : { mode: payload.mode }),
            ...(payload.timeout === undefined ? {} : { timeout: Duration.millis(payload.timeout) })
          }).pipe(
            Effect.provideContext(submitContext),
            Effect.catchTag(
              "TaskManagerClosed",
              () => Effect.fail(new ManagerClosed({ message: "the task manager is shutting down" }))
            )
          )
          return TrackedTask.toJson(task)
        })
    }))

  const authorization = Layer.succeed(Authorization, {
    bearer: (effect, { credential }) =>
      Security.tokenMatches(digest, Redacted.value(credential))
        ? effect
        : Effect.fail(new Unauthorized({ message: "wrong token" }))
  })
  const digest = Security.digest(config.token)

  const appLayer = Layer.mergeAll(
    HttpApiBuilder.layer(Api, { openapiPath: "/api/openapi.json" }),
    dashboardRoutes
  ).pipe(
    Layer.provide(handlers),
    Layer.provide([authorization, requestErrors]),
    Layer.provide(Layer.succeedContext(httpServices))
  )
  const app = yield* HttpRouter.toHttpEffect(appLayer)

  const guard = Guard.make({
    token: digest,
    loopbackOnly: options.socket === undefined && config.loopback,
    allowSubmit,
    maxBodyBytes: config.maxBodyBytes,
    routes: [
      ...Object.values(Api.groups).flatMap((group) =>
        Object.values(group.endpoints).map((endpoint) => ({ method: endpoint.method, path: endpoint.path }))
      ),
      { method: "GET", path: "/api/openapi.json" },
      ...[...publicPaths].map((path) => ({ method: "GET", path }))
    ],
    publicPaths
  })

  if (options.socket !== undefined) yield* Socket.prepare(options.socket)
  const server = yield* NodeHttpServer.make(
    () => {
      const server = Http.createServer({ requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 })
      return options.socket === undefined ? server : Socket.privateListen(server)
    },
    {
      ...(options.socket === undefined ? { port: config.port, host: config.host } : { path: options.socket }),
      gracefulShutdownTimeout: "2 seconds"
    }
  ).pipe(Effect.mapError((error) => new TaskServerError({ message: `cannot listen: ${error.cause}` })))
  if (options.socket !== undefined) yield* Socket.restrict(options.socket)
  yield* server.serve(guard(app))
  // Runs before the server's own shutdown (finalizers run last-in, first-out): event streams end, so
  // closing does not wait for clients that would never hang up.
  yield* Effect.addFinalizer(() => Deferred.succeed(closing, undefined))

  if (options.socket === undefined && !config.loopback) {
    yield* Effect.logWarning(
      `effect-tasks server: listening on ${config.host}, which is not loopback: anyone who can reach it and has `
        + "the token controls these tasks, and the traffic is not encrypted"
    )
  }
  return { address: server.address, connect: urlOf(server.address, config.host) }
})

/**
 * Serves the `TaskManager.TaskManager` in context until the layer closes.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<TaskServer, TaskServerError, TaskManager.TaskManager> =>
  Layer.effect(TaskServer, make(options))
