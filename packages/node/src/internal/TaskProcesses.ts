/**
 * The processes a task owns, and the task's last word on them. The first process a task starts (or attaches)
 * gives the task a cookie prefix and registers, on the task's scope, a watchdog and one final sweep:
 *
 * - the watchdog bounds a revoke: once the grace has passed (or at once on a forced revoke), every spawn whose
 *   own kill has not started yet gets SIGKILL, even if the task's code is stuck waiting on it, and every kill
 *   of the task from then on is immediate;
 * - the final sweep, when the task ends for any reason, kills everything that still carries the task's cookie
 *   or belongs to one of its roots' groups, sessions or subtrees, before the task becomes terminal.
 *
 * @since 0.1.0
 */
import { TaskContext } from "@effect-tasks/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import { removeTree, type TaskCgroup } from "./Cgroup.js"
import type { KillSummary } from "./KillEngine.js"
import { type ProcessIdentity, readIdentity, ticksNow } from "./ProcessIdentity.js"
import { COOKIE_VARIABLE } from "./ProcessTable.js"
import type { TreeRoot, TreeSpec } from "./ProcessTree.js"
import { killTrees } from "./TreeKill.js"

/** Hears about processes as they start and as their trees are cleaned up (the guardian listens here). */
export interface ProcessObserverShape {
  readonly started: (identity: ProcessIdentity, cookie: string) => void
  readonly cleaned: (cookie: string) => void
  /** A manager made cgroup `dir` (`path`: its v2 name; undefined for a v1 directory, kept for limits only). */
  readonly cgroupCreated?: ((dir: string, path: string | undefined) => void) | undefined
  readonly cgroupRemoved?: ((dir: string) => void) | undefined
}

/** Where process start and cleanup notices go; by default nowhere. */
export const ProcessObserver = Context.Reference<ProcessObserverShape>("@effect-tasks/node/ProcessObserver", {
  defaultValue: () => ({ started: () => {}, cleaned: () => {} })
})

/** One spawn of a task: its tree, and whether its own kill has started. */
export interface OwnedSpawn {
  readonly root: TreeRoot & { exitTick?: number | undefined }
  readonly spec: TreeSpec
  readonly cookie: string
  killing: boolean
}

/** What a task owns: the roots it started or attached, and the cookie prefix its descendants carry. */
export interface TaskProcesses {
  readonly roots: Array<TreeRoot>
  readonly prefix: string
  readonly minStartTime: number
  /** The origin of the task's first spawn, while nothing was attached (see `ProcessTable.Origin`). */
  origin: TreeSpec["origin"]
  /** Spawns whose own kill has not completed yet. */
  readonly open: Set<OwnedSpawn>
  /** Processes attached by pid (they have no spawn kill of their own). */
  readonly attached: Array<ProcessIdentity>
  /** A spawn's kill gave up on a survivor. */
  unclean: boolean
  /** The revoke's grace is over (or it was forced): every kill of the task is immediate from now on. */
  graceOver: boolean
  spawns: number
  /** The task's cgroup (containment on), made at its first spawn. */
  cgroup: TaskCgroup | undefined
}

/** No live process has this pid (it never existed, or it has already exited). */
export class ProcessNotFound extends Schema.TaggedError<ProcessNotFound>()("ProcessNotFound", {
  pid: Schema.Number
}) {
  override get message(): string {
    return `no live process with pid ${this.pid}`
  }
}

const instance = `${process.pid}-${Math.random().toString(36).slice(2, 10)}`

/**
 * The start of the cookie of every process that tasks in this Node process start
 * (`<pid>-<random>/`): match it in `/proc/<pid>/environ` to count what this process's tasks left.
 */
export const instancePrefix = `${instance}/`
const owned = new WeakMap<TaskContext.TaskContextShape, TaskProcesses>()
let taskSeq = 0

/**
 * Kills a tree the way the task's revocation says: gracefully (SIGTERM, the task's grace, SIGKILL) unless a
 * non-graceful revoke is recorded, arrives while it waits, or the revoke's grace is already over.
 */
export const killFor = (
  task: TaskContext.TaskContextShape,
  spec: TreeSpec | ReadonlyArray<TreeSpec>
): Effect.Effect<KillSummary> =>
  Effect.suspend(() => {
    const revocation = task.revocationUnsafe()
    return killTrees(Array.isArray(spec) ? spec : [spec as TreeSpec], {
      graceful: (revocation === undefined || revocation.graceful) && owned.get(task)?.graceOver !== true,
      grace: task.grace,
      forced: task.forced
    })
  })

/**
 * Records what a kill of the tree rooted at `pid` stopped besides the root, and whether it escalated (see
 * `TaskContext.processesStoppedUnsafe`).
 */
export const report = (task: TaskContext.TaskContextShape, pid: number, summary: KillSummary): void => {
  const stopped = summary.stopped.filter((process) => process.pid !== pid)
  if (stopped.length === 0 && !summary.escalated) return
  task.processesStoppedUnsafe(pid, {
    stopped: stopped.map((process) => ({ pid: process.pid, command: process.command, signal: process.signal })),
    escalated: summary.escalated
  })
}

