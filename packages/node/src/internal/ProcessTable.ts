/**
 * Snapshots of the machine's process table and the per-process environment cookie.
 *
 * Process-tree discovery works on a snapshot: every process's pid, parent, group, session, state and start
 * time, read in one pass. On Linux this is a walk over `/proc` (about a millisecond for a hundred processes);
 * elsewhere it is one `ps -A` run. The snapshot is not atomic (processes come and go during the walk), which
 * is why the kill loop re-takes it on every poll.
 *
 * @since 0.1.0
 */
import { execFileSync } from "node:child_process"
import { existsSync, readdirSync } from "node:fs"
import {
  hasProcFs,
  isDeadState,
  isRunningNotExiting,
  parsePsLine,
  parseStat,
  type ProcessIdentity,
  type ProcessStat,
  psEnv,
  readProcText
} from "./ProcessIdentity.js"

/**
 * All processes visible at one moment, keyed by pid. Zombies are included (discovery needs them: a zombie
 * still holds its pid, so its process group and session ids cannot be reused).
 *
 * @since 0.1.0
 */
export type ProcessTable = ReadonlyMap<number, ProcessStat>

/**
 * Called with each process as it is read, before the rest of the walk: a kill that must catch a process which
 * forks and exits faster than a walk completes (a pid hopper) signals it on sight from here.
 *
 * @since 0.1.0
 */
export type Watch = (stat: ProcessStat) => void

const readProcTable = (watch?: Watch): Map<number, ProcessStat> => {
  const table = new Map<number, ProcessStat>()
  let entries: Array<string>
  try {
    entries = readdirSync("/proc")
  } catch {
    return table
  }
  for (const entry of entries) {
    const code = entry.charCodeAt(0)
    if (code < 48 || code > 57) continue
    let text: string
    try {
      text = readProcText(`/proc/${entry}/stat`)
    } catch {
      continue // exited between readdir and read
    }
    const stat = parseStat(text)
    if (stat === undefined) continue
    table.set(stat.pid, stat)
    watch?.(stat)
  }
  return table
}

const readPsTable = (): Map<number, ProcessStat> => {
  const table = new Map<number, ProcessStat>()
  try {
    const out = execFileSync("ps", ["-A", "-o", "pid=,ppid=,pgid=,stat=,lstart="], {
      encoding: "latin1",
      env: psEnv,
      stdio: ["ignore", "pipe", "ignore"],
      maxBuffer: 64 * 1024 * 1024
    })
    for (const line of out.split("\n")) {
      const stat = parsePsLine(line)
      if (stat !== undefined) table.set(stat.pid, stat)
    }
  } catch {
    // no ps: an empty table; discovery then finds nothing
  }
  return table
}

/**
 * Takes a snapshot of every process: Linux reads `/proc/<pid>/stat` for each numeric `/proc` entry (threads
 * are not listed there, only thread-group leaders); other POSIX systems parse `ps -A` (no session ids);
 * Windows gets an empty table. Processes that exit mid-walk are simply absent.
 *
 * @since 0.1.0
 */
export const readProcessTable = (watch?: Watch): ProcessTable => {
  if (hasProcFs) return readProcTable(watch)
  if (process.platform === "win32") return new Map()
  return readPsTable()
}

/**
 * Reads environment variable `name` of process `pid` from `/proc/<pid>/environ` (NUL-separated `NAME=value`
 * entries, as the process was exec'd): its value, `undefined` when the variable is absent, or `null` when the
 * environment could not be read (the process is gone or a zombie, whose environment reads empty; another
 * user's or a setuid process, `EACCES`; no `/proc`). Cost: one small file read.
 *
 * @since 0.1.0
 */
export const readCookieState = (pid: number, name: string): string | undefined | null => {
  if (!hasProcFs) return null
  let environ: string
  try {
    environ = readProcText(`/proc/${pid}/environ`)
  } catch {
    return null
  }
  if (environ.length === 0) return null
  // Values are decoded from latin1 (byte per code unit) for the search, then back to UTF-8.
  const key = Buffer.from(`${name}=`, "utf8").toString("latin1")
  let start = 0
  while (start < environ.length) {
    let end = environ.indexOf("\0", start)
    if (end < 0) end = environ.length
    if (environ.startsWith(key, start)) {
      return Buffer.from(environ.slice(start + key.length, end), "latin1").toString("utf8")
    }
    start = end + 1
  }
  return undefined
}

/**
 * `readCookieState` where an unreadable environment counts as no cookie.
 *
 * @since 0.1.0
 */
