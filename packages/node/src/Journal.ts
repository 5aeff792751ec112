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
 * identity of its roots and by its cookie, with the same kill as a revoke. A recorded pid that now belongs to an
 * unrelated process (different start time) is never touched. Managers reap at start when the journal is on;
 * `tasks reap` does it by hand.
 *
 * ```ts
 * import { Journal } from "@effect-tasks/node"
 * import { Effect } from "effect"
 *
 * const report = Effect.runPromise(Journal.reap(Journal.defaultStateDirectory(), { dryRun: true }))
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { readdirSync } from "node:fs"
import { hostname } from "node:os"
import { join } from "node:path"
import * as Cgroup from "./internal/Cgroup.js"
import * as JournalFile from "./internal/JournalFile.js"
import { killLeftovers, specFor } from "./internal/Leftovers.js"
import { isAlive, type ProcessIdentity, readStat } from "./internal/ProcessIdentity.js"
import type { TreeRelation, TreeSpec } from "./internal/ProcessTree.js"

/**
 * The state directory used when none is given: `$XDG_STATE_HOME/effect-tasks` when `XDG_STATE_HOME` is an
 * absolute path, else `~/.local/state/effect-tasks`.
 *
 * @since 0.1.0
 * @category configuration
 */
export const defaultStateDirectory: (env?: NodeJS.ProcessEnv) => string = JournalFile.defaultStateDirectory

/**
 * A process found while reaping: where it was found (`via`, see `ProcessTree.TreeRelation`) and the cookie
 * prefix of the recorded tree it belongs to (for a process found in a dead manager's cgroup, that cgroup's
 * directory).
 *
 * @since 0.1.0
 * @category models
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
 * @category models
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
  /** The cgroups of its host (containment on) that were removed (in a dry run: that would be). */
  readonly cgroups: ReadonlyArray<string>
}

/**
 * The result of `reap`: one entry per journal file in the directory, and how long it took.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReapReport {
  readonly stateDirectory: string
  readonly dryRun: boolean
  readonly journals: ReadonlyArray<ReapedJournal>
  /**
   * Cgroups of dead managers that no journal named (found by name next to where this process's own managers
   * make theirs), whose processes were killed and which were removed (in a dry run: would be).
   */
  readonly orphanCgroups: ReadonlyArray<string>
  readonly durationMillis: number
}

/**
 * Options of `reap`: `grace` between SIGTERM and SIGKILL in milliseconds (default 1000); `dryRun` finds and
 * reports without signalling or removing anything.
 *
 * @since 0.1.0
 * @category configuration
 */
export interface ReapOptions {
  readonly grace?: number | undefined
  readonly dryRun?: boolean | undefined
}

const orphanSpec: TreeSpec = { roots: [], cookie: undefined, minStartTime: 0 }

/**
 * Kills the leftovers of every dead manager instance recorded in `stateDirectory` (see the module comment), in
 * one pass over all of them, and reports what it found. Never fails: a missing directory gives an empty report.
 *
 * @since 0.1.0
 * @category reaping
 */
export const reapPromise = async (stateDirectory: string, options: ReapOptions = {}): Promise<ReapReport> => {
  const startedAt = Date.now()
  const dryRun = options.dryRun === true
  let names: Array<string>
  try {
    names = readdirSync(stateDirectory).filter((name) => name.endsWith(JournalFile.SUFFIX)).toSorted()
  } catch {
    names = []
  }
  const me = hostname()
  const reports: Array<ReapedJournal> = []
  const dead: Array<{ contents: JournalFile.JournalContents; specStart: number; specCount: number }> = []
  const specs: Array<TreeSpec> = []
  const cookies: Array<string> = []
  for (const name of names) {
    const file = join(stateDirectory, name)
    const contents = JournalFile.read(file)
    const base = { file, trees: 0, found: [], mismatched: [], survivors: [], removed: false, cgroups: [] }
    if (contents === undefined) {
      reports.push({ ...base, status: "unreadable", host: undefined })
      continue
    }
    const { header, live } = contents
    const common = { ...base, host: header.host, trees: live.size }
    if (header.hostname !== me) {
      reports.push({ ...common, status: "other-machine" })
    } else if (
      header.bootId !== undefined && JournalFile.currentBootId !== undefined &&
      header.bootId !== JournalFile.currentBootId
    ) {
      const removed = !dryRun && JournalFile.removeFile(file)
      if (!dryRun) JournalFile.removeFile(`${file}.tmp`)
      reports.push({ ...common, status: "previous-boot", removed })
    } else if (isAlive(header.host)) {
      reports.push({ ...common, status: "host-alive" })
    } else {
      const entries = live.entries()
      // The host is dead: besides the recorded trees, everything carrying its cookie instance is an orphan, and
      // everything in its cgroups.
      const instances = live.instanceSpecs(header.host.startTime)
      const cgroupSpecs = live.cgroupSpecs()
      dead.push({
        contents,
        specStart: specs.length,
        specCount: entries.length + instances.length + cgroupSpecs.length
      })
      for (const entry of entries) {
        specs.push(specFor(entry.cookie, entry.roots))
        cookies.push(entry.cookie)
      }
      for (const spec of instances) {
        specs.push(spec)
        cookies.push(spec.cookie!.prefix)
      }
      for (const spec of cgroupSpecs) {
        specs.push(spec)
        cookies.push(spec.cgroup!.dir)
      }
    }
  }
  // Managers that died with their guardian and without a journal leave cgroups named after their host.
  const recorded = new Set(dead.flatMap(({ contents }) => contents.live.cgroups().map(({ dir }) => dir)))
  const location = Cgroup.locate()
  const orphans = "unavailable" in location
    ? []
    : [location.base, ...Array.from(location.v1.values(), ({ own }) => own)].flatMap(Cgroup.orphanManagers)
      .filter((dir) => !recorded.has(dir))
  if (!("unavailable" in location)) {
    for (const dir of orphans) {
      if (dir.startsWith(`${location.base}/`)) specs.push({ ...orphanSpec, cgroup: Cgroup.targetOf(location, dir) })
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
    // v2 cgroups were removed by their kill once empty; v1 directories (limits only) are emptied by it.
    const cgroups = contents.live.cgroups().map(({ dir }) => dir)
    const left = dryRun ? [] : cgroups.filter((dir) => !Cgroup.removeTree(dir))
    let removed = false
    if (!dryRun && survivors.length === 0 && left.length === 0) {
      removed = JournalFile.removeFile(contents.file)
      JournalFile.removeFile(`${contents.file}.tmp`)
    }
    reports.push({
      file: contents.file,
      status: "reaped",
      host: contents.header.host,
      trees: contents.live.size,
      found,
      mismatched,
      survivors,
      removed,
      cgroups: cgroups.filter((dir) => !left.includes(dir))
    })
  }
  const orphanCgroups = dryRun ? orphans : orphans.filter(Cgroup.removeTree)
  return {
    stateDirectory,
    dryRun,
    journals: reports.toSorted((a, b) => a.file.localeCompare(b.file)),
    orphanCgroups,
    durationMillis: Date.now() - startedAt
  }
}

/**
 * `reapPromise` as an Effect, for `tasks reap` and for managers starting with the journal on.
 *
 * @since 0.1.0
 * @category reaping
 */
export const reap = (stateDirectory: string, options: ReapOptions = {}): Effect.Effect<ReapReport> =>
  Effect.promise(() => reapPromise(stateDirectory, options)).pipe(Effect.withSpan("Journal.reap"))
