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
import { readdirSync } from "node:fs"
import { hasProcFs, parsePsLine, parseStat, type ProcessStat, readProcText } from "./ProcessIdentity.js"

/**
 * All processes visible at one moment, keyed by pid. Zombies are included (discovery needs them: a zombie
 * still holds its pid, so its process group and session ids cannot be reused).
 *
 * @since 0.1.0
 */
export type ProcessTable = ReadonlyMap<number, ProcessStat>

const readProcTable = (): Map<number, ProcessStat> => {
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
    if (stat !== undefined) table.set(stat.pid, stat)
  }
  return table
}

const readPsTable = (): Map<number, ProcessStat> => {
  const table = new Map<number, ProcessStat>()
  try {
    const out = execFileSync("ps", ["-A", "-o", "pid=,ppid=,pgid=,stat=,lstart="], {
      encoding: "latin1",
      env: { ...process.env, LC_ALL: "C", LANG: "C" },
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
export const readProcessTable = (): ProcessTable => {
  if (hasProcFs) return readProcTable()
  if (process.platform === "win32") return new Map()
  return readPsTable()
}

/**
 * Reads environment variable `name` of process `pid` from `/proc/<pid>/environ` (NUL-separated
 * `NAME=value` entries, as the process was exec'd). Returns `undefined` when the variable is absent, the
 * process is gone or a zombie (empty environ), the caller may not read it (`EACCES`: another user's or a
 * setuid process), or there is no `/proc`. Cost: one small file read.
 *
 * @since 0.1.0
 */
export const readEnvironCookie = (pid: number, name: string): string | undefined => {
  if (!hasProcFs) return undefined
  let environ: string
  try {
    environ = readProcText(`/proc/${pid}/environ`)
  } catch {
    return undefined
  }
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
 * A process-table snapshot shared by concurrent readers: the table, when it was taken (`performance.now()`,
 * real time even under a test clock, because `/proc` changes in real time), and a cookie reader that reads
 * each process's environment at most once per snapshot.
 *
 * @since 0.1.0
 */
export interface Snapshot {
  readonly table: ProcessTable
  readonly takenAt: number
  readonly readCookie: (pid: number, name: string) => string | undefined
}

let latest: Snapshot | undefined

/**
 * Takes a fresh snapshot (see `readProcessTable`) and makes it the one `recentSnapshot` can share.
 *
 * @since 0.1.0
 */
export const takeSnapshot = (): Snapshot => {
  const takenAt = performance.now()
  const table = readProcessTable()
  const readCookie = (pid: number, name: string) => {
    const stat = table.get(pid)
    // Keyed by identity: a recycled pid is a different process and is read afresh.
    const key = `${pid}@${stat?.startTime ?? -1}=${name}`
    if (cookieCache.has(key)) return cookieCache.get(key)
    const value = readEnvironCookie(pid, name)
    if (cookieCache.size >= 50_000) cookieCache.clear()
    cookieCache.set(key, value)
    return value
  }
  const snapshot: Snapshot = { table, takenAt, readCookie }
  latest = snapshot
  return snapshot
}

/**
 * Environment cookies by process identity, across snapshots. `/proc/<pid>/environ` is the environment the
 * process was exec'd with, so it only changes on `execve`; a process that drops the cookie by exec'ing with
 * a cleaned environment is the documented limit of the cookie, and one that carried it was started by the
 * tree either way. Without this cache, two hundred concurrent kills re-read hundreds of environments each
 * round.
 */
const cookieCache = new Map<string, string | undefined>()

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
  return current !== undefined && current.takenAt >= notBefore ? current : takeSnapshot()
}

/** The last snapshot taken, if any (for callers that coalesce walks themselves). */
export const latestSnapshot = (): Snapshot | undefined => latest

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
 * keeps the scan to the few processes started since.
 *
 * @since 0.1.0
 */
export const processesWithCookie = (
  table: ProcessTable,
  cookie: Cookie,
  minStartTime: number,
  readCookie: (pid: number, name: string) => string | undefined = readEnvironCookie
): Array<number> => {
  const found: Array<number> = []
  for (const stat of table.values()) {
    if (stat.startTime < minStartTime) continue
    const value = readCookie(stat.pid, cookie.name)
    if (value !== undefined && value.startsWith(cookie.prefix)) found.push(stat.pid)
  }
  return found
}