export const readEnvironCookie = (pid: number, name: string): string | undefined =>
  readCookieState(pid, name) ?? undefined

const readNumber = (path: string, field: number): number | undefined => {
  try {
    const value = Number(readProcText(path).trim().split(/\s+/)[field])
    return Number.isInteger(value) && value >= 0 ? value : undefined
  } catch {
    return undefined
  }
}

/**
 * The last pid the kernel handed out in this pid namespace (`/proc/sys/kernel/ns_last_pid`, else the last field
 * of `/proc/loadavg`), or `undefined` without `/proc`. Every process, and every thread, created later gets the
 * next free pid after it, wrapping at `pid_max`: so two readings bracket the pids born in between.
 *
 * @since 0.1.0
 */
export const readLastPid = (): number | undefined => {
  if (!hasProcFs) return undefined
  return readNumber("/proc/sys/kernel/ns_last_pid", 0) ?? readNumber("/proc/loadavg", 4)
}

/**
 * How many processes and threads the machine has created since boot (`processes` in `/proc/stat`), or
 * `undefined` without `/proc`. It bounds how many pids were handed out between two readings: fewer than a
 * cycle of `pid_max`, and the pids born since a process started all lie after its pid.
 *
 * @since 0.1.0
 */
export const readForkCount = (): number | undefined => {
  if (!hasProcFs) return undefined
  try {
    const text = readProcText("/proc/stat")
    const at = text.indexOf("\nprocesses ")
    if (at < 0) return undefined
    const value = Number(text.slice(at + 11, text.indexOf("\n", at + 11)))
    return Number.isInteger(value) ? value : undefined
  } catch {
    return undefined
  }
}

/** Pids are handed out cyclically below this; read once. */
const pidMax: number = (hasProcFs ? readNumber("/proc/sys/kernel/pid_max", 0) : undefined) ?? 32_768

/** How many pids lie after `after` up to and including `to`, counting cyclically below `pid_max`. */
const pidsBetween = (after: number, to: number): number => to >= after ? to - after : pidMax - 1 - after + to

/** The pid that follows `pid` in the kernel's cyclic order (pid 1 is init and never needs reading). */
const nextPid = (pid: number): number => pid + 1 >= pidMax ? 2 : pid + 1

/**
 * Processes in the last walk of `/proc`. A pid read by number costs about a third of a process in a walk, so a
 * range more than three times this long is taken as a walk instead.
 */
let lastWalkSize = 512

/**
 * Reads the stat of every pid after `after` up to and including `to` into `table`. A pid is read by number, so
 * threads answer too (their `/proc/<tid>` is hidden from the listing, not from lookups); a thread has
 * `exit_signal` -1 (field 38) and is skipped: its process is the one that counts.
 */
const readPids = (table: Map<number, ProcessStat>, after: number, to: number, watch: Watch | undefined): void => {
  for (let pid = nextPid(after), n = pidsBetween(after, to); n > 0; pid = nextPid(pid), n--) {
    // Most pids of a range were never born or are gone: asking costs a few microseconds, a failed open (an
    // exception in Node) several times that.
    if (table.has(pid) || !existsSync(`/proc/${pid}`)) continue
    let text: string
    try {
      text = readProcText(`/proc/${pid}/stat`)
    } catch {
      continue // never born, or born and gone
    }
    if (text.slice(text.lastIndexOf(")") + 2).split(" ")[35] === "-1") continue
    const stat = parseStat(text)
    if (stat === undefined) continue
    table.set(stat.pid, stat)
    watch?.(stat)
  }
}

/**
 * Makes `table` hold every process alive at the end: the pids born since the walk began (`before`, the last
 * pid then) are read one by one, and again for those born meanwhile, until no pid was handed out during a
 * round. Returns whether that held (false without a pid counter, or when the machine forks faster than this
 * reads). A process alive at the end either existed through the whole walk (then `readdir` listed it) or was
 * born during it (then its pid lies in a range read here).
 *
 * A pid is handed out a little before its process can be read (the kernel attaches it at the end of `fork`), so
 * a pid that reads as absent may belong to a process still being born. Its parent is then alive, inside `fork`,
 * and was read alive (it is in the table), which keeps a kill of its tree looking.
 */
const completeBirths = (table: Map<number, ProcessStat>, before: number | undefined, watch: Watch | undefined) => {
  if (before === undefined) return false
  let after = before
  for (let round = 0; round < 64; round++) {
    const last = readLastPid()
    if (last === undefined) return false
    if (last === after) return true
    // More than half a cycle: the counter may have lapped a pid, and a walk is the cheaper read anyway.
    if (pidsBetween(after, last) > pidMax / 2) return false
    readPids(table, after, last, watch)
    after = last
  }
  return false
}

