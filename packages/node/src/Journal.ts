/**
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
import * as Effect from "effect/Effect"
import { randomBytes } from "node:crypto"
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writeSync
} from "node:fs"
import { homedir, hostname } from "node:os"
import { join } from "node:path"
import {
  decode,
  encodeCleaned,
  encodeStarted,
  killLeftovers,
  type LeftoverRecord,
  LiveSet,
  PrefixMap,
  specFor
} from "./Leftovers.js"
import { hasProcFs, isAlive, type ProcessIdentity, readIdentity, readStat } from "./ProcessIdentity.js"
import type { TreeRelation, TreeSpec } from "./ProcessTree.js"

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

const SUFFIX = ".journal"

const readBootId = (): string | undefined => {
  if (!hasProcFs) return undefined
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "latin1").trim()
  } catch {
    return undefined
  }
}

const currentBootId = readBootId()

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
    writeFileSync(tmp, text, { mode: 0o600 })
    renameSync(tmp, file)
    const next = openSync(file, "a", 0o600)
    closeSync(fd)
    fd = next
    records = started.size
  }

  const append = (line: string, record: LeftoverRecord) => {
    if (failed || closed) return
    if (record.type === "started") started.getOrCreate(record.cookie, () => []).push(line)
    else started.deletePrefix(record.cookie)
    try {
      writeSync(fd, line)
      if (++records >= compactAfter && records >= 4 * started.size) compact()
    } catch (error) {
      fail(error)
    }
  }

  return {
    file,
    started: (identity, cookie, line) =>
      append(line ?? encodeStarted(identity, cookie), {
        type: "started",
        pid: identity.pid,
        startTime: identity.startTime,
        cookie
      }),
    cleaned: (cookie, line) => append(line ?? encodeCleaned(cookie), { type: "cleaned", cookie }),
    close: () => {
      if (closed) return
      closed = true
      try {
        closeSync(fd)
      } catch {
        // already closed
      }
      // Trees still recorded stay on disk for the next reap; an empty journal goes.
      if (started.size === 0) removeFile(file)
    }
  }
}

/**
 * A process found while reaping: where it was found (`via`, see `ProcessTree.TreeRelation`) and the cookie
 * prefix of the recorded tree it belongs to.
 *
 * @since 0.1.0
 */
export interface ReapedProcess {
  readonly pid: number
  readonly startTime: number
  readonly ppid: number
  readonly pgid: number
  readonly via: TreeRelation
  readonly cookie: string
}

/**
 * What `reap` did with one journal file.
 *
 * - `reaped`: its host is dead; the recorded trees were killed (`found`), and the file was removed unless
 *   something survived.
 * - `host-alive`: its manager is still running; untouched.
 * - `other-machine`: written on another machine (shared state directory); untouched.
 * - `previous-boot`: written before the last reboot, so nothing it names can still run; removed.
 * - `unreadable`: no valid header; untouched.
 *
 * `mismatched` lists recorded roots whose pid is alive but is now another process (different start time): they
 * were not touched.
 *
 * @since 0.1.0
 */
export interface ReapedJournal {
  readonly file: string
  readonly status: "reaped" | "host-alive" | "other-machine" | "previous-boot" | "unreadable"
  readonly host: ProcessIdentity | undefined
  readonly trees: number
  readonly found: ReadonlyArray<ReapedProcess>
  readonly mismatched: ReadonlyArray<ProcessIdentity>
  readonly survivors: ReadonlyArray<ProcessIdentity>
  readonly removed: boolean
}

/**
 * The result of `reap`: one entry per journal file in the directory, and how long it took.
 *
 * @since 0.1.0
 */
export interface ReapReport {
  readonly stateDirectory: string
  readonly dryRun: boolean
  readonly journals: ReadonlyArray<ReapedJournal>
  readonly durationMillis: number
}

/**
 * Options of `reap`: `grace` between SIGTERM and SIGKILL in milliseconds (default 1000); `dryRun` finds and
 * reports without signalling or removing anything.
 *
 * @since 0.1.0
 */
export interface ReapOptions {
  readonly grace?: number | undefined
  readonly dryRun?: boolean | undefined
}

