/**
 * What a host leaves behind, and how to kill it without the host: the records a manager emits as its tasks'
 * processes start and are cleaned up, the set of trees still live after replaying them, and a kill loop over
 * many trees at once.
 *
 * The guardian (a separate process that must start fast and stay small) and the journal reaper both use this
 * module, so it deliberately imports no Effect code: only `node:` built-ins and the Effect-free kill engine,
 * discovery and identity modules. The kill is `KillEngine`'s, driven by a promise: the same discovery, identity
 * checks and proof of emptiness as a revoke, so a pid that now belongs to another process (different start
 * time) is never signalled and a tree that hides from a walk is still chased down.
 *
 * @since 0.1.0
 */
import * as CgroupKill from "./CgroupKill.js"
import * as KillEngine from "./KillEngine.js"
import { hasProcFs, type ProcessIdentity } from "./ProcessIdentity.js"
import { COOKIE_VARIABLE, takeSnapshot } from "./ProcessTable.js"
import type { TreeSpec } from "./ProcessTree.js"

/**
 * One line of the host-to-guardian pipe and of a journal: a process a task started (its identity and the cookie
 * prefix its descendants carry), or a cookie prefix whose trees have been cleaned up (every record whose cookie
 * starts with it is done).
 *
 * @since 0.1.0
 */
export type LeftoverRecord =
  | { readonly type: "started"; readonly pid: number; readonly startTime: number; readonly cookie: string }
  | { readonly type: "cleaned"; readonly cookie: string }
  | CgroupRecord

/**
 * One line of the host-to-guardian pipe and of a journal about a cgroup a manager made (containment on): `dir`
 * and, for a v2 cgroup, its `path` (kill what is in it, then remove it, should the host die); a v1 directory
 * (kept for limits only) has no path and is only removed. `cgroupRemoved`: the manager removed it.
 *
 * @since 0.1.0
 */
export type CgroupRecord =
  | { readonly type: "cgroup"; readonly dir: string; readonly path?: string | undefined }
  | { readonly type: "cgroupRemoved"; readonly dir: string }

/**
 * Encodes a `cgroup` record as one line of JSON (with the trailing newline).
 *
 * @since 0.1.0
 */
export const encodeCgroup = (dir: string, path: string | undefined): string =>
  `${JSON.stringify(path === undefined ? { type: "cgroup", dir } : { type: "cgroup", dir, path })}\n`

/**
 * Encodes a `cgroupRemoved` record as one line of JSON (with the trailing newline).
 *
 * @since 0.1.0
 */
export const encodeCgroupRemoved = (dir: string): string => `${JSON.stringify({ type: "cgroupRemoved", dir })}\n`

/**
 * Encodes a `started` record as one line of JSON (with the trailing newline).
 *
 * @since 0.1.0
 */
export const encodeStarted = (identity: ProcessIdentity, cookie: string): string =>
  `{"type":"started","pid":${identity.pid},"startTime":${identity.startTime},"cookie":${JSON.stringify(cookie)}}\n`

/**
 * Encodes a `cleaned` record as one line of JSON (with the trailing newline).
 *
 * @since 0.1.0
 */
export const encodeCleaned = (cookie: string): string => `{"type":"cleaned","cookie":${JSON.stringify(cookie)}}\n`

/**
 * The last line a host writes to its guardian before it ends the pipe on purpose (its manager has shut down):
 * the host is alive, so only the trees it still owns are killed. A pipe that ends without it means the host
 * died (or is dying).
 *
 * @since 0.1.0
 */
export const CLOSE_LINE = `{"type":"close"}\n`

/**
 * Decodes one line; anything that is not a well-formed record (a torn last line, garbage) gives `undefined`.
 *
 * @since 0.1.0
 */
export const decode = (line: string): LeftoverRecord | undefined => {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    return undefined
  }
  if (typeof value !== "object" || value === null) return undefined
  const record = value as Record<string, unknown>
  if (typeof record.dir === "string" && record.dir.startsWith("/")) {
    if (record.type === "cgroupRemoved") return { type: "cgroupRemoved", dir: record.dir }
    if (record.type === "cgroup" && (record.path === undefined || typeof record.path === "string")) {
      return record.path === undefined
        ? { type: "cgroup", dir: record.dir }
        : { type: "cgroup", dir: record.dir, path: record.path }
    }
    return undefined
  }
  if (typeof record.cookie !== "string" || record.cookie.length === 0) return undefined
  if (record.type === "cleaned") return { type: "cleaned", cookie: record.cookie }
  if (
    record.type === "started" && typeof record.pid === "number" && Number.isInteger(record.pid) &&
    typeof record.startTime === "number" && Number.isFinite(record.startTime)
  ) {
    return { type: "started", pid: record.pid, startTime: record.startTime, cookie: record.cookie }
  }
  return undefined
}

