/**
 * The journal file: its header, its records, replaying it, and the writer a running manager appends with (see
 * `Journal` for what it is for and for `reap`).
 *
 * A journal of the processes a manager's tasks own, for what the guardian cannot cover: the guardian killed
 * together with its host (`kill -9` on both, `pkill -9 node`), or a guardian that could not start.
 *
 * Each manager instance appends to one file in the state directory (`$XDG_STATE_HOME/effect-tasks`, else
 * `~/.local/state/effect-tasks`): a header naming the host (pid + start time, host name, boot id), then one JSON
 * line per process a task started (pid, start time, cookie prefix) and per cookie prefix cleaned up. Lines are
 * written with one `write(2)` each, so they reach the kernel before the call returns and survive the death of
 * the host; the file is compacted as it grows and removed when the manager closes with nothing left.
 *
 * `reap` kills the leftovers of dead instances: journals whose host is no longer alive (by identity, so a host
 * pid now used by another process counts as dead) are replayed, and every tree still recorded is killed by the
 * identity of its roots and by its cookie. A recorded pid that now belongs to an unrelated process (different
 * start time) is never touched. Managers reap at start when the journal is on; `tasks reap` does it by hand.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from "node:fs"
import { homedir, hostname } from "node:os"
import { join } from "node:path"
import {
  decode,
  encodeCgroup,
  encodeCgroupRemoved,
  encodeCleaned,
  encodeStarted,
  type LeftoverRecord,
  LiveSet,
  PrefixMap
} from "./Leftovers.js"
import { hasProcFs, type ProcessIdentity, readIdentity } from "./ProcessIdentity.js"

/**
 * The state directory used when none is given: `$XDG_STATE_HOME/effect-tasks` when `XDG_STATE_HOME` is an
 * absolute path, else `~/.local/state/effect-tasks`.
 *
 * @since 0.1.0
 */
export const defaultStateDirectory = (env: NodeJS.ProcessEnv = process.env): string => {
  const xdg = env.XDG_STATE_HOME
  if (xdg !== undefined && xdg.startsWith("/")) return join(xdg, "effect-tasks")
  return join(homedir(), ".local", "state", "effect-tasks")
}

/**
 * The first line of every journal: who wrote it. `bootId` is Linux's `/proc/sys/kernel/random/boot_id` (start
 * times are clock ticks since boot, so identities from another boot mean nothing); `hostname` keeps a state
 * directory shared between machines (an NFS home) from judging another machine's processes.
 *
 * @since 0.1.0
 */
export interface JournalHeader {
  readonly type: "header"
  readonly version: 1
  readonly host: ProcessIdentity
  readonly hostname: string
  readonly bootId: string | undefined
  readonly platform: string
  readonly createdAt: number
}

/** The name every journal file ends with. */
export const SUFFIX = ".journal"

const readBootId = (): string | undefined => {
  if (!hasProcFs) return undefined
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "latin1").trim()
  } catch {
    return undefined
  }
}

/** This boot's id (Linux), to tell journals of an earlier boot. */
export const currentBootId = readBootId()

const makeHeader = (host: ProcessIdentity): JournalHeader => ({
  type: "header",
  version: 1,
  host,
  hostname: hostname(),
  bootId: currentBootId,
  platform: process.platform,
  createdAt: Date.now()
})

const parseHeader = (line: string): JournalHeader | undefined => {
  try {
    const value = JSON.parse(line) as Partial<JournalHeader>
    if (
      value.type !== "header" || value.version !== 1 || typeof value.host?.pid !== "number" ||
      typeof value.host.startTime !== "number" || typeof value.hostname !== "string"
    ) {
      return undefined
    }
    return value as JournalHeader
  } catch {
    return undefined
  }
}

/**
 * A journal file replayed: its header and the trees still recorded as live.
 *
 * @since 0.1.0
 */
export interface JournalContents {
  readonly file: string
  readonly header: JournalHeader
  readonly live: LiveSet
}

/**
 * Reads and replays one journal file; `undefined` if it cannot be read or has no valid header. Lines that do
 * not parse (a torn last line) are skipped.
 *
 * @since 0.1.0
 */
export const read = (file: string): JournalContents | undefined => {
  let text: string
  try {
    text = readFileSync(file, "utf8")
  } catch {
    return undefined
  }
  const lines = text.split("\n")
  const header = parseHeader(lines[0] ?? "")
  if (header === undefined) return undefined
  const live = new LiveSet()
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!
    if (line.length === 0) continue
    const record = decode(line)
    if (record !== undefined) live.apply(record)
  }
  return { file, header, live }
}

/**
 * The journal of one running manager. `started` / `cleaned` append one line each (`line` may be given
 * pre-encoded, to share it with the guardian's pipe); they never throw: the first write error is handed to
 * `onError` and the journal stops writing. `close` removes the file if nothing is left live, else keeps it for
 * the next `reap`.
 *
 * @since 0.1.0
 */