/**
 * A process-table snapshot shared by concurrent readers: the table, when it was taken (`performance.now()`,
 * real time even under a test clock, because `/proc` changes in real time), whether it is complete, which pids
 * it covers, and a cookie reader that reads each process's environment at most once.
 *
 * `complete` is the proof a kill needs before it says a tree is empty: a walk of `/proc` is not atomic (a child
 * forked while `readdir` runs, whose parent then exits, is listed nowhere), so the pid counter is read before
 * and after, and every pid handed out in between is read by number (see `readLastPid`).
 *
 * A range snapshot (`origin` set) holds only the pids handed out from the origin's pid on: every process a
 * spawn's tree can hold was born after the spawn's root, so while fewer than a cycle of `pid_max` pids were
 * handed out since (`forks`, see `readForkCount`), it proves as much as a full walk, for a fraction of the reads.
 *
 * @since 0.1.0
 */
export interface Snapshot {
  readonly table: ProcessTable
  readonly takenAt: number
  /** The table holds every process alive at its end. */
  readonly complete: boolean
  /** This machine can prove completeness (it has a pid counter); without one, only repeated looks can. */
  readonly provable: boolean
  /** Undefined for a walk of every process; else the origin a range snapshot starts at. */
  readonly origin: Origin | undefined
  /** The fork count when the snapshot began. */
  readonly forks: number | undefined
  /** `readCookieState`, read at most once per process incarnation (a readable result is cached). */
  readonly readCookie: (pid: number, name: string) => string | undefined | null
}

let latest: Snapshot | undefined

/**
 * Environment cookies by process identity, across snapshots. `/proc/<pid>/environ` is the environment the
 * process was exec'd with, so it only changes on `execve`; a process that drops the cookie by exec'ing with
 * a cleaned environment is the documented limit of the cookie, and one that carried it was started by the
 * tree either way. Without this cache, two hundred concurrent kills re-read hundreds of environments each
 * round.
 */
const cookieCache = new Map<string, string | undefined>()

/** Whether completeness can be proven here: a pid counter to bracket a walk with. */
const provable = readLastPid() !== undefined

/**
 * `readCookieState` of one process incarnation, cached: keyed by identity, so a recycled pid is a different
 * process and is read afresh. An unreadable environment is unknown (`null`) if the process has exited since, and
 * no cookie if it still lives (read twice, and not cached).
 *
 * @since 0.1.0
 */
export const cookieOf = (process: ProcessIdentity, name: string): string | undefined | null => {
  const key = `${process.pid}@${process.startTime}=${name}`
  if (cookieCache.has(key)) return cookieCache.get(key)
  const value = readCookieState(process.pid, name)
  if (value !== null) {
    if (cookieCache.size >= 50_000) cookieCache.clear()
    cookieCache.set(key, value)
    return value
  }
  // Gone, a zombie or exiting since the table was taken (an exiting process's memory, its environment with it,
  // goes before its state changes): whether it carried the cookie is unknown.
  if (!isRunningNotExiting(process)) return null
  // Running: another user's process, a kernel thread, an empty environment (`env -i`), or one caught in the
  // instant of an `execve`, whose environment is briefly unreadable: read once more, and keep nothing.
  return readCookieState(process.pid, name) ?? undefined
}

const finish = (
  table: ProcessTable,
  takenAt: number,
  complete: boolean,
  origin: Origin | undefined,
  forks: number | undefined
): Snapshot => {
  const readCookie = (pid: number, name: string) => cookieOf(table.get(pid) ?? { pid, startTime: -1 }, name)
  const snapshot: Snapshot = { table, takenAt, complete, provable, origin, forks, readCookie }
  latest = snapshot
  return snapshot
}

/**
 * Takes a fresh snapshot of every process (see `readProcessTable` and `Snapshot`) and makes it the latest one.
 *
 * @since 0.1.0
 */
export const takeSnapshot = (watch?: Watch): Snapshot => {
  const takenAt = performance.now()
  const forks = readForkCount()
  const before = readLastPid()
  const table = readProcessTable(watch) as Map<number, ProcessStat>
  lastWalkSize = Math.max(64, table.size)
  const complete = hasProcFs && completeBirths(table, before, watch)
  return finish(table, takenAt, complete, undefined, forks)
}