/**
 * A map keyed by cookie prefixes (`"instance/task/spawn/"`) that can drop every key starting with a given prefix
 * in time proportional to what it drops: each key is also indexed under each of its `/`-terminated ancestors
 * (`"instance/"`, `"instance/task/"`). A prefix that does not end in `/` falls back to a scan.
 *
 * @since 0.1.0
 */
export class PrefixMap<V> {
  private readonly values = new Map<string, V>()
  private readonly under = new Map<string, Set<string>>()

  /** The value at `key`, created with `make` if absent. */
  getOrCreate(key: string, make: () => V): V {
    let value = this.values.get(key)
    if (value === undefined) {
      value = make()
      this.values.set(key, value)
      for (let i = key.indexOf("/"); i >= 0 && i < key.length - 1; i = key.indexOf("/", i + 1)) {
        const ancestor = key.slice(0, i + 1)
        const set = this.under.get(ancestor)
        if (set === undefined) this.under.set(ancestor, new Set([key]))
        else set.add(key)
      }
    }
    return value
  }

  /** Removes `prefix` itself and every key that starts with it. */
  deletePrefix(prefix: string): void {
    this.deleteKey(prefix)
    if (prefix.endsWith("/")) {
      const keys = this.under.get(prefix)
      // Deleting from a Set while iterating it is safe: entries not yet visited are skipped.
      if (keys !== undefined) { for (const key of keys) this.deleteKey(key) }
      return
    }
    for (const key of this.values.keys()) if (key.startsWith(prefix)) this.deleteKey(key)
  }

  private deleteKey(key: string): void {
    if (!this.values.delete(key)) return
    for (let i = key.indexOf("/"); i >= 0 && i < key.length - 1; i = key.indexOf("/", i + 1)) {
      const ancestor = key.slice(0, i + 1)
      const set = this.under.get(ancestor)
      if (set === undefined) continue
      set.delete(key)
      if (set.size === 0) this.under.delete(ancestor)
    }
  }

  get size(): number {
    return this.values.size
  }

  entries(): IterableIterator<[string, V]> {
    return this.values.entries()
  }
}

/**
 * The trees a host still owns: cookie prefix -> the root processes started under it (a spawn has one root; a
 * task prefix collects every process attached by pid). Built by replaying records in order.
 *
 * @since 0.1.0
 */
export class LiveSet {
  private readonly trees = new PrefixMap<Array<ProcessIdentity>>()
  private readonly instances = new Set<string>()
  private readonly cgroupDirs = new Map<string, string | undefined>()

  /**
   * Applies one record: `started` adds a root, `cleaned` drops every tree whose cookie starts with it, `cgroup`
   * and `cgroupRemoved` add and drop a cgroup.
   */
  apply(record: LeftoverRecord): void {
    if (record.type === "cgroup") this.cgroupDirs.set(record.dir, record.path)
    else if (record.type === "cgroupRemoved") this.cgroupDirs.delete(record.dir)
    else if (record.type === "started") {
      this.trees.getOrCreate(record.cookie, () => []).push({ pid: record.pid, startTime: record.startTime })
      const slash = record.cookie.indexOf("/")
      if (slash > 0 && slash < record.cookie.length - 1) this.instances.add(record.cookie.slice(0, slash + 1))
    } else {
      this.trees.deletePrefix(record.cookie)
    }
  }

  /** Number of trees (cookies) still live. */
  get size(): number {
    return this.trees.size
  }

  /** Every live tree: its cookie prefix and roots. */
  entries(): Array<{ readonly cookie: string; readonly roots: ReadonlyArray<ProcessIdentity> }> {
    return Array.from(this.trees.entries(), ([cookie, roots]) => ({ cookie, roots }))
  }

  /** The cgroups still there: each directory and, for a v2 cgroup, its path. */
  cgroups(): Array<{ readonly dir: string; readonly path: string | undefined }> {
    return Array.from(this.cgroupDirs, ([dir, path]) => ({ dir, path }))
  }

  /** The v2 cgroups still there, as specs of the cgroup kill (everything in them, then their removal). */
  cgroupSpecs(): Array<TreeSpec> {
    return this.cgroups().flatMap(({ dir, path }) =>
      path === undefined ? [] : [{ roots: [], cookie: undefined, minStartTime: 0, cgroup: { dir, path } }]
    )
  }

