/**
 * Discovery of every process a task started, and nothing else.
 *
 * A task's processes escape a naive "children of the child" walk in several ways: background jobs outlive
 * their shell and are reparented to init, job-control shells move jobs to new process groups, daemons
 * `setsid` and double-fork. Discovery therefore combines four relations, each of which is sound on its own:
 *
 * 1. the roots themselves (processes we spawned), matched by identity (pid + start time);
 * 2. process groups and sessions led by a member: a group/session id is the pid of its creator and cannot be
 *    reused while any member (zombies included) exists, so while the leader's identity is verified, every
 *    process in that group or session was started under it;
 * 3. the parent relation (`ppid`), iterated to a fixpoint;
 * 4. the environment cookie: a variable whose value starts with a per-task prefix, inherited by every
 *    descendant however it detaches (the technique Jenkins uses to kill builds).
 *
 * What each platform catches:
 * - Linux (`/proc`): all four relations; exact start times (clock ticks) for the pid-reuse guard.
 * - macOS / BSD (`ps -A` fallback): roots, root and member process groups, and ppid descendants. No sessions
 *   and no cookie (other processes' environments are not readable without `/proc`), so a `setsid` +
 *   double-fork daemon reparented to init is missed; start times have one-second resolution.
 * - Windows: nothing (empty process table); use the platform's own job objects.
 *
 * @since 0.1.0
 */
import type { CgroupTarget } from "./Cgroup.js"
import { identityKey, isDeadState, type ProcessIdentity, type ProcessStat, readStat } from "./ProcessIdentity.js"
import {
  type Cookie,
  cookieOf,
  type Origin,
  processesWithCookie,
  type ProcessTable,
  readProcessTable
} from "./ProcessTable.js"

/**
 * A root of a tree: a process we spawned or attached, by identity. `exitTick` (start-time units, see
 * `ProcessIdentity.startTimeNow`) is when its exit was seen, if it was: a process that started more than a tick
 * before it was born while the root still held its pid, so a group or session with the root's id that holds
 * such a process is still the root's, even after the root was reaped.
 *
 * @since 0.1.0
 */
export interface TreeRoot extends ProcessIdentity {
  readonly exitTick?: number | undefined
}

/**
 * What to look for: the processes we spawned (each spawned detached, i.e. leader of its own process group
 * and session), the task's environment cookie, the earliest start time any of the task's processes can
 * have (processes older than that are never examined for the cookie), and, for trees whose roots this process
 * spawned, the origin from which a range snapshot shows them all (see `ProcessTable.Snapshot`).
 *
 * @since 0.1.0
 */
export interface TreeSpec {
  readonly roots: ReadonlyArray<TreeRoot>
  readonly cookie: Cookie | undefined
  readonly minStartTime: number
  readonly origin?: Origin | undefined
  /** The cgroup that contains the tree (containment on): the kill is the cgroup's (see `internal/CgroupKill`). */
  readonly cgroup?: CgroupTarget | undefined
}

/**
 * Why a process was counted as part of the tree (for diagnostics): it is a root, it is in a member's process
 * group or session, its parent is a member, it carries the cookie, an earlier look found it (`known`), or it is in
 * the tree's cgroup.
 *
 * @since 0.1.0
 */
export type TreeRelation = "root" | "group" | "session" | "parent" | "cookie" | "known" | "cgroup"

/**
 * A live process that belongs to the tree: its identity, its parent/group/session at discovery time, and
 * the relation it was found through.
 *
 * @since 0.1.0
 */
export interface TreeMember extends ProcessStat {
  readonly via: TreeRelation
}

/**
 * The process doing the discovery, which must never be counted: its pid, its process group and session,
 * and its ancestors (walking `ppid` up to init; `process.ppid` is the first).
 *
 * @since 0.1.0
 */
export interface Caller {
  readonly pid: number
  readonly pgid: number
  readonly sid: number
  readonly ancestors: ReadonlySet<number>
}

/**
 * Describes the current process as a `Caller`, using `table` for the ancestor walk.
 *
 * @since 0.1.0
 */