const watchdog = (task: TaskContext.TaskContextShape, processes: TaskProcesses) =>
  task.revoked.pipe(
    Effect.andThen(Effect.suspend(() =>
      task.revocationUnsafe()?.graceful === false
        ? Effect.void
        : Effect.raceFirst(Effect.sleep(task.grace), task.forced)
    )),
    Effect.andThen(Effect.suspend(() => {
      processes.graceOver = true
      // A spawn's own kill, once it runs, escalates on time by itself.
      const stuck = [...processes.open].filter((spawn) => !spawn.killing)
      if (stuck.length === 0) return Effect.void
      return Effect.map(killTrees(stuck.map((spawn) => spawn.spec), { graceful: false, grace: 0 }), (summary) => {
        // Past the grace, this is the revoke's escalation: say so on each spawn it had to kill.
        stuck.forEach((spawn, index) => {
          const stopped = summary.stopped.filter((process) => process.spec === index)
          if (stopped.length > 0) report(task, spawn.root.pid, { ...summary, stopped, escalated: true })
        })
      })
    })),
    Effect.ignore
  )

const sweep = (task: TaskContext.TaskContextShape, processes: TaskProcesses) =>
  Effect.suspend(() => {
    const contained = processes.cgroup
    const searched = processes.open.size > 0 || processes.attached.length > 0 || processes.unclean
    // Every spawn already killed its own tree and nothing was attached: there is nothing left to find (but the
    // task's cgroup, whose check is one read, and whose removal is due).
    if (!searched && contained === undefined) return Effect.void
    const spec: TreeSpec = {
      roots: processes.roots,
      cookie: { name: COOKIE_VARIABLE, prefix: processes.prefix },
      minStartTime: processes.minStartTime,
      origin: processes.origin
    }
    // In a cgroup, the task's spawns are the cgroup's; attached processes (never in it) are searched for in /proc.
    const specs: Array<TreeSpec> = contained === undefined
      ? [spec]
      : [
        { roots: [], cookie: undefined, minStartTime: processes.minStartTime, cgroup: contained },
        ...(processes.attached.length > 0 ? [{ ...spec, roots: processes.attached, origin: undefined }] : [])
      ]
    return Effect.map(killFor(task, specs), (summary) => {
      if (contained !== undefined) { for (const dir of contained.v1) removeTree(dir) }
      // Attributed to the root whose group or session it was in, else to the task's first process.
      const byRoot = new Map<number, KillSummary["stopped"][number][]>()
      for (const process of summary.stopped) {
        const root = processes.roots.find((root) => root.pid === process.pid || root.pid === process.pgid) ??
          processes.roots[0]!
        const list = byRoot.get(root.pid) ?? []
        list.push(process)
        byRoot.set(root.pid, list)
      }
      for (const [pid, stopped] of byRoot) report(task, pid, { ...summary, stopped })
      if (summary.escalated && byRoot.size === 0) report(task, processes.roots[0]!.pid, summary)
      // An attached process is not our child: its end is known only from the kill.
      for (const attached of processes.attached) {
        const stopped = summary.stopped.find((p) => p.pid === attached.pid && p.startTime === attached.startTime)
        task.endProcessUnsafe(attached.pid, stopped === undefined ? {} : { signal: stopped.signal })
      }
    })
  })

/** The task's processes, created on first use together with the task's watchdog and final sweep. */
export const forTask = (task: TaskContext.TaskContextShape): Effect.Effect<TaskProcesses> =>
  Effect.suspend(() => {
    const existing = owned.get(task)
    if (existing !== undefined) return Effect.succeed(existing)
    const created: TaskProcesses = {
      roots: [],
      prefix: `${instance}/${++taskSeq}/`,
      minStartTime: ticksNow(),
      origin: undefined,
      open: new Set(),
      attached: [],
      unclean: false,
      graceOver: false,
      spawns: 0,
      cgroup: undefined
    }
    owned.set(task, created)
    return Effect.flatMap(ProcessObserver, (observer) =>
      Effect.gen(function*() {
        yield* Scope.addFinalizer(
          task.scope,
          Effect.andThen(sweep(task, created), Effect.sync(() => observer.cleaned(created.prefix)))
        )
        yield* Effect.forkIn(watchdog(task, created), task.scope, { startImmediately: true })
        return created
      }))
  })

/**
 * Attaches a process started some other way (by pid) to the current task: it is recorded on the
 * task and killed, with its group, session and subtree, when the task ends.
 */
export const attach = Effect.fn("TaskProcesses.attach")(function*(pid: number) {
  const task = yield* TaskContext.TaskContext
  const identity = readIdentity(pid)
  if (identity === undefined) return yield* new ProcessNotFound({ pid })
  const processes = yield* forTask(task)
  processes.roots.push(identity)
  processes.attached.push(identity)
  // Its tree may hold processes born before this task: only a full walk shows them.
  processes.origin = undefined
  ;(yield* ProcessObserver).started(identity, processes.prefix)
  task.addProcessUnsafe({ pid, command: `pid ${pid}`, args: [] })
  return identity
})
