/**
 * The cluster's task operations, from any process that can reach its database: submit a job, and `get`,
 * `await`, `join`, `revoke`, `revokeAll`, `active`, `list`, `events`, `output` and `shutdown` with core's
 * shapes and semantics. Records and events are rows of the cluster's own tables, so `get` and `list` are one
 * query, and every process reads the events in one order; waits wake within milliseconds of the commit that
 * ends them (the change feed), not at the next poll.
 *
 * ```ts
 * import { ClusterTasks, CommandJob } from "@effect-tasks/cluster"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const tasks = yield* ClusterTasks.ClusterTasks
 *   const build = yield* tasks.submit(CommandJob.Command, { shell: "make -j4" }, { name: "build" })
 *   const done = yield* tasks.await(build.id)
 *   console.log(done.state, done.runner, done.attempt)
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(ClusterTasks.layer({ db: "sqlite:/var/lib/tasks/cluster.db" }))))
 * ```
 *
 * @since 0.1.0
 */
import { TaskErrors, TaskId, TaskManager } from "@effect-tasks/core"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type {
  IdempotencyConflict,
  InvalidDatabaseUrl,
  InvalidSubmit,
  RunnerLost,
  StorageError
} from "./ClusterError.js"
import type { ClusterEvent } from "./ClusterEvent.js"
import type { ClusterTask } from "./ClusterTask.js"
import * as Client from "./internal/client.js"
import type * as Job from "./Job.js"

/**
 * Options of a submit.
 *
 * @since 0.1.0
 * @category models
 */
export interface SubmitOptions {
  /** A name for tables and logs; defaults to `task-<id>`. */
  readonly name?: string | undefined
  /**
   * Opt in to running again when the runner dies (for idempotent work): up to `maxAttempts` attempts in all.
   * Without it a task runs at most once, and a lost runner fails it with `RunnerLost`.
   */
  readonly retry?: { readonly maxAttempts: number } | undefined
  /** A submit with a key that already names a task returns that task instead of adding one. */
  readonly idempotencyKey?: string | undefined
  /** Revoke the task gracefully (reason `"timeout"`) once an attempt has run this long. */
  readonly timeout?: Duration.Input | undefined
  /** The grace period of a graceful revoke (SIGTERM to SIGKILL); default the runner's. */
  readonly grace?: Duration.Input | undefined
}

/**
 * The kept tail of a task's output, per stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface TaskOutputTail {
  readonly stdout: string
  readonly stderr: string
  readonly droppedStdout: number
  readonly droppedStderr: number
}

/**
 * The operations of a cluster client. Every one is an Effect; a database failure is a `StorageError`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClusterTasksShape {
  /**
   * Adds a task running `job` with `payload`, QUEUED until a runner starts it (within milliseconds when a runner
   * is up). Returns the new record, or the existing one for a repeated idempotency key.
   */
  readonly submit: <J extends Job.Any>(
    job: J,
    payload: Job.Payload<J>,
    options?: SubmitOptions
  ) => Effect.Effect<
    ClusterTask<Job.Success<J>, Job.Error<J>>,
    TaskErrors.TaskManagerClosed | InvalidSubmit | IdempotencyConflict | StorageError
  >
  /** The current record of a task. */
  readonly get: (id: TaskId.TaskId) => Effect.Effect<ClusterTask, TaskErrors.TaskNotFound | StorageError>
  /** Waits until the task is terminal and returns its final record. */
  readonly await: (id: TaskId.TaskId) => Effect.Effect<ClusterTask, TaskErrors.TaskNotFound | StorageError>
  /**
   * Waits for a task and gives its typed result, decoded with the job's schemas: the job's error, `TaskErrors.TaskRevoked`,
   * or `RunnerLost` (a defect in the job is a defect here too).
   */
  readonly join: <J extends Job.Any>(
    job: J,
    task: { readonly id: TaskId.TaskId }
  ) => Effect.Effect<
    Job.Success<J>,
    Job.Error<J> | TaskErrors.TaskRevoked | RunnerLost | TaskErrors.TaskNotFound | StorageError
  >
  /** Submits and joins; interrupting the caller revokes the task (and waits until it has stopped). */
  readonly run: <J extends Job.Any>(
    job: J,
    payload: Job.Payload<J>,
    options?: SubmitOptions
  ) => Effect.Effect<
    Job.Success<J>,
    | Job.Error<J>
    | TaskErrors.TaskRevoked
    | RunnerLost
    | TaskErrors.TaskManagerClosed
    | InvalidSubmit
    | IdempotencyConflict
    | TaskErrors.TaskNotFound
    | StorageError
  >
  /**
   * Revokes a task, wherever it runs, and waits until it is terminal. A QUEUED task is REVOKED without
   * starting; a terminal task is returned unchanged; a non-graceful revoke upgrades a graceful one under way.
   */
  readonly revoke: (
    id: TaskId.TaskId,
    options?: TaskManager.RevokeOptions
  ) => Effect.Effect<ClusterTask, TaskErrors.TaskNotFound | StorageError>
  /** Revokes every non-terminal task of the cluster and returns their terminal records. */
  readonly revokeAll: (options?: TaskManager.RevokeOptions) => Effect.Effect<ReadonlyArray<ClusterTask>, StorageError>
  /** QUEUED and RUNNING tasks, ascending id. */
  readonly active: Effect.Effect<ReadonlyArray<ClusterTask>, StorageError>
  /** Every retained task, ascending id. */
  readonly list: Effect.Effect<ReadonlyArray<ClusterTask>, StorageError>
  /** The stream of cluster events committed from the moment it is run. */
  readonly events: Stream.Stream<ClusterEvent, StorageError>
  /** Subscribes now and returns the stream of every event committed from here on, for the scope's life. */
  readonly subscribe: Effect.Effect<Stream.Stream<ClusterEvent>, StorageError, Scope.Scope>
  /** The kept tail of a task's process output (saved by its runner as it goes). */
  readonly output: (id: TaskId.TaskId) => Effect.Effect<TaskOutputTail, TaskErrors.TaskNotFound | StorageError>
  /**
   * Stops this process taking part. A client stops accepting submits; a runner also drains: it takes no new
   * tasks, lets its running ones finish within its drain time, then settles the rest by their delivery policy.
   * Tasks elsewhere in the cluster are not touched (`revokeAll` stops everything). Idempotent.
   */
  readonly shutdown: Effect.Effect<void>
}

/**
 * The cluster client service.
 *
 * @since 0.1.0
 * @category services
 */
export class ClusterTasks extends Context.Service<ClusterTasks, ClusterTasksShape>()(
  "@effect-tasks/cluster/ClusterTasks"
) {}

/**
 * Settings of a client.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientConfig {
  /** `sqlite:<path>` (one machine) or `postgres://...` (several). */
  readonly db: string
  /** Events kept per subscriber before it starts dropping (and counting) them. Default 4096. */
  readonly eventBuffer?: number | undefined
}

/**
 * A client of the cluster whose database is at `config.db`. Closing the layer detaches this process; the
 * tasks it submitted go on.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (config: ClientConfig): Layer.Layer<ClusterTasks, InvalidDatabaseUrl | StorageError> =>
  Layer.effect(ClusterTasks, Client.make({ eventBuffer: config.eventBuffer })).pipe(
    Layer.provide(Client.databaseLayer(config.db))
  )