export const currentCaller = (table: ProcessTable): Caller => {
  const self = table.get(process.pid) ?? selfStat()
  if (table.has(process.pid)) lastSelf = self
  const ancestors = new Set<number>()
  let pid = self?.ppid ?? process.ppid
  while (pid > 1 && !ancestors.has(pid)) {
    ancestors.add(pid)
    const parent = table.get(pid)
    if (parent === undefined) break
    pid = parent.ppid
  }
  if (process.ppid > 1) ancestors.add(process.ppid)
  return { pid: process.pid, pgid: self?.pgid ?? process.pid, sid: self?.sid ?? -1, ancestors }
}

/**
 * This process's own stat, as last read: its group and session change only if it calls `setpgid` or `setsid`,
 * which Node does not expose, so a table that does not hold it (a range snapshot) need not read it again.
 */
let lastSelf: ProcessStat | undefined
const selfStat = (): ProcessStat | undefined => lastSelf ??= readStat(process.pid)

/**
 * Optional inputs of `discoverTree`, for tests and for callers that already hold the data.
 *
 * @since 0.1.0
 */
export interface DiscoverOptions {
  /** Who is asking (never counted). Defaults to `currentCaller(table)`. */
  readonly caller?: Caller
  /**
   * How to read another process's cookie: its value, `undefined` for none, `null` when it is unknown (the
   * process exited since the table was taken). Defaults to `ProcessTable.cookieOf`.
   */
  readonly readCookie?: (pid: number, name: string) => string | undefined | null
  /**
   * Hears that the result may be incomplete: a process that was alive in the table could no longer say whether
   * it carries the cookie (it exited since), so a child it forked just before may be missing from the table.
   */
  readonly onUncertain?: (() => void) | undefined
  /** Processes an earlier look verified as members: still members while their identity lives. */
  readonly known?: Iterable<ProcessIdentity> | undefined
}

const pushInto = (index: Map<number, Array<ProcessStat>>, key: number, stat: ProcessStat) => {
  if (key <= 0) return
  const list = index.get(key)
  if (list === undefined) index.set(key, [stat])
  else list.push(stat)
}

/**
 * Computes the tree described by `spec` over a given process-table snapshot, returning only live members
 * (zombies are used as anchors but not returned). Pure apart from cookie reads.
 *
 * Guarantees: pid <= 1, the caller and the caller's ancestors are never returned; a process in the caller's
 * own process group (or session) is returned only if it is a root or was reached through the cookie or the
 * parent relation, never through group/session membership alone (a root is an explicit, identity-checked
 * request, so it is honoured even if it was spawned without `detached`). Group/session/parent links also require
 * the member to have started no earlier than the process it is linked to.
 *
 * A root that is gone (reaped) no longer proves by itself that its group and session ids are unreused, so they
 * are followed (for members that started no earlier than the root) once something proves the id is still the
 * root's: a member found another way (cookie, parent, an earlier look) is in that group or session, or a member
 * started more than a tick before the root's exit was seen (`TreeRoot.exitTick`; a group or session id cannot
 * be reused while any member exists). This finds a background job that cleared its environment after its shell
 * exited. A root whose pid now belongs to another process has no group or session left: those ids were free.
 * Without a cookie (no `/proc`), a reaped root's group and session are followed whenever no process holds its
 * pid.
 *
 * @since 0.1.0
 */
