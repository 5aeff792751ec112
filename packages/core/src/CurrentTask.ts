/**
 * What a running task knows about itself. `CurrentTask` is the task's id for user code;
 * `TaskContext` is the fuller view that integrations (such as `@effect-tasks/node`, which
 * registers processes and kills them) use to hook into a task's life.
 *
 * Both are provided by `TaskManager.submit`, so they never appear in a submitted effect's
 * requirements.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { ProcessInfo } from "./ProcessInfo.js"
import type { Revocation } from "./Revocation.js"
import type { TaskId } from "./TaskId.js"

/** The id of the task the current fiber runs in: `const id = yield* CurrentTask`. */
export class CurrentTask extends Context.Service<CurrentTask, TaskId>()("@effect-tasks/core/CurrentTask") {}

/** Which stream of a process a chunk of output came from. */
export type OutputStream = "stdout" | "stderr"

/**
 * A task's hooks for integrations. The `...Unsafe` members are synchronous so they can be called
 * from Node callbacks (a child's `exit` event, a pipe's `data` event) without a fiber.
 */
export interface TaskContextShape {
  readonly id: TaskId
  readonly name: string
  readonly mode: string
  /** The grace period of a graceful revoke: the task's own, else the manager's. */
  readonly grace: Duration.Duration
  /** The task's scope: it closes when the task's effect ends, before the task becomes terminal. */
  readonly scope: Scope.Scope
  /** The revocation recorded so far, if any (read it at kill time: a later revoke may upgrade it). */
  readonly revocationUnsafe: () => Revocation | undefined
  /** Completes as soon as any revoke (user, timeout or shutdown) lands on the task. */
  readonly revoked: Effect.Effect<void>
  /** Completes when the task must stop at once: a non-graceful revoke, or an upgrade to one. */
  readonly forced: Effect.Effect<void>
  /**
   * Records a process the task started and emits `ProcessStarted`. The manager stamps `startedAt` (and later
   * `endedAt`) from its Effect `Clock`, so every timestamp of a task comes from one clock.
   */
  readonly addProcessUnsafe: (process: Pick<ProcessInfo, "pid" | "command" | "args">) => void
  /** Records how a process ended and emits `ProcessExited`. */
  readonly endProcessUnsafe: (
    pid: number,
    outcome: { readonly exitCode?: number | undefined; readonly signal?: string | undefined }
  ) => void
  /** Appends a chunk of a process's output to the task's bounded tail and emits `TaskOutput`. */
  readonly outputUnsafe: (pid: number, stream: OutputStream, text: string) => void
}

/** The current task's hooks, for integrations; user code usually needs only `CurrentTask`. */
export class TaskContext extends Context.Service<TaskContext, TaskContextShape>()("@effect-tasks/core/TaskContext") {}

/**
 * Services every task's fiber gets on top of whatever its submitter provided. An integration sets it when it
 * builds the manager (`@effect-tasks/node` puts its task-aware spawner here), so what a task's code does with
 * those services belongs to the task even when the caller provided plain ones closer to the program. Code
 * that deliberately escapes a task provides its own services inside the task's effect, which wins.
 */
export const TaskServices = Context.Reference<Context.Context<never>>("@effect-tasks/core/TaskServices", {
  defaultValue: () => Context.empty()
})