  /** Every live tree as a discovery spec (see `specFor`). */
  specs(): Array<TreeSpec> {
    return this.entries().map(({ cookie, roots }) => specFor(cookie, roots))
  }

  /**
   * The instance prefixes seen (`"<host pid>-<random>/"`, the first segment of every cookie), as specs that
   * match every process carrying them, started no earlier than `minStartTime` (the host's start). Only for a
   * host known to be dead: then anything carrying its cookie is an orphan, including a process spawned just
   * before the host died and not recorded yet, or one a kill gave up on. Empty without `/proc`.
   */
  instanceSpecs(minStartTime: number): Array<TreeSpec> {
    if (!hasProcFs) return []
    return Array.from(this.instances, (prefix) => ({
      roots: [],
      cookie: { name: COOKIE_VARIABLE, prefix },
      minStartTime: Math.max(0, minStartTime)
    }))
  }
}

/**
 * The discovery spec for one recorded tree: its roots by identity plus, where `/proc` exists, its cookie prefix.
 * A descendant carrying the cookie started no earlier than the earliest root, which bounds the environment
 * reads. Without `/proc` there is no cookie to read, so the spec omits it and discovery follows the dead roots'
 * groups instead.
 *
 * @since 0.1.0
 */
export const specFor = (cookie: string, roots: ReadonlyArray<ProcessIdentity>): TreeSpec => {
  let minStartTime = Number.POSITIVE_INFINITY
  for (const root of roots) minStartTime = Math.min(minStartTime, root.startTime)
  if (!Number.isFinite(minStartTime) || minStartTime < 0) minStartTime = 0
  return {
    roots: roots.filter((root) => root.startTime >= 0),
    cookie: hasProcFs ? { name: COOKIE_VARIABLE, prefix: cookie } : undefined,
    minStartTime
  }
}

/**
 * How to kill leftovers: `grace` in milliseconds between SIGTERM and SIGKILL (0: SIGKILL at once); `dryRun`
 * discovers once and signals nothing. The rest is `KillEngine`'s, as for every kill.
 *
 * @since 0.1.0
 */
export interface KillLeftoversOptions {
  readonly grace: number
  readonly dryRun?: boolean | undefined
}

const nothingToKill: KillEngine.KillSummary = { ...KillEngine.unproven(0), proven: true }

/**
 * Kills every tree in `specs` and resolves when the engine proves them empty (see `KillEngine`): one walk of
 * `/proc` per step serves every spec, a process's cookie is read at most once, and a process found once stays a
 * target while its identity lives. The summary's `found` says which spec found each process.
 *
 * Never rejects: a failing step ends the kill with what it found so far.
 *
 * @since 0.1.0
 */
export const killLeftovers = async (
  specs: ReadonlyArray<TreeSpec>,
  options: KillLeftoversOptions
): Promise<KillEngine.KillSummary> => {
  // Nothing to kill is proven gone without a look: a manager's start reaps with no specs at all, most of the time.
  if (specs.length === 0) return nothingToKill
  // Trees in cgroups (a dead manager's) are the cgroup method's; the rest `/proc`'s.
  const { contained, containedIndices, rest, restIndices } = CgroupKill.partition(specs)
  if (contained.length === 0) return killProcLeftovers(specs, options)
  const settings = { graceMillis: Math.max(0, options.grace), dryRun: options.dryRun }
  const [inCgroups, inProc] = await Promise.all([
    CgroupKill.killPromise(contained, settings),
    rest.length === 0 ? undefined : killProcLeftovers(rest, options)
  ])
  return CgroupKill.mergeSummaries([
    { summary: inCgroups, indices: containedIndices },
    ...(inProc === undefined ? [] : [{ summary: inProc, indices: restIndices }])
  ])
}

const killProcLeftovers = async (
  specs: ReadonlyArray<TreeSpec>,
  options: KillLeftoversOptions
): Promise<KillEngine.KillSummary> => {
  const started = Date.now()
  const kill = KillEngine.start(KillEngine.procMethod(specs), {
    graceMillis: Math.max(0, options.grace),
    dryRun: options.dryRun
  }, started)
  while (true) {
    let step: KillEngine.Step
    try {
      step = kill.step(takeSnapshot(kill.watch()), Date.now())
    } catch {
      return KillEngine.unproven(Date.now() - started)
    }
    if (step._tag === "Done") return step.summary
    if (step.millis > 0) await new Promise<void>((resolve) => setTimeout(resolve, step.millis))
  }
}