export const discoverTree = (
  table: ProcessTable,
  spec: TreeSpec,
  options: DiscoverOptions = {}
): Array<TreeMember> => {
  const caller = options.caller ?? currentCaller(table)
  const readCookie = options.readCookie ??
    ((pid: number, name: string) => cookieOf(table.get(pid) ?? { pid, startTime: -1 }, name))
  const excluded = (stat: ProcessStat) => stat.pid <= 1 || stat.pid === caller.pid || caller.ancestors.has(stat.pid)

  const byParent = new Map<number, Array<ProcessStat>>()
  const byGroup = new Map<number, Array<ProcessStat>>()
  const bySession = new Map<number, Array<ProcessStat>>()
  for (const stat of table.values()) {
    pushInto(byParent, stat.ppid, stat)
    pushInto(byGroup, stat.pgid, stat)
    pushInto(bySession, stat.sid, stat)
  }

  // All members, zombies included (they anchor groups and sessions); only live ones are returned.
  const members = new Map<number, TreeMember>()
  const queue: Array<ProcessStat> = []
  const add = (stat: ProcessStat, via: TreeRelation) => {
    if (members.has(stat.pid) || excluded(stat)) return
    members.set(stat.pid, { ...stat, via })
    queue.push(stat)
  }
  // Group/session membership alone never pulls in the caller's own process group or session.
  const inCallerGroup = (stat: ProcessStat) => stat.pgid === caller.pgid || (caller.sid > 0 && stat.sid === caller.sid)
  const addByMembership = (stat: ProcessStat, via: "group" | "session", anchorStart: number) => {
    if (stat.startTime < anchorStart || inCallerGroup(stat)) return
    add(stat, via)
  }

  // A root whose exit we saw was reaped by us: whatever holds its pid now is another process, even one that
  // started within the same clock tick (start times have a tick's resolution, so only the exit tells them apart).
  const exited = new Set<string>()
  for (const root of spec.roots) if (root.exitTick !== undefined) exited.add(identityKey(root))
  for (const root of spec.roots) {
    const stat = table.get(root.pid)
    if (stat !== undefined && stat.startTime === root.startTime && root.exitTick === undefined) add(stat, "root")
  }
  for (const identity of options.known ?? []) {
    const stat = table.get(identity.pid)
    if (stat !== undefined && stat.startTime === identity.startTime && !exited.has(identityKey(identity))) {
      add(stat, "known")
    }
  }

  const cookie = spec.cookie !== undefined && spec.cookie.prefix.length > 0 ? spec.cookie : undefined
  // Live, zombie (handled above) or reused by another process: a held pid leaves nothing to follow.
  const reaped = spec.roots.filter((root) => !table.has(root.pid))
  if (cookie === undefined) {
    for (const root of reaped) {
      for (const stat of byGroup.get(root.pid) ?? []) addByMembership(stat, "group", root.startTime)
      for (const stat of bySession.get(root.pid) ?? []) addByMembership(stat, "session", root.startTime)
    }
  }

  let expanded = 0
  const expand = () => {
    for (; expanded < queue.length; expanded++) {
      const member = queue[expanded]!
      for (const child of byParent.get(member.pid) ?? []) {
        if (child.startTime >= member.startTime) add(child, "parent")
      }
      for (const stat of byGroup.get(member.pid) ?? []) addByMembership(stat, "group", member.startTime)
      for (const stat of bySession.get(member.pid) ?? []) addByMembership(stat, "session", member.startTime)
    }
  }
  expand()

  if (cookie !== undefined) {
    // Only processes the relations above did not reach have their environment read.
    const candidates = new Map<number, ProcessStat>()
    for (const stat of table.values()) if (!excluded(stat) && !members.has(stat.pid)) candidates.set(stat.pid, stat)
    const unreadable = () => options.onUncertain?.()
    for (const pid of processesWithCookie(candidates, cookie, spec.minStartTime, readCookie, unreadable)) {
      add(candidates.get(pid)!, "cookie")
    }
    expand()
    // Reaped roots: their group and session, once a member proves the id is still theirs.
    const followed = new Set<string>()
    for (let grew = true; grew;) {
      grew = false
      for (const root of reaped) {
        for (const [via, index] of [["group", byGroup], ["session", bySession]] as const) {
          const key = `${via}:${root.pid}`
          if (followed.has(key)) continue
          const holders = (index.get(root.pid) ?? []).filter((stat) => stat.startTime >= root.startTime)
          const witnessed = holders.some((stat) =>
            members.has(stat.pid) || (root.exitTick !== undefined && stat.startTime < root.exitTick - 1)
          )
          if (!witnessed) continue
          followed.add(key)
          for (const stat of holders) addByMembership(stat, via, root.startTime)
          grew = true
        }
      }
      expand()
    }
  }

  const live: Array<TreeMember> = []
  for (const member of members.values()) if (!isDeadState(member.state)) live.push(member)
  return live
}

/**
 * Finds every live process that belongs to the task described by `spec`, from a fresh snapshot of the
 * process table (see `discoverTree` for the rules and guarantees, and the module comment for what each
 * platform catches). Never returns this process, its ancestors, or pid 1.
 *
 * @since 0.1.0
 */
export const findTree = (spec: TreeSpec): Array<TreeMember> => discoverTree(readProcessTable(), spec)
