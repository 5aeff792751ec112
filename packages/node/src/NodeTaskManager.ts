/**
 * The task manager for Node: core's `TaskManager`, plus a `ChildProcessSpawner` (and the `FileSystem` and
 * `Path` it needs) under which every process a task starts belongs to the task and never outlives it.
 *
 * ```ts
 * import { TaskManager } from "@effect-tasks/core"
 * import { NodeTaskManager } from "@effect-tasks/node"
 * import { Effect } from "effect"
 * import { ChildProcess } from "effect/process"
 *
 * const program = Effect.gen(function*() {
 *   const tm = yield* TaskManager.TaskManager
 *   const task = yield* tm.submit(Effect.scoped(Effect.flatMap(ChildProcess.make("make", ["build"]), (h) => h.exitCode)))
 *   yield* tm.revoke(task.id) // SIGTERM to make and everything it started, SIGKILL after the grace period
 * })
 * Effect.runPromise(program.pipe(Effect.provide(NodeTaskManager.layer)))
 * ```
 *
 * Ownership does not depend on the caller's layers: the manager gives every task's fiber its task-aware
 * spawner on top of whatever the submitter provided, so a plain `NodeServices.layer` provided closer to the
 * program still spawns owned processes inside tasks. Resolve the spawner inside the task (`ChildProcess.make`,
 * `ChildProcessSpawner.use`, `yield* ChildProcessSpawner` in the submitted effect): a spawner object resolved
 * outside and captured in a closure is whatever the submitter had. Code that deliberately escapes a task, a
 * process meant to outlive it, provides a spawner of its own inside the task's effect, which wins:
 *
 * ```ts
 * import { TaskManager } from "@effect-tasks/core"
 * import { NodeTaskManager } from "@effect-tasks/node"
 * import * as NodeServices from "@effect/platform-node/NodeServices"
 * import { Effect } from "effect"
 * import { ChildProcess } from "effect/process"
 *
 * const detached = Effect.gen(function*() {
 *   const handle = yield* ChildProcess.make("my-daemon", { detached: true })
 *   yield* handle.unref
 * }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)) // not the task's: the daemon outlives the task
 *
 * const program = Effect.gen(function*() {
 *   const tm = yield* TaskManager.TaskManager
 *   yield* tm.run(detached)
 * })
 * Effect.runPromise(program.pipe(Effect.provide(NodeTaskManager.layer)))
 * ```
 *
 * @since 0.1.0
 */
import { TaskContext, TaskManager } from "@effect-tasks/core"
import * as NodeChildProcessSpawner from "@effect/platform-node/NodeChildProcessSpawner"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type { FileSystem } from "effect/FileSystem"
import * as Layer from "effect/Layer"
import type { Path } from "effect/Path"
import { ChildProcessSpawner } from "effect/process/ChildProcessSpawner"
import type * as Containment from "./Containment.js"
import * as Guardian from "./Guardian.js"
import { CurrentContainment } from "./internal/Contained.js"
import * as ContainmentLayer from "./internal/ContainmentLayer.js"
import * as TaskProcesses from "./internal/TaskProcesses.js"
import * as TaskSpawner from "./internal/TaskSpawner.js"
import type { ProcessIdentity } from "./ProcessIdentity.js"

/**
 * Core's settings (`grace`, `outputTail`, `retain`, `concurrency`, ...) plus the process settings.
 *
 * @since 0.1.0
 * @category configuration
 */
export interface NodeTaskManagerConfig extends TaskManager.TaskManagerConfig, TaskSpawner.TaskSpawnerConfig {
  /**
   * Start a guardian process that kills what the tasks still own if this process dies without shutting the
   * manager down (SIGKILL, OOM, crash, `process.exit`). Default `true`: orphan-proof unless asked otherwise
   * (one small helper process per manager, told about processes with a pipe write). See `Guardian`.
   */
  readonly guardian?: boolean | undefined
  /**
   * Record the identities of live task processes in `stateDirectory`, and kill the leftovers of dead
   * instances when the manager starts. Default: same as `guardian`. See `Journal`.
   */
  readonly journal?: boolean | undefined
  /** Where journals live. Default `$XDG_STATE_HOME/effect-tasks`, else `~/.local/state/effect-tasks`. */
  readonly stateDirectory?: string | undefined
  /**
   * How tasks' processes are contained (see `Containment`): `"auto"` (default) uses cgroups where this process
   * may create them and `/proc` elsewhere; `"cgroup"` fails the layer with `ContainmentUnavailable` where it
   * cannot; `"proc"` never uses cgroups.
   */
  readonly containment?: Containment.Mode | undefined
  /** Where the manager makes its cgroup (a cgroup v2 directory). Default: the cgroup this process runs in. */
  readonly cgroupRoot?: string | undefined
  /** Limits of every task (needs cgroup containment; a task can ask for others with `Containment.withLimits`). */
  readonly limits?: Containment.Limits | undefined
}

