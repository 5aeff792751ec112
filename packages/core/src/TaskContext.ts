/**
 * The hooks integrations use to plug into a task's life. `TaskContext` is the current task's
 * fuller view (its scope, its revocation, the processes it started): `@effect-tasks/node`
 * registers processes through it and kills them the way the revocation says. `TaskServices`
 * gives every task's fiber services of the integration's choosing. User code usually needs
 * neither: `CurrentTask` gives a task its id.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { ProcessInfo, StoppedProcess } from "./ProcessInfo.js"
import type { Revocation } from "./Revocation.js"
import type { TaskId } from "./TaskId.js"

/**
 * Which stream of a process a chunk of output came from.
 *
 * @since 0.1.0
 * @category models
 */
export type OutputStream = "stdout" | "stderr"

/**
 * A task's hooks for integrations. The `...Unsafe` members are synchronous so they can be called
 * from Node callbacks (a child's `exit` event, a pipe's `data` event) without a fiber; calls made
 * after the task is terminal are ignored.
 *
 * @since 0.1.0
 * @category models
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
  /**
   * Completes as soon as any revoke (user, timeout or shutdown) lands on the task, including one that
   * lands after the task's body has completed, while its scope closes: such a revoke no longer changes the
   * task's outcome, but it still hurries the cleanup.
   */
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
  /**
   * Records on process `pid` what killing its tree did: the other processes it stopped and whether it escalated
   * to SIGKILL (added to what earlier kills of the same tree recorded), and emits `ProcessesStopped`.
   */
  readonly processesStoppedUnsafe: (
    pid: number,
    report: { readonly stopped: ReadonlyArray<StoppedProcess>; readonly escalated: boolean }
  ) => void
  /**
   * Takes a chunk of a process's output: appends it to the task's bounded tail, emits `TaskOutput`, and hands
   * it to the task's followers (`TaskManager.follow`). Returns `undefined` when the writer may go on at once,
   * else an effect that completes once every follower has room again: a pump awaits it before it reads more
   * of the pipe, so a slow follower slows the process as a full pipe would. The chunk is taken either way.
   */
  readonly outputUnsafe: (pid: number, stream: OutputStream, text: string) => Effect.Effect<void> | undefined
}

/**
 * The current task's hooks, for integrations; provided by `TaskManager.submit` like `CurrentTask`.
 *
 * @since 0.1.0
 * @category services
 */
export class TaskContext extends Context.Service<TaskContext, TaskContextShape>()("@effect-tasks/core/TaskContext") {}

/**
 * Services every task's fiber gets on top of whatever its submitter provided, set when the manager is
 * built. An integration puts its task-aware services here (`@effect-tasks/node` puts its spawner and
 * process observer), so what a task's code does with those services belongs to the task even when the
 * caller provided plain ones closer to the program. Code that deliberately escapes its task provides its
 * own service inside the task's effect (`Effect.provideService(spawn, ChildProcessSpawner, plain)`), which
 * wins over both.
 *
 * ```ts
 * import { TaskContext, TaskManager } from "@effect-tasks/core"
 * import { Context, Effect, Layer } from "effect"
 *
 * class Greeter extends Context.Service<Greeter, { readonly greet: (name: string) => string }>()("app/Greeter") {}
 *
 * // Every task of this manager gets the loud greeter, whatever its submitter provides.
 * const layer = TaskManager.layer.pipe(
 *   Layer.provide(Layer.succeed(TaskContext.TaskServices, Context.make(Greeter, { greet: (n) => `HELLO ${n}` })))
 * )
 *
 * const program = Effect.gen(function*() {
 *   const tm = yield* TaskManager.TaskManager
 *   return yield* tm.run(Greeter.use((g) => Effect.succeed(g.greet("ada"))))
 * }).pipe(Effect.provide(layer), Effect.provideService(Greeter, { greet: (n) => `hi ${n}` }))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export const TaskServices = Context.Reference<Context.Context<never>>("@effect-tasks/core/TaskServices", {
  defaultValue: () => Context.empty()
})