export interface JournalWriter {
  readonly file: string
  readonly started: (identity: ProcessIdentity, cookie: string, line?: string) => void
  readonly cleaned: (cookie: string, line?: string) => void
  /** Several `cleaned` records at once; `text` is their encoded lines, written with one `write(2)`. */
  readonly cleanedAll: (cookies: ReadonlyArray<string>, text: string) => void
  /** A cgroup the manager made (containment on; `path` undefined for a v1 directory) and its removal. */
  readonly cgroupCreated: (dir: string, path: string | undefined, line?: string) => void
  readonly cgroupRemoved: (dir: string, line?: string) => void
  readonly close: () => void
}

/**
 * Options of `open`: `onError` hears about the first failed write; `compactAfter` is the number of records
 * after which the file is rewritten with only the live trees (default 4096; it also waits until the records
 * outnumber the live trees four to one).
 *
 * @since 0.1.0
 */
export interface OpenOptions {
  readonly onError?: ((error: unknown) => void) | undefined
  readonly compactAfter?: number | undefined
}

/**
 * Creates the state directory (mode 0700) and a fresh journal for this process. Throws if the directory or
 * the file cannot be created.
 *
 * @since 0.1.0
 */
export const open = (stateDirectory: string, options: OpenOptions = {}): JournalWriter => {
  const host = readIdentity(process.pid) ?? { pid: process.pid, startTime: -1 }
  mkdirSync(stateDirectory, { recursive: true, mode: 0o700 })
  const file = join(stateDirectory, `${host.pid}-${host.startTime}-${randomBytes(4).toString("hex")}${SUFFIX}`)
  const headerLine = `${JSON.stringify(makeHeader(host))}\n`
  let fd = openSync(file, "wx", 0o600)
  try {
    writeSync(fd, headerLine)
  } catch (error) {
    closeSync(fd)
    try {
      unlinkSync(file)
    } catch {
      // best effort
    }
    throw error
  }
  // Cookie prefix -> the `started` lines of its live tree (what a compaction keeps).
  const started = new PrefixMap<Array<string>>()
  // Cgroup directory -> its `cgroup` line, while it exists.
  const cgroups = new Map<string, string>()
  const compactAfter = Math.max(16, options.compactAfter ?? 4096)
  let records = 0
  let failed = false
  let closed = false

  const fail = (error: unknown) => {
    if (failed) return
    failed = true
    options.onError?.(error)
  }

  const compact = () => {
    const tmp = `${file}.tmp`
    let text = headerLine
    for (const [, lines] of started.entries()) for (const line of lines) text += line
    for (const line of cgroups.values()) text += line
    writeFileSync(tmp, text, { mode: 0o600 })
    renameSync(tmp, file)
    const next = openSync(file, "a", 0o600)
    closeSync(fd)
    fd = next
    records = started.size + cgroups.size
  }

  /** Applies the records to the live index and writes `text` (their lines, in order) with one `write(2)`. */
  const append = (text: string, batch: ReadonlyArray<{ readonly record: LeftoverRecord; readonly line: string }>) => {
    if (failed || closed) return
    for (const { line, record } of batch) {
      if (record.type === "started") started.getOrCreate(record.cookie, () => []).push(line)
      else if (record.type === "cleaned") started.deletePrefix(record.cookie)
      else if (record.type === "cgroup") cgroups.set(record.dir, line)
      else cgroups.delete(record.dir)
    }
    try {
      writeSync(fd, text)
      records += batch.length
      if (records >= compactAfter && records >= 4 * (started.size + cgroups.size)) compact()
    } catch (error) {
      fail(error)
    }
  }

  return {
    file,
    started: (identity, cookie, line = encodeStarted(identity, cookie)) =>
      append(line, [{ line, record: { type: "started", pid: identity.pid, startTime: identity.startTime, cookie } }]),
    cleaned: (cookie, line = encodeCleaned(cookie)) => append(line, [{ line, record: { type: "cleaned", cookie } }]),
    cleanedAll: (cookies, text) =>
      append(text, cookies.map((cookie) => ({ line: encodeCleaned(cookie), record: { type: "cleaned", cookie } }))),
    cgroupCreated: (dir, path, line = encodeCgroup(dir, path)) =>
      append(line, [{ line, record: path === undefined ? { type: "cgroup", dir } : { type: "cgroup", dir, path } }]),
    cgroupRemoved: (dir, line = encodeCgroupRemoved(dir)) =>
      append(line, [{ line, record: { type: "cgroupRemoved", dir } }]),
    close: () => {
      if (closed) return
      closed = true
      try {
        closeSync(fd)
      } catch {
        // already closed
      }
      // Trees and cgroups still recorded stay on disk for the next reap; an empty journal goes.
      if (started.size === 0 && cgroups.size === 0) removeFile(file)
    }
  }
}

/** Removes `file`; true if it is gone (removed now or already). */
export const removeFile = (file: string): boolean => {
  try {
    unlinkSync(file)
    return true
  } catch (error) {
    return typeof error === "object" && error !== null && "code" in error && error.code === "ENOENT"
  }
}
