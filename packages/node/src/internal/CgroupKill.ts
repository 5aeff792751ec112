/**
 * The kill engine's method for trees in cgroups (containment on), without Effect (the guardian loads it).
 *
 * - **find**: `populated` of each tree's `cgroup.events`; while it says 1, the pids of `cgroup.procs` in the
 *   cgroup and below. A pid counts once its `/proc/<pid>/cgroup` names the tree's cgroup (checked once per
 *   incarnation), so a pid read from `cgroup.procs` and reused by someone else before the check is never taken
 *   for a member. A root (the spawned process) still alive outside the cgroup is found by identity: it is the
 *   entry shell before it entered, and must not enter after the kill. A root whose exit was seen
 *   (`TreeRoot.exitTick`) is never looked for again: its pid may already be a stranger's, started in the same tick.
 * - **signal**: the first signal and SIGCONT by pid, with the identity check of every kill (start time read
 *   right before `kill(2)`); SIGKILL by `cgroup.kill`, one write that reaches every member at once, including a
 *   process being forked, so a pid hopper or a fork storm cannot outrun it.
 * - **prove empty**: `populated 0` with no root alive outside. The drivers wait for it on a watch of
 *   `cgroup.events` (the kernel notifies every change), polling only as a safety net.
 *
 * Freezing the cgroup (`cgroup.freeze`) before reading members would also pin their pids, but waiting for
 * `frozen 1` costs every member a trip through the scheduler before it can even see its SIGTERM (measured in the
 * report of issue 16); the membership check gives the same guarantee for the pids signalled.
 *
 * @since 0.1.0
 */
import { watch } from "node:fs"
import { join } from "node:path"
import { cgroupOf, isPopulated, isWithin, killAll, memberPids, removeTree } from "./Cgroup.js"
import * as KillEngine from "./KillEngine.js"
import { identityKey, isDeadState, readCommandLine, readStat, signalIfSame } from "./ProcessIdentity.js"
import type { TreeSpec } from "./ProcessTree.js"

/**
 * The kill method over trees whose specs name a cgroup. `kills` counts the writes to `cgroup.kill`.
 *
 * @since 0.1.0
 */
export interface CgroupMethod extends KillEngine.KillMethod<void> {
  readonly kills: () => number
}

/**
 * The method for `specs` (each with `cgroup`).
 *
 * @since 0.1.0
 */
export const method = (specs: ReadonlyArray<TreeSpec>): CgroupMethod => {
  // identity key -> whether that incarnation is in the spec's cgroup (read once: a member cannot leave).
  const membership = new Map<string, boolean>()
  // Members a write to cgroup.kill has reached: the next write is only for members born since.
  const hit = new Set<string>()
  let kills = 0
  return {
    kills: () => kills,
    observe: () => {
      const alive: Array<KillEngine.Found> = []
      let proof = true
      const listed = new Set<number>()
      specs.forEach((spec, index) => {
        const target = spec.cgroup
        if (target === undefined) return
        if (isPopulated(target.dir)) {
          proof = false
          for (const pid of memberPids(target.dir)) {
            if (listed.has(pid)) continue
            listed.add(pid)
            const stat = readStat(pid)
            if (stat === undefined || isDeadState(stat.state)) continue
            const key = identityKey(stat)
            let member = membership.get(key)
            if (member === undefined) {
              const path = cgroupOf(pid)
              member = path !== undefined && isWithin(path, target.path)
              membership.set(key, member)
            }
            if (!member) continue
            alive.push({ pid, startTime: stat.startTime, ppid: stat.ppid, pgid: stat.pgid, via: "cgroup", spec: index })
          }
        }
        for (const root of spec.roots) {
          // A root whose exit Node reported is never matched again: a stranger may take its pid within the same
          // start-time tick, and would pass the identity check.
          if (root.exitTick !== undefined || listed.has(root.pid)) continue
          const stat = readStat(root.pid)
          if (stat === undefined || stat.startTime !== root.startTime || isDeadState(stat.state)) continue
          proof = false
          alive.push({
            pid: root.pid,
            startTime: root.startTime,
            ppid: stat.ppid,
            pgid: stat.pgid,
            via: "root",
            spec: index
          })
        }
      })
      return { alive, proof, provable: true }
    },
    signalGroups: (alive, signals) => {
      const reached = new Map<number, ReadonlyArray<KillEngine.Found>>()
      if (signals[0] !== "SIGKILL") return reached
      const members = alive.filter((found) => found.via === "cgroup")
      // A write kills every member at once, and a fork under way; members still listed afterwards are dying.
      if (members.some((found) => !hit.has(identityKey(found)))) {
        for (const spec of specs) {
          if (spec.cgroup !== undefined && killAll(spec.cgroup.dir)) kills++
        }
        for (const found of members) hit.add(identityKey(found))
      }
      // Keyed 0, which is no process group: the engine only records what the write reached.
      reached.set(0, members)
      return reached
    },
    signal: (target, signals) => signalIfSame(target, signals),
    describe: (target) => readCommandLine(target.pid)
  }
}