const removeFile = (file: string): boolean => {
  try {
    unlinkSync(file)
    return true
  } catch (error) {
    return typeof error === "object" && error !== null && "code" in error && error.code === "ENOENT"
  }
}

/**
 * Kills the leftovers of every dead manager instance recorded in `stateDirectory` (see the module comment), in
 * one pass over all of them, and reports what it found. Never fails: a missing directory gives an empty report.
 *
 * @since 0.1.0
 */
export const reapPromise = async (stateDirectory: string, options: ReapOptions = {}): Promise<ReapReport> => {
  const startedAt = Date.now()
  const dryRun = options.dryRun === true
  let names: Array<string>
  try {
    names = readdirSync(stateDirectory).filter((name) => name.endsWith(SUFFIX)).toSorted()
  } catch {
    names = []
  }
  const me = hostname()
  const reports: Array<ReapedJournal> = []
  const dead: Array<{ contents: JournalContents; specStart: number; specCount: number }> = []
  const specs: Array<TreeSpec> = []
  const cookies: Array<string> = []
  for (const name of names) {
    const file = join(stateDirectory, name)
    const contents = read(file)
    const base = { file, trees: 0, found: [], mismatched: [], survivors: [], removed: false }
    if (contents === undefined) {
      reports.push({ ...base, status: "unreadable", host: undefined })
      continue
    }
    const { header, live } = contents
    const common = { ...base, host: header.host, trees: live.size }
    if (header.hostname !== me) {
      reports.push({ ...common, status: "other-machine" })
    } else if (header.bootId !== undefined && currentBootId !== undefined && header.bootId !== currentBootId) {
      const removed = !dryRun && removeFile(file)
      if (!dryRun) removeFile(`${file}.tmp`)
      reports.push({ ...common, status: "previous-boot", removed })
    } else if (isAlive(header.host)) {
      reports.push({ ...common, status: "host-alive" })
    } else {
      const entries = live.entries()
      // The host is dead: besides the recorded trees, everything carrying its cookie instance is an orphan.
      const instances = live.instanceSpecs(header.host.startTime)
      dead.push({ contents, specStart: specs.length, specCount: entries.length + instances.length })
      for (const entry of entries) {
        specs.push(specFor(entry.cookie, entry.roots))
        cookies.push(entry.cookie)
      }
      for (const spec of instances) {
        specs.push(spec)
        cookies.push(spec.cookie!.prefix)
      }
    }
  }

  const summary = await killLeftovers(specs, { grace: options.grace ?? 1_000, dryRun })
  for (const { contents, specStart, specCount } of dead) {
    const inRange = (index: number) => index >= specStart && index < specStart + specCount
    const found: Array<ReapedProcess> = summary.found
      .filter((process) => inRange(process.spec))
      .map((process) => ({
        pid: process.pid,
        startTime: process.startTime,
        ppid: process.ppid,
        pgid: process.pgid,
        via: process.via,
        cookie: cookies[process.spec]!
      }))
    const mismatched: Array<ProcessIdentity> = []
    for (const entry of contents.live.entries()) {
      for (const root of entry.roots) {
        const stat = readStat(root.pid)
        if (stat !== undefined && stat.startTime !== root.startTime) mismatched.push(root)
      }
    }
    const survivors = summary.survivors.filter((survivor) =>
      found.some((process) => process.pid === survivor.pid && process.startTime === survivor.startTime)
    )
    let removed = false
    if (!dryRun && survivors.length === 0) {
      removed = removeFile(contents.file)
      removeFile(`${contents.file}.tmp`)
    }
    reports.push({
      file: contents.file,
      status: "reaped",
      host: contents.header.host,
      trees: contents.live.size,
      found,
      mismatched,
      survivors,
      removed
    })
  }
  return {
    stateDirectory,
    dryRun,
    journals: reports.toSorted((a, b) => a.file.localeCompare(b.file)),
    durationMillis: Date.now() - startedAt
  }
}

/**
 * `reapPromise` as an Effect, for `tasks reap` and for managers starting with the journal on.
 *
 * @since 0.1.0
 */
export const reap = (stateDirectory: string, options: ReapOptions = {}): Effect.Effect<ReapReport> =>
  Effect.promise(() => reapPromise(stateDirectory, options)).pipe(Effect.withSpan("Journal.reap"))