/**
 * What the Node layer provides.
 *
 * @since 0.1.0
 * @category models
 */
export type NodeTaskManagerServices = TaskManager.TaskManager | ChildProcessSpawner | FileSystem | Path

/**
 * What building a manager can fail with: containment that was asked for (`containment: "cgroup"`, or limits) and
 * cannot be had, and invalid limits.
 *
 * @since 0.1.0
 * @category errors
 */
export type NodeTaskManagerError = Containment.ContainmentUnavailable | Containment.InvalidLimits

/**
 * The type of `layerWith`: a manager whose config can only fall back to `/proc` cannot fail; one that asks for
 * cgroups (`containment: "cgroup"`) or limits can.
 *
 * @since 0.1.0
 * @category models
 */
export interface LayerWith {
  (
    config?: NodeTaskManagerConfig & {
      readonly containment?: "auto" | "proc" | undefined
      readonly limits?: undefined
    }
  ): Layer.Layer<NodeTaskManagerServices>
  (config: NodeTaskManagerConfig): Layer.Layer<NodeTaskManagerServices, NodeTaskManagerError>
}

/**
 * A Node task manager with the given settings; closing the layer shuts it down (and kills what tasks started).
 * The guardian and the journal are on unless `guardian: false`; containment is `"auto"` unless chosen.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith: LayerWith = ((
  config: NodeTaskManagerConfig = {}
): Layer.Layer<NodeTaskManagerServices, NodeTaskManagerError> => {
  const platform = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer)
  const spawner = TaskSpawner.layer(config).pipe(
    Layer.provide(NodeChildProcessSpawner.layer),
    Layer.provide(platform)
  )
  // The task-aware spawner and the guardian's observer reach every task's fiber over whatever the submitter
  // provided, so a caller's own `NodeServices.layer` closer to the program cannot take ownership away.
  const taskServices = Layer.effect(
    TaskContext.TaskServices,
    Effect.gen(function*() {
      const observer = yield* TaskProcesses.ProcessObserver
      return Context.make(ChildProcessSpawner, yield* ChildProcessSpawner).pipe(
        Context.add(TaskProcesses.ProcessObserver, observer),
        Context.add(CurrentContainment, yield* CurrentContainment)
      ) as Context.Context<never>
    })
  ).pipe(Layer.provide(spawner))
  // Built before the manager and released after it: the manager's cgroup outlives every task's.
  const guardian = config.guardian ?? true
  const journal = config.journal ?? guardian
  const manager = Layer.mergeAll(TaskManager.layerWith(config).pipe(Layer.provide(taskServices)), spawner, platform)
    .pipe(Layer.provide(ContainmentLayer.layer({ ...config, journaled: journal })))
  if (!guardian && !journal) return manager
  // Built before the manager and released after it: the guardian outlives the manager's own shutdown.
  return manager.pipe(Layer.provideMerge(Guardian.layer({ ...config, guardian, journal })))
}) as LayerWith

/**
 * A Node task manager with default settings: grace 5 s, 64 KiB output tail per stream, 1000 finished tasks kept,
 * a guardian and a journal in the default state directory.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<NodeTaskManagerServices> = layerWith()

/**
 * Attaches a process started some other way (by pid) to the current task, so that it dies with the task: it is
 * recorded on the task and killed, with its group, session and subtree, when the task ends. Fails with
 * `ProcessNotFound` if no live process has that pid.
 *
 * @since 0.1.0
 * @category processes
 */
export const attach: (pid: number) => Effect.Effect<ProcessIdentity, ProcessNotFound, TaskContext.TaskContext> =
  TaskProcesses.attach

/**
 * No live process has this pid (it never existed, or it has already exited).
 *
 * @since 0.1.0
 * @category errors
 */
export const ProcessNotFound = TaskProcesses.ProcessNotFound

/**
 * The error type of `attach` (see the `ProcessNotFound` constructor).
 *
 * @since 0.1.0
 * @category errors
 */
export type ProcessNotFound = TaskProcesses.ProcessNotFound