/**
 * Watches `cgroup.events` of every spec's cgroup and calls `onChange` when the kernel reports a change; returns
 * a function that stops watching. Where a watch cannot be set up, the kill polls.
 *
 * @since 0.1.0
 */
export const watchEvents = (specs: ReadonlyArray<TreeSpec>, onChange: () => void): () => void => {
  const watchers: Array<{ close: () => void }> = []
  for (const spec of specs) {
    if (spec.cgroup === undefined) continue
    try {
      const watcher = watch(join(spec.cgroup.dir, "cgroup.events"), { persistent: false }, onChange)
      watcher.on("error", () => {}) // the cgroup was removed: nothing more to hear
      watchers.push(watcher)
    } catch {
      // gone already, or no inotify: the kill polls
    }
  }
  return () => {
    for (const watcher of watchers) watcher.close()
  }
}

/**
 * Removes the cgroups of `specs` (deepest first) once a kill proved them empty; returns the directories that
 * stay (a process entered after the proof, which only a privileged process can do).
 *
 * @since 0.1.0
 */
export const removeAll = (specs: ReadonlyArray<TreeSpec>): Array<string> => {
  const stayed: Array<string> = []
  for (const spec of specs) {
    if (spec.cgroup !== undefined && !removeTree(spec.cgroup.dir)) stayed.push(spec.cgroup.dir)
  }
  return stayed
}

/**
 * Settings of a cgroup kill: the engine's, with polls that thin out to 100 ms, since a watch of `cgroup.events`
 * wakes the kill. The kernel sends at most one notice per file every 10 ms, holding back a change that follows
 * another sooner (a spawn revoked right after it entered its cgroup): the first polls (1 ms, growing by half)
 * cover that window; later ones only find processes born during the grace, and are a safety net.
 *
 * @since 0.1.0
 */
export const settingsOf = (settings: KillEngine.KillSettings): KillEngine.KillSettings => ({
  ...settings,
  pollMillis: settings.pollMillis ?? 1,
  maxPollMillis: Math.max(settings.maxPollMillis ?? 100, 100)
})

/**
 * Kills the trees of `specs` (each with `cgroup`) and resolves once they are proven empty and their cgroups are
 * removed: the driver for the guardian, the journal reap and `tasks reap`. Never rejects.
 *
 * @since 0.1.0
 */
export const killPromise = async (
  specs: ReadonlyArray<TreeSpec>,
  settings: KillEngine.KillSettings
): Promise<KillEngine.KillSummary> => {
  const started = Date.now()
  const kill = KillEngine.start(method(specs), settingsOf(settings), started)
  let wake: (() => void) | undefined
  let changed = false
  const stop = watchEvents(specs, () => {
    changed = true
    wake?.()
  })
  try {
    for (let round = 0;; round++) {
      changed = false
      const step = kill.step(undefined, Date.now())
      if (step._tag === "Done") {
        if (settings.dryRun !== true && step.summary.proven && removeAll(specs).some(isPopulated) && round < 100) {
          // Someone entered after the proof: kill again.
          kill.force()
          continue
        }
        return step.summary
      }
      if (changed || step.millis <= 0) continue
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, step.millis)
        wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      wake = undefined
    }
  } catch {
    return KillEngine.unproven(Date.now() - started)
  } finally {
    stop()
  }
}

/**
 * One summary for a kill run as parts over subsets of its specs: `indices[i]` maps spec `i` of part `i`'s specs
 * back to the whole list.
 *
 * @since 0.1.0
 */
export const mergeSummaries = (
  parts: ReadonlyArray<{ readonly summary: KillEngine.KillSummary; readonly indices: ReadonlyArray<number> }>
): KillEngine.KillSummary => ({
  proven: parts.every((part) => part.summary.proven),
  found: parts.flatMap(({ indices, summary }) =>
    summary.found.map((found) => ({ ...found, spec: indices[found.spec]! }))
  ),
  stopped: parts.flatMap(({ indices, summary }) =>
    summary.stopped.map((stopped) => ({ ...stopped, spec: indices[stopped.spec]! }))
  ),
  signalled: parts.reduce((n, part) => n + part.summary.signalled, 0),
  killed: parts.reduce((n, part) => n + part.summary.killed, 0),
  escalated: parts.some((part) => part.summary.escalated),
  survivors: parts.flatMap((part) => part.summary.survivors),
  durationMillis: Math.max(0, ...parts.map((part) => part.summary.durationMillis))
})

/**
 * Splits `specs` into those with a cgroup and the rest, with each part's indices in `specs`.
 *
 * @since 0.1.0
 */
export const partition = (specs: ReadonlyArray<TreeSpec>) => {
  const contained: Array<TreeSpec> = []
  const containedIndices: Array<number> = []
  const rest: Array<TreeSpec> = []
  const restIndices: Array<number> = []
  specs.forEach((spec, index) => {
    if (spec.cgroup !== undefined) {
      contained.push(spec)
      containedIndices.push(index)
    } else {
      rest.push(spec)
      restIndices.push(index)
    }
  })
  return { contained, containedIndices, rest, restIndices }
}
