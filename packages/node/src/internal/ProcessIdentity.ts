/**
 * Identity of an operating-system process: a pid plus the time the process started.
 *
 * A pid alone is not an identity: once a process is reaped its pid can be handed to an unrelated process
 * (on this kind of machine `pid_max` is 32768, so reuse within a long task is realistic). Pairing the pid with
 * the kernel's start time (field 22 of `/proc/<pid>/stat`) makes "is this still the process we spawned?" a
 * question with a reliable answer, and every signal this package sends is guarded by that question.
 *
 * @since 0.1.0
 */
import { execFileSync } from "node:child_process"
import { closeSync, openSync, readSync } from "node:fs"

/**
 * A process as this package remembers it: the pid and the start time that tells it apart from any later
 * process given the same pid. On Linux `startTime` is in clock ticks since boot (field 22 of
 * `/proc/<pid>/stat`); on other POSIX systems it is whole seconds since the epoch (from `ps -o lstart`).
 * Only compare start times read on the same machine by this module.
 *
 * @since 0.1.0
 */
export interface ProcessIdentity {
  readonly pid: number
  readonly startTime: number
}

/**
 * The fields of `/proc/<pid>/stat` that process-tree discovery needs: the identity, the parent, the process
 * group and session, and the one-letter scheduler state (`R`, `S`, `D`, `Z` for zombie, `X` for dead, ...).
 *
 * @since 0.1.0
 */
export interface ProcessStat extends ProcessIdentity {
  readonly ppid: number
  readonly pgid: number
  /** Session id; `-1` where the platform does not report it (the `ps` fallback on macOS/BSD). */
  readonly sid: number
  readonly state: string
}

const scratch = Buffer.allocUnsafe(16 * 1024)

/**
 * Reads a small `/proc` file synchronously as latin1 text (bytes map 1:1 to UTF-16 code units, so NUL
 * separators and ASCII names survive any encoding in values). `/proc` files report size 0, so this reads
 * into a shared scratch buffer until end of file: about half the cost of `readFileSync`, which matters
 * because a kill loop reads every process's stat on every poll. Throws like `openSync` (`ENOENT`, `EACCES`).
 *
 * @since 0.1.0
 */
export const readProcText = (path: string): string => {
  const fd = openSync(path, "r")
  try {
    let text = ""
    let position = 0
    while (true) {
      const read = readSync(fd, scratch, 0, scratch.length, position)
      if (read === 0) return text
      text += scratch.toString("latin1", 0, read)
      position += read
    }
  } finally {
    closeSync(fd)
  }
}

/**
 * Whether this machine exposes a Linux-style `/proc` (checked once). Discovery, cookies and exact start
 * times depend on it; without it the module falls back to `ps`.
 *
 * @since 0.1.0
 */
export const hasProcFs: boolean = (() => {
  try {
    readProcText("/proc/self/stat")
    return true
  } catch {
    return false
  }
})()

/**
 * Parses the text of a `/proc/<pid>/stat` file. The second field (the command name) is wrapped in
 * parentheses and may itself contain spaces and parentheses, so the remaining fields are split after the
 * LAST `)`. Returns `undefined` for text that does not have the expected shape.
 *
 * @since 0.1.0
 */
export const parseStat = (text: string): ProcessStat | undefined => {
  const open = text.indexOf("(")
  const close = text.lastIndexOf(")")
  if (open < 0 || close < open) return undefined
  const pid = Number(text.slice(0, open).trim())
  // Fields after the command name start at field 3 (state); field N is at index N - 3.
  const rest = text.slice(close + 2).split(" ")
  const state = rest[0]
  const ppid = Number(rest[1])
  const pgid = Number(rest[2])
  const sid = Number(rest[3])
  const startTime = Number(rest[19])
  if (
    state === undefined || state.length !== 1 || !Number.isInteger(pid) || !Number.isInteger(ppid)
    || !Number.isInteger(pgid) || !Number.isInteger(sid) || !Number.isFinite(startTime)
  ) {
    return undefined
  }
  return { pid, ppid, pgid, sid, state, startTime }
}

/**
 * Parses one line of `ps -o pid=,ppid=,pgid=,stat=,lstart=` (the non-Linux fallback). `lstart` is a
 * locale-independent date such as `Mon Jan  1 12:00:00 2024` and becomes whole seconds since the epoch.
 *
 * @since 0.1.0
 */
export const parsePsLine = (line: string): ProcessStat | undefined => {
  const match = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(.+?)\s*$/.exec(line)
  if (match === null) return undefined
  const millis = Date.parse(match[5]!)
  if (!Number.isFinite(millis)) return undefined
  return {
    pid: Number(match[1]),
    ppid: Number(match[2]),
    pgid: Number(match[3]),
    sid: -1,
    state: match[4]!.charAt(0),
    startTime: Math.floor(millis / 1000)
  }
}

