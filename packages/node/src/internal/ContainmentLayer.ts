/**
 * Building a manager's containment: detection, the manager's cgroup (told to the guardian and the journal), the
 * controllers of its default limits, and, when the manager is released, a last kill of whatever is left in its
 * cgroup and the removal of every directory it made.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { ContainmentUnavailable, InvalidLimits, type Limits, type Mode } from "../Containment.js"
import * as Cgroup from "./Cgroup.js"
import * as CgroupTreeKill from "./CgroupTreeKill.js"
import { type Containment, CurrentContainment, invalidReason } from "./Contained.js"
import { ProcessObserver } from "./TaskProcesses.js"

/**
 * The settings that choose the containment: `containment` (default `"auto"`), `cgroupRoot` (where manager
 * cgroups are made; default the cgroup this process runs in) and the default `limits` of every task.
 *
 * @since 0.1.0
 */
export interface ContainmentConfig {
  readonly containment?: Mode | undefined
  readonly cgroupRoot?: string | undefined
  readonly limits?: Limits | undefined
  /** A journal records the manager's cgroups: its own reap cleans them, so no other reap takes them for orphans. */
  readonly journaled?: boolean | undefined
}

const release = (manager: Cgroup.ManagerCgroup) =>
  Effect.gen(function*() {
    const observer = yield* ProcessObserver
    // Every task removed its own cgroup when it ended; what is left here escaped no one but is killed anyway.
    yield* CgroupTreeKill.killTrees([{ roots: [], cookie: undefined, minStartTime: 0, cgroup: manager }], {
      graceful: false,
      grace: 0
    })
    for (const dir of [manager.dir, ...manager.v1.values()]) {
      if (Cgroup.removeTree(dir)) observer.cgroupRemoved?.(dir)
    }
  })

/**
 * Provides `CurrentContainment`: undefined in `/proc` mode, else the manager's cgroup. Fails with
 * `ContainmentUnavailable` when `"cgroup"` (or limits) were asked for and cannot be had, with `InvalidLimits` for
 * limits that are not positive whole numbers.
 *
 * @since 0.1.0
 */
export const layer = (config: ContainmentConfig): Layer.Layer<never, ContainmentUnavailable | InvalidLimits> =>
  Layer.effect(
    CurrentContainment,
    Effect.gen(function*() {
      const mode = config.containment ?? "auto"
      const limits = config.limits
      if (limits !== undefined) {
        const invalid = invalidReason(limits)
        if (invalid !== undefined) return yield* new InvalidLimits({ reason: invalid })
      }
      const required = mode === "cgroup" || (limits !== undefined && Cgroup.controllersOf(limits).length > 0)
      const unavailable = (reason: string) =>
        required
          ? Effect.fail(new ContainmentUnavailable({ reason }))
          : Effect.as(Effect.logDebug(`effect-tasks: containment proc (${reason})`), undefined)
      if (mode === "proc") {
        return yield* unavailable(`containment "proc" was chosen${required ? ", but limits need cgroups" : ""}`)
      }
      const location = Cgroup.locate(config.cgroupRoot)
      if ("unavailable" in location) return yield* unavailable(location.unavailable)
      const observer = yield* ProcessObserver
      const manager = Cgroup.createManager(
        location,
        (dir, path) => observer.cgroupCreated?.(dir, path),
        config.journaled === true
      )
      if ("unavailable" in manager) return yield* unavailable(manager.unavailable)
      yield* Effect.addFinalizer(() => release(manager))
      for (const controller of Cgroup.controllersOf(limits)) {
        const reason = Cgroup.enableController(manager, controller)
        if (reason !== undefined) return yield* new ContainmentUnavailable({ reason })
      }
      yield* Effect.logDebug(
        `effect-tasks: containment cgroup (${manager.dir}${
          location.favordynmods ? "" : "; without favordynmods, a spawn's entry may wait for an RCU grace period"
        })`
      )
      const containment: Containment = { manager, limits }
      return containment
    })
  )