/**
 * Pids a range snapshot may still be taken for: the origin of a tree (its root's pid and the fork count read
 * just before the root was spawned) and the number of pids handed out since. Beyond a quarter of a `pid_max`
 * cycle of forks (failed forks consume pids too), or a range longer than a walk costs, a walk is taken instead.
 *
 * @since 0.1.0
 */
export interface Origin {
  readonly pid: number
  readonly forks: number
}

/** Whether pids from `origin.pid` on can still stand for every process born since the origin, given `forks` now. */
export const rangeHolds = (origin: Origin, forks: number | undefined): boolean =>
  forks !== undefined && forks - origin.forks < (pidMax - 300) / 4

/**
 * Takes a range snapshot from `origin` (see `Snapshot`), or `undefined` when one would not prove enough (no pid
 * counter, too many forks since the origin, or a range longer than a walk is worth).
 *
 * @since 0.1.0
 */
export const takeRangeSnapshot = (origin: Origin, watch?: Watch): Snapshot | undefined => {
  const takenAt = performance.now()
  const forks = readForkCount()
  if (!rangeHolds(origin, forks)) return undefined
  const before = readLastPid()
  if (before === undefined || origin.pid < 2 || origin.pid >= pidMax) return undefined
  const after = origin.pid - 1 < 2 ? pidMax - 1 : origin.pid - 1
  if (pidsBetween(after, before) > 3 * lastWalkSize) return undefined
  const table = new Map<number, ProcessStat>()
  readPids(table, after, before, watch)
  const complete = completeBirths(table, before, watch)
  return finish(table, takenAt, complete, origin, forks)
}

/**
 * Whether `snapshot` shows everything of a tree whose origin is `origin` (undefined: a tree of processes of
 * unknown age, which only a full walk shows). A range snapshot shows the trees of its own origin and of every
 * later spawn: this process reads the fork count and spawns in one synchronous step, so a larger count means a
 * later root, with a later pid.
 *
 * @since 0.1.0
 */
export const covers = (snapshot: Snapshot, origin: Origin | undefined): boolean => {
  const from = snapshot.origin
  if (from === undefined) return true
  return origin !== undefined && (origin.pid === from.pid || origin.forks > from.forks)
}

/**
 * The latest snapshot if it was taken at or after `notBefore` (a `performance.now()` reading), else a fresh
 * one. Many kill loops polling at once (e.g. a shutdown of fifty tasks) then share one walk of `/proc` and
 * one read of each environment per round instead of one each. A loop passes the time of its own last
 * signal round, so it never judges liveness from a snapshot older than its own signals.
 *
 * @since 0.1.0
 */
export const recentSnapshot = (notBefore: number): Snapshot => {
  const current = latestSnapshot()
  return current !== undefined && current.takenAt >= notBefore && current.origin === undefined
    ? current
    : takeSnapshot()
}

/** The last snapshot taken, if any (for callers that coalesce walks themselves). */
export const latestSnapshot = (): Snapshot | undefined => latest

/**
 * The environment variable that marks every process of a task (the Jenkins technique): its value starts with
 * `<instance>/<task>/` and ends with `<spawn>/`.
 *
 * @since 0.1.0
 */
export const COOKIE_VARIABLE = "EFFECT_TASKS_COOKIE"

/**
 * An environment variable every process of a task inherits: `name` (e.g. `EFFECT_TASKS_COOKIE`) whose value
 * starts with a per-task `prefix`. It survives `setsid`, double forks and reparenting to init, which no
 * parent/group relation does.
 *
 * @since 0.1.0
 */
export interface Cookie {
  readonly name: string
  readonly prefix: string
}

/**
 * Pids in `table` whose environment carries `cookie`. Only processes with `startTime >= minStartTime` are
 * read: a process that started before the task cannot have inherited the task's cookie, and skipping them
 * keeps the scan to the few processes started since. A live process whose environment cannot be read any more
 * (it exited since the table was taken) is passed to `onUnreadable`: whether it carried the cookie is unknown.
 *
 * @since 0.1.0
 */
export const processesWithCookie = (
  table: ProcessTable,
  cookie: Cookie,
  minStartTime: number,
  readCookie: (pid: number, name: string) => string | undefined | null = readCookieState,
  onUnreadable?: (stat: ProcessStat) => void
): Array<number> => {
  const found: Array<number> = []
  for (const stat of table.values()) {
    if (stat.startTime < minStartTime) continue
    const value = readCookie(stat.pid, cookie.name)
    if (value === null) {
      if (onUnreadable !== undefined && !isDeadState(stat.state)) onUnreadable(stat)
    } else if (value !== undefined && value.startsWith(cookie.prefix)) {
      found.push(stat.pid)
    }
  }
  return found
}
