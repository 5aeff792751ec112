/**
 * How a manager contains the processes of its tasks.
 *
 * - `"cgroup"`: every spawn enters a cgroup of its task before it runs anything (cgroup v2, Linux 5.14+, and
 *   the right to create cgroups: root, or a delegated subtree such as `systemd-run --user --scope -p
 *   Delegate=yes`). No descendant can leave it without privileges, `cgroup.kill` kills it at once however fast
 *   it forks, and `populated 0` proves it empty. A task may be given limits (`withLimits`).
 * - `"proc"`: the process group, session, parent tree and environment cookie, read from `/proc` (or `ps`); works
 *   everywhere, but a process that clears its environment and leaves all three escapes.
 * - `"auto"` (the default): cgroups where available, else `/proc`; the choice is logged once at debug level.
 *
 * ```ts
 * import { TaskManager } from "@effect-tasks/core"
 * import { Containment, NodeTaskManager } from "@effect-tasks/node"
 * import { Effect } from "effect"
 * import { ChildProcess } from "effect/process"
 * import { ChildProcessSpawner } from "effect/process/ChildProcessSpawner"
 *
 * const build = Effect.flatMap(ChildProcessSpawner, (spawner) => spawner.exitCode(ChildProcess.make("make")))
 * const program = Effect.gen(function*() {
 *   const tm = yield* TaskManager.TaskManager
 *   // At most 200 processes and 1 GiB for everything `make` starts.
 *   yield* tm.submit(build.pipe(Containment.withLimits({ pids: 200, memory: 2 ** 30 })))
 * })
 * program.pipe(Effect.provide(NodeTaskManager.layerWith({ containment: "cgroup" })), Effect.runPromise)
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Cgroup from "./internal/Cgroup.js"
import { CurrentContainment, invalidReason, TaskLimits } from "./internal/Contained.js"

/**
 * `"auto"` | `"cgroup"` | `"proc"`, see the module.
 *
 * @since 0.1.0
 * @category models
 */
export type Mode = "auto" | "cgroup" | "proc"

/**
 * Limits of everything one task starts, together: `pids`, the most processes (and threads) alive at once (a
 * fork beyond it fails: a fork bomb stops there); `memory`, in bytes (beyond it the kernel reclaims, then kills a
 * process of the task). Through the v2 hierarchy where it offers the controller, else through the controller's
 * v1 hierarchy (hybrid layouts).
 *
 * @since 0.1.0
 * @category models
 */
export interface Limits {
  readonly pids?: number | undefined
  readonly memory?: number | undefined
}

/**
 * Containment was asked for (`containment: "cgroup"`, or limits) and this machine, or this process, cannot
 * provide it; `reason` says why.
 *
 * @since 0.1.0
 * @category errors
 */
export class ContainmentUnavailable extends Schema.TaggedError<ContainmentUnavailable>()("ContainmentUnavailable", {
  reason: Schema.String
}) {
  override get message(): string {
    return `cgroup containment unavailable: ${this.reason}`
  }
}

/**
 * Limits that are not positive whole numbers.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidLimits extends Schema.TaggedError<InvalidLimits>()("InvalidLimits", {
  reason: Schema.String
}) {
  override get message(): string {
    return `invalid limits: ${this.reason}`
  }
}

/**
 * Runs a task's effect with `limits` on everything the task starts (read when it starts its first process). Fails
 * with `InvalidLimits` for limits that are not positive whole numbers, and with `ContainmentUnavailable` when the
 * manager does not contain tasks in cgroups or cannot offer a controller the limits need.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withLimits = (limits: Limits) =>
<A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | ContainmentUnavailable | InvalidLimits, R> =>
  Effect.gen(function*() {
    const invalid = invalidReason(limits)
    if (invalid !== undefined) return yield* new InvalidLimits({ reason: invalid })
    const containment = yield* CurrentContainment
    if (containment === undefined) {
      return yield* new ContainmentUnavailable({ reason: "limits need cgroup containment; this manager uses /proc" })
    }
    for (const controller of Cgroup.controllersOf(limits)) {
      const reason = Cgroup.enableController(containment.manager, controller)
      if (reason !== undefined) return yield* new ContainmentUnavailable({ reason })
    }
    return yield* Effect.provideService(effect, TaskLimits, limits)
  })