/**
 * The environment `ps` runs with: a fixed C locale so that `lstart` parses the same everywhere.
 *
 * @since 0.1.0
 */
export const psEnv: NodeJS.ProcessEnv = { ...process.env, LC_ALL: "C", LANG: "C" }

/**
 * Reads the current stat of one process, or `undefined` if it does not exist (any read error counts as
 * "gone": the process may exit between the directory listing and the read). Linux reads `/proc`; other
 * POSIX systems run `ps -p <pid>` (slow, about a process spawn per call); Windows always answers `undefined`.
 *
 * @since 0.1.0
 */
export const readStat = (pid: number): ProcessStat | undefined => {
  if (!Number.isInteger(pid) || pid <= 0) return undefined
  if (hasProcFs) {
    try {
      return parseStat(readProcText(`/proc/${pid}/stat`))
    } catch {
      return undefined
    }
  }
  if (process.platform === "win32") return undefined
  try {
    const out = execFileSync("ps", ["-o", "pid=,ppid=,pgid=,stat=,lstart=", "-p", String(pid)], {
      encoding: "latin1",
      env: psEnv,
      stdio: ["ignore", "pipe", "ignore"]
    })
    return parsePsLine(out.split("\n")[0] ?? "")
  } catch {
    return undefined
  }
}

/** `PF_EXITING` in the flags of `/proc/<pid>/stat` (field 9): the process has begun to exit. */
const exitingFlag = 0x4

/**
 * Whether a process is the same incarnation and still running, not yet exiting: false once it is gone, reused,
 * a zombie, or past the start of its exit, when its memory (and so its environment) may already be released
 * while its state still reads as running (Linux; elsewhere the same as `isAlive`).
 *
 * @since 0.1.0
 */
export const isRunningNotExiting = (identity: ProcessIdentity): boolean => {
  if (!hasProcFs) return isAlive(identity)
  let text: string
  try {
    text = readProcText(`/proc/${identity.pid}/stat`)
  } catch {
    return false
  }
  const stat = parseStat(text)
  if (stat === undefined || stat.startTime !== identity.startTime || isDeadState(stat.state)) return false
  const flags = Number(text.slice(text.lastIndexOf(")") + 2).split(" ")[6])
  return Number.isFinite(flags) && (flags & exitingFlag) === 0
}

/**
 * Reads the identity (pid + start time) of a live process, typically right after spawning it, so that it
 * can later be signalled without risking pid reuse. Returns `undefined` if the process is already gone.
 *
 * @since 0.1.0
 */
export const readIdentity = (pid: number): ProcessIdentity | undefined => {
  const stat = readStat(pid)
  return stat === undefined ? undefined : { pid: stat.pid, startTime: stat.startTime }
}

/**
 * Whether a scheduler state means the process has finished running: `Z` (zombie, waiting to be reaped)
 * or `X`/`x` (dead). Zombies count as dead: they hold no resources beyond a table slot, and on machines
 * whose PID 1 reaps orphans late they linger for seconds.
 *
 * @since 0.1.0
 */
export const isDeadState = (state: string): boolean => state === "Z" || state === "X" || state === "x"

/**
 * Whether two identities name the same process incarnation.
 *
 * @since 0.1.0
 */
export const sameIdentity = (a: ProcessIdentity, b: ProcessIdentity): boolean =>
  a.pid === b.pid && a.startTime === b.startTime

/**
 * A string key for an identity, for use in `Map`s and `Set`s.
 *
 * @since 0.1.0
 */
export const identityKey = (identity: ProcessIdentity): string => `${identity.pid}@${identity.startTime}`

/**
 * True only if the process still exists with the same start time and is not a zombie. A reused pid or a
 * zombie both answer `false`, so polling loops never wait on a process that has finished.
 *
 * @since 0.1.0
 */
export const isAlive = (identity: ProcessIdentity): boolean => {
  const stat = readStat(identity.pid)
  return stat !== undefined && stat.startTime === identity.startTime && !isDeadState(stat.state)
}

/**
 * Whether `pid` may ever be signalled by this package: never pid 0/1 or negative (groups, init), never this
 * process itself.
 *
 * @since 0.1.0
 */
export const isSignallablePid = (pid: number): boolean => Number.isInteger(pid) && pid > 1 && pid !== process.pid

const errnoCode = (error: unknown): unknown =>
  typeof error === "object" && error !== null && "code" in error ? error.code : undefined

