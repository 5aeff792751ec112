/**
 * The HTTP API of a task manager, defined once with Effect's `HttpApi`: the server implements it
 * (`TaskServer`), the typed client is derived from it (`TaskClient`), and its OpenAPI document is
 * served at `/api/openapi.json`. Records are core's JSON form of a task (`TrackedTask.toJson`).
 *
 * Every error is a JSON object with a `_tag` and a human `message`, whatever its status.
 *
 * @since 0.1.0
 */
import { OutputChunk, TaskEvent, TaskId, TrackedTask } from "@effect-tasks/core"
import {
  HttpApi,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  HttpApiSecurity,
  OpenApi
} from "effect/http-api"
import * as Schema from "effect/Schema"

/**
 * A task record on the wire: core's JSON form (`TrackedTask.toJson`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const TaskRecord = TrackedTask.TrackedTaskJson

/**
 * A task record on the wire.
 *
 * @since 0.1.0
 * @category models
 */
export type TaskRecord = TrackedTask.TrackedTaskJson

/**
 * The kept tail of a task's output, per stream, with how many characters were dropped before it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const OutputTail = Schema.Struct({
  stdout: Schema.String,
  stderr: Schema.String,
  droppedStdout: Schema.Number,
  droppedStderr: Schema.Number
})

/**
 * One message of `GET /api/tasks/:id/follow`: a chunk of the task's output (`TaskOutput`), the `OutputSkipped`
 * a late follower starts with when the kept tail no longer holds everything, and last the task's
 * `TaskFinished`. A stream that ends without `TaskFinished` was cut short: the server dropped a client that
 * fell too far behind, or the connection broke.
 *
 * @since 0.1.0
 * @category schemas
 */
export const FollowMessage = Schema.Union([TaskEvent.TaskOutput, OutputChunk.OutputSkipped, TaskEvent.TaskFinished])

/**
 * One message of a follow.
 *
 * @since 0.1.0
 * @category models
 */
export type FollowMessage = typeof FollowMessage.Type

/**
 * The body of a revoke: graceful (the default: SIGTERM, the grace period, SIGKILL) or not (SIGKILL at once).
 *
 * @since 0.1.0
 * @category schemas
 */
export const RevokeRequest = Schema.Struct({
  graceful: Schema.optionalKey(Schema.Boolean)
})

const NonEmpty = Schema.String.check(Schema.isMinLength(1))

/**
 * The body of a submit. Without `args`, `command` is a shell command line run with `sh -c`; with `args`
 * (even `[]`), `command` is the program itself, run without a shell. `timeout` is in milliseconds.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SubmitRequest = Schema.Struct({
  command: NonEmpty,
  args: Schema.optionalKey(Schema.Array(Schema.String)),
  name: Schema.optionalKey(NonEmpty),
  mode: Schema.optionalKey(NonEmpty),
  timeout: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThan(0)))
})

/**
 * The body of a submit.
 *
 * @since 0.1.0
 * @category models
 */
export type SubmitRequest = typeof SubmitRequest.Type

/**
 * No task has this id: it was never submitted, or retention dropped it.
 *
 * @since 0.1.0
 * @category errors
 */
export class TaskNotFound extends Schema.TaggedError<TaskNotFound>()("TaskNotFound", {
  id: Schema.Number,
  message: Schema.String
}, { httpApiStatus: 404 }) {}

/**
 * The request is malformed: bad JSON, a field of the wrong type, an unknown field, an id that is not a
 * positive integer. `issues` says where.
 *
 * @since 0.1.0
 * @category errors
 */
export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", {
  message: Schema.String,
  issues: Schema.optionalKey(Schema.Array(Schema.Struct({ path: Schema.String, message: Schema.String })))
}, { httpApiStatus: 400 }) {}

/**
 * The bearer token is missing or wrong.
 *
 * @since 0.1.0
 * @category errors
 */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", {
  message: Schema.String
}, { httpApiStatus: 401 }) {}

/**
 * The request is refused whatever its token: submitting without `allowSubmit`, a `Host` that is not
 * loopback on a loopback server, an `Origin` that is not the server's own.
 *
 * @since 0.1.0
 * @category errors
 */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", {
  message: Schema.String
}, { httpApiStatus: 403 }) {}