const send = (target: number, signals: NodeJS.Signals | ReadonlyArray<NodeJS.Signals>): boolean => {
  try {
    if (typeof signals === "string") process.kill(target, signals)
    else for (const signal of signals) process.kill(target, signal)
    return true
  } catch (error) {
    const code = errnoCode(error)
    if (code === "ESRCH" || code === "EPERM") return false
    throw error
  }
}

/**
 * Sends `signal` (or several signals, in order) to the process only if it is still the same incarnation: the
 * stat is re-read immediately before `kill(2)` and nothing is sent if the pid is gone, was reused (different
 * start time) or is already a zombie. Never signals pid <= 1 or this process. `ESRCH` (exited meanwhile) and
 * `EPERM` (owned by another user; the caller sees it still alive) are swallowed. Returns whether a signal was
 * sent.
 *
 * @since 0.1.0
 */
export const signalIfSame = (
  identity: ProcessIdentity,
  signal: NodeJS.Signals | ReadonlyArray<NodeJS.Signals>
): boolean => {
  if (!isSignallablePid(identity.pid)) return false
  const stat = readStat(identity.pid)
  if (stat === undefined || stat.startTime !== identity.startTime || isDeadState(stat.state)) return false
  return send(identity.pid, signal)
}

/**
 * Sends `signal` (or several, in order) to the whole process group `pgid` (`kill(-pgid, signal)`), but only
 * while `witness` (a verified member of that group) is still the same live incarnation and still in the group:
 * a group id cannot be reused while any member exists, so the witness proves the group is the one we mean.
 * Never signals group ids <= 1 or the caller's own process group (`callerPgid`, read when not given). Swallows
 * `ESRCH`/`EPERM`; returns whether the signal was sent. This catches a process forked after the last scan but
 * before the signal.
 *
 * @since 0.1.0
 */
export const signalGroupIfSame = (
  pgid: number,
  witness: ProcessIdentity,
  signal: NodeJS.Signals | ReadonlyArray<NodeJS.Signals>,
  callerPgid: number | undefined = readStat(process.pid)?.pgid
): boolean => {
  if (!Number.isInteger(pgid) || pgid <= 1 || pgid === process.pid) return false
  if (callerPgid === undefined || callerPgid === pgid) return false
  const stat = readStat(witness.pid)
  if (
    stat === undefined || stat.startTime !== witness.startTime || stat.pgid !== pgid || isDeadState(stat.state)
  ) {
    return false
  }
  return send(-pgid, signal)
}

/**
 * The command line of a live process (`/proc/<pid>/cmdline`, arguments joined by spaces), else its name from
 * `/proc/<pid>/stat`, else `"?"`. For reports: what the kill stopped.
 *
 * @since 0.1.0
 */
export const readCommandLine = (pid: number): string => {
  if (!hasProcFs) return "?"
  try {
    const text = readProcText(`/proc/${pid}/cmdline`).replace(/\0+$/, "")
    if (text.length > 0) return Buffer.from(text.replaceAll("\0", " "), "latin1").toString("utf8")
    const stat = readProcText(`/proc/${pid}/stat`)
    return stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))
  } catch {
    return "?"
  }
}

/**
 * The current time in the unit of `ProcessIdentity.startTime`: clock ticks since boot on Linux (from
 * `/proc/uptime`, assuming the ABI-fixed USER_HZ of 100), whole epoch seconds elsewhere. A process that
 * started before this reading has `startTime <= startTimeNow()`; use it for a task's `minStartTime`.
 *
 * @since 0.1.0
 */
export const startTimeNow = (): number => {
  if (hasProcFs) {
    try {
      const seconds = Number(readProcText("/proc/uptime").split(" ")[0])
      if (Number.isFinite(seconds)) return Math.floor(seconds * 100)
    } catch {
      // fall through
    }
  }
  return Math.floor(Date.now() / 1000)
}

const calibration: { readonly offset: number } | undefined = (() => {
  if (!hasProcFs) return undefined
  try {
    const seconds = Number(readProcText("/proc/uptime").split(" ")[0])
    // Read after the uptime, so the estimate never runs ahead of the kernel's clock.
    const at = performance.now()
    return Number.isFinite(seconds) ? { offset: Math.floor(seconds * 100) - at / 10 } : undefined
  } catch {
    return undefined
  }
})()

/**
 * `startTimeNow` without a read of `/proc/uptime`: the monotonic clock against one reading taken when this module
 * loaded. It never runs ahead of `startTimeNow` (it lags by under a tick, and by the time the machine spent
 * suspended), which is the safe side for every use here: a task's earliest possible start (more processes are
 * examined, never fewer), a root's exit tick (fewer processes prove a group is still the root's, never more).
 *
 * @since 0.1.0
 */
export const ticksNow = (): number =>
  calibration === undefined ? startTimeNow() : Math.floor(performance.now() / 10 + calibration.offset)