/**
 * The manager is shutting down and accepts no new tasks.
 *
 * @since 0.1.0
 * @category errors
 */
export class ManagerClosed extends Schema.TaggedError<ManagerClosed>()("ManagerClosed", {
  message: Schema.String
}, { httpApiStatus: 503 }) {}

/**
 * Decodes the bearer token of every `/api` request. The server compares it in constant time; the
 * client adds it to every request (`HttpApiMiddleware.layerClient`).
 *
 * @since 0.1.0
 * @category middleware
 */
export class Authorization extends HttpApiMiddleware.Service<Authorization>()(
  "@effect-tasks/server/TaskApi/Authorization",
  {
    requiredForClient: true,
    security: { bearer: HttpApiSecurity.bearer },
    error: Unauthorized
  }
) {}

/**
 * Turns a request that fails decoding (path, body) into a `BadRequest` that says what was wrong.
 *
 * @since 0.1.0
 * @category middleware
 */
export class RequestErrors extends HttpApiMiddleware.Service<RequestErrors>()(
  "@effect-tasks/server/TaskApi/RequestErrors",
  { error: BadRequest }
) {}

const params = { id: TaskId.TaskId }

/**
 * The endpoints, under `/api`.
 *
 * @since 0.1.0
 * @category api
 */
export class TasksGroup extends HttpApiGroup.make("tasks")
  .add(
    HttpApiEndpoint.get("list", "/tasks", {
      success: Schema.Array(TaskRecord)
    }).annotate(OpenApi.Description, "Every retained task, ascending id"),
    HttpApiEndpoint.get("get", "/tasks/:id", {
      params,
      success: TaskRecord,
      error: TaskNotFound
    }).annotate(OpenApi.Description, "One task"),
    HttpApiEndpoint.get("output", "/tasks/:id/output", {
      params,
      success: OutputTail,
      error: TaskNotFound
    }).annotate(OpenApi.Description, "The kept tail of a task's output"),
    HttpApiEndpoint.get("follow", "/tasks/:id/follow", {
      params,
      success: HttpApiSchema.StreamSse({ data: FollowMessage }),
      error: TaskNotFound
    }).annotate(
      OpenApi.Description,
      "A task's output without loss, as Server-Sent Events: the kept tail (after an OutputSkipped if it is not "
        + "everything), then every chunk until the task ends, then its TaskFinished. A client that falls more than "
        + "the server's follow buffer behind is dropped (the stream ends without TaskFinished); it never slows the task"
    ),
    HttpApiEndpoint.post("revoke", "/tasks/:id/revoke", {
      params,
      payload: [RevokeRequest, Schema.Null],
      success: TaskRecord,
      error: TaskNotFound
    }).annotate(OpenApi.Description, "Revokes a task and answers with its terminal record once it has stopped"),
    HttpApiEndpoint.post("revokeAll", "/revoke-all", {
      payload: [RevokeRequest, Schema.Null],
      success: Schema.Array(TaskRecord)
    }).annotate(OpenApi.Description, "Revokes every active task and answers with their terminal records"),
    HttpApiEndpoint.get("events", "/events", {
      success: HttpApiSchema.StreamSse({ data: TaskEvent.TaskEvent })
    }).annotate(
      OpenApi.Description,
      "Task events as Server-Sent Events, one JSON TaskEvent per message; EventsDropped reports a gap"
    ),
    HttpApiEndpoint.post("submit", "/tasks", {
      payload: SubmitRequest,
      success: TaskRecord.pipe(HttpApiSchema.status(201)),
      error: [Forbidden, ManagerClosed]
    }).annotate(OpenApi.Description, "Runs a command as a task (only on a server started with allowSubmit)")
  )
  .middleware(RequestErrors)
  .middleware(Authorization)
{}

/**
 * The API of a task manager.
 *
 * @since 0.1.0
 * @category api
 */
export class Api extends HttpApi.make("effect-tasks")
  .add(TasksGroup)
  .prefix("/api")
  .annotate(HttpApi.PayloadParseOptions, { onExcessProperty: "error" })
  .annotateMerge(OpenApi.annotations({
    title: "effect-tasks",
    description: "Watch and control the tasks of a running task manager"
  }))
{}
