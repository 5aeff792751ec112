/**
 * The one kill step behind every kill in this package: a revoke, a spawn's scope closing, a task's final sweep,
 * the guardian after its host died, the journal reap and `tasks reap`. It is plain code with no Effect and no
 * timer: a driver (see `TreeKill` for Effect, `Leftovers.killLeftovers` for a promise) takes an observation,
 * calls `step`, and waits as told. A fix to how trees are found, checked, signalled or proven gone lands in
 * every kill at once.
 *
 * Each step:
 * 1. **find**: what of the trees is alive, through the method (`/proc`: `discoverTree` over a snapshot, plus
 *    every process an earlier step found, while its identity lives; a cgroup: its members);
 * 2. **decide**: done when nothing is alive and the observation proves it (a complete snapshot, or two empty
 *    ones in a row when the machine forks too fast to complete one); escalate to SIGKILL when the grace is over
 *    or the kill is forced; give up when SIGKILL has not worked within the kill timeout;
 * 3. **check and signal**, through the method, which checks each process's identity right before `kill(2)`:
 *    the first signal (SIGTERM by default) at most once per process, each followed by SIGCONT so that a
 *    stopped process runs its handler; SIGKILL to everything alive on every step after escalation.
 *
 * A method is where finding, signalling and proving empty happen. `procMethod` (below) works on any POSIX
 * machine; `CgroupKill.method` does the same three duties for trees in cgroups (containment on).
 *
 * @since 0.1.0
 */
import {
  identityKey,
  isDeadState,
  type ProcessIdentity,
  type ProcessStat,
  readCommandLine,
  readStat,
  signalGroupIfSame,
  signalIfSame,
  ticksNow
} from "./ProcessIdentity.js"
import { cookieOf, type Snapshot } from "./ProcessTable.js"
import { currentCaller, discoverTree, type TreeRelation, type TreeSpec } from "./ProcessTree.js"

/**
 * A live process a method found: its identity, its parent and process group when found (-1 when unknown), how
 * it was found, and the index of the tree (spec) it belongs to.
 *
 * @since 0.1.0
 */
export interface Found extends ProcessIdentity {
  readonly ppid: number
  readonly pgid: number
  readonly via: TreeRelation
  readonly spec: number
}

/**
 * What a method saw: the live processes of the trees; whether seeing none proves the trees empty (`proof`);
 * and whether a proof can be had here at all (`provable`: where it cannot, two empty looks in a row are taken
 * as empty, the best a platform without a pid counter allows).
 *
 * @since 0.1.0
 */
export interface Observation {
  readonly alive: ReadonlyArray<Found>
  readonly proof: boolean
  readonly provable: boolean
}

/**
 * How a kill finds, signals and proves empty. `observe` gets the processes earlier steps found (`known`), so
 * that a process that escaped every relation since is still followed while its identity lives. `signalGroups`
 * signals whole groups at once where that is safe (it returns the identities a group signal reached);
 * `signal` checks one process's identity and signals it. Neither may ever signal without an identity check.
 *
 * @since 0.1.0
 */
export interface KillMethod<Input> {
  readonly observe: (input: Input, known: ReadonlyArray<Found>) => Observation
  readonly signalGroups: (
    alive: ReadonlyArray<Found>,
    signals: ReadonlyArray<NodeJS.Signals>,
    skip: (pgid: number) => boolean
  ) => Map<number, ReadonlyArray<Found>>
  readonly signal: (target: ProcessIdentity, signals: ReadonlyArray<NodeJS.Signals>) => boolean
  readonly describe: (target: ProcessIdentity) => string
  /**
   * Whether a process read while an observation is being taken belongs to the trees, judged from that one
   * process alone (its cookie): once a kill has escalated, such a process is killed on sight, before the rest
   * of the walk, which is how a process that forks and exits faster than a walk completes is caught.
   */
  readonly claims?: ((stat: ProcessStat) => Found | undefined) | undefined
}

/**
 * How to kill.
 *
 * - `graceMillis`: between the first signal and SIGKILL; 0 sends SIGKILL at once; `Infinity` waits until forced.
 * - `termSignal`: the first signal of a graceful kill (default SIGTERM).
 * - `killTimeoutMillis`: how long to keep sending SIGKILL before giving up and reporting survivors (default
 *   10 s; only processes in uninterruptible sleep or owned by another user can need it).
 * - `pollMillis` / `maxPollMillis`: the first wait between steps (default 1 ms), growing by half each step up to
 *   the maximum (default 50 ms), back to the first after escalation; for 100 ms after a step that signalled,
 *   steps are at most 4 ms apart (the signalled processes die then, and their end is seen at most 4 ms late).
 * - `dryRun`: find once, signal nothing.
 *
 * @since 0.1.0
 */
export interface KillSettings {
  readonly graceMillis: number
  readonly termSignal?: NodeJS.Signals | undefined
  readonly killTimeoutMillis?: number | undefined
  readonly pollMillis?: number | undefined
  readonly maxPollMillis?: number | undefined
  readonly dryRun?: boolean | undefined
}

/**
 * A process a kill signalled: who it was, how it was found, its command line (read when first signalled) and the
 * last signal it was sent, the one that ended it unless it exited on its own first.
 *
 * @since 0.1.0
 */
export interface Stopped extends Found {
  readonly command: string
  readonly signal: NodeJS.Signals
}

/**
 * What a kill did: every distinct process found (and, unless a dry run, signalled), with what it was sent;
 * how many got SIGKILL; whether a graceful kill had to escalate; what was still alive when it gave up (empty
 * unless the kill timeout elapsed); whether the trees were proven empty (false when it gave up, or when no
 * look could prove it within the kill timeout); how long it took.
 *
 * @since 0.1.0
 */
export interface KillSummary {
  readonly proven: boolean
  readonly found: ReadonlyArray<Found>
  readonly stopped: ReadonlyArray<Stopped>
  readonly signalled: number
  readonly killed: number
  readonly escalated: boolean
  readonly survivors: ReadonlyArray<ProcessIdentity>
  readonly durationMillis: number
}

/**
 * The summary of a kill that could not go on (a look threw): nothing found, nothing proven.
 *
 * @since 0.1.0
 */
export const unproven = (durationMillis: number): KillSummary => ({
  proven: false,
  found: [],
  stopped: [],
  signalled: 0,
  killed: 0,
  escalated: false,
  survivors: [],
  durationMillis
})

/**
 * What the driver does next: observe again after `millis` (`signalled` says whether this step sent anything,
 * so the next observation must be taken after now), or stop with the summary.
 *
 * @since 0.1.0
 */
export type Step =
  | { readonly _tag: "Wait"; readonly millis: number; readonly signalled: boolean }
  | { readonly _tag: "Done"; readonly summary: KillSummary }

/**
 * One kill in progress. `step` is called with a fresh observation input and the current time (ms, from the
 * driver's clock); `force` escalates at the next step.
 *
 * @since 0.1.0
 */
export interface Kill<Input> {
  readonly step: (input: Input, now: number) => Step
  readonly force: () => void
  /** While the kill sends SIGKILL: kills on sight what the method claims (pass it to the next observation). */
  readonly watch: () => ((stat: ProcessStat) => void) | undefined
}

interface Entry {
  found: Found
  command: string
  term: boolean
  last: NodeJS.Signals | undefined
}

// For this long after a signal, looks are at most this far apart (see `start`).
const SETTLE_MILLIS = 100
const SETTLE_POLL_MILLIS = 4

/**
 * Starts a kill of whatever `method` finds, with `settings`, at time `now`.
 *
 * @since 0.1.0
 */
export const start = <Input>(method: KillMethod<Input>, settings: KillSettings, now: number): Kill<Input> => {
  const started = now
  const graceMillis = Math.max(0, settings.graceMillis)
  const termSignal = settings.termSignal ?? "SIGTERM"
  const killTimeout = Math.max(0, settings.killTimeoutMillis ?? 10_000)
  const basePoll = Math.max(1, settings.pollMillis ?? 1)
  const maxPoll = Math.max(basePoll, settings.maxPollMillis ?? 50)
  const entries = new Map<string, Entry>()
  // Group -> start-time reading taken just before the group got the first signal: members that started
  // earlier were in the group when it was signalled and need no signal of their own.
  const groupSignalledAt = new Map<number, number>()
  let kill = graceMillis === 0
  let escalated = false
  let forced = false
  let killStarted = started
  let delay = basePoll
  let emptyLooks = 0
  // Signalled processes mostly die within a few tens of milliseconds: look often then (each look of a spawned
  // tree reads a few small files), so the end is seen at most a short poll late, and back off only after.
  let signalledAt = Number.NEGATIVE_INFINITY

  const entryFor = (found: Found): Entry => {
    const key = identityKey(found)
    let entry = entries.get(key)
    if (entry === undefined) {
      // Read while it still runs, before any signal: a dead process's command line is gone.
      entry = { found, command: method.describe(found), term: false, last: undefined }
      entries.set(key, entry)
    }
    return entry
  }
  const sent = (entry: Entry, signal: NodeJS.Signals) => {
    if (signal !== "SIGKILL") entry.term = true
    // A graceful kill escalated when something still needed SIGKILL.
    else if (graceMillis > 0) escalated = true
    entry.last = signal
  }

  const summary = (
    at: number,
    survivors: ReadonlyArray<ProcessIdentity>,
    proven = survivors.length === 0
  ): KillSummary => {
    const stopped: Array<Stopped> = []
    let killed = 0
    for (const entry of entries.values()) {
      if (entry.last === undefined) continue
      if (entry.last === "SIGKILL") killed++
      stopped.push({ ...entry.found, command: entry.command, signal: entry.last })
    }
    return {
      proven,
      found: Array.from(entries.values(), (entry) => entry.found),
      stopped,
      signalled: stopped.length,
      killed,
      escalated,
      survivors,
      durationMillis: at - started
    }
  }

  const step = (input: Input, now: number): Step => {
    const observation = method.observe(input, Array.from(entries.values(), (entry) => entry.found))
    const alive = observation.alive
    for (const found of alive) entryFor(found)
    if (settings.dryRun === true) return { _tag: "Done", summary: summary(now, []) }
    if (alive.length === 0) {
      if (observation.proof) return { _tag: "Done", summary: summary(now, []) }
      // A look that may have missed a birth proves nothing: look again. Where nothing can prove it, two empty
      // looks in a row are the fallback.
      if (!observation.provable && ++emptyLooks >= 2) return { _tag: "Done", summary: summary(now, []) }
    } else {
      emptyLooks = 0
    }
    // Unproven counts as alive: the grace runs out and the kill escalates (and then strikes on sight).
    if (!kill && (forced || now - started >= graceMillis)) {
      kill = true
      killStarted = now
      delay = basePoll
    }
    if (kill && now - killStarted >= killTimeout) {
      const survivors = alive.map(({ pid, startTime }) => ({ pid, startTime }))
      return { _tag: "Done", summary: summary(now, survivors, false) }
    }
    const signals: ReadonlyArray<NodeJS.Signals> = kill ? ["SIGKILL"] : [termSignal, "SIGCONT"]
    const signal = signals[0]!
    let signalled = false
    const tick = kill || alive.length === 0 ? 0 : ticksNow()
    const reached = alive.length === 0
      ? new Map<number, ReadonlyArray<Found>>()
      : method.signalGroups(alive, signals, (pgid) => !kill && groupSignalledAt.has(pgid))
    const covered = new Set<string>()
    for (const [pgid, members] of reached) {
      signalled = true
      if (!kill) groupSignalledAt.set(pgid, tick)
      for (const member of members) {
        sent(entryFor(member), signal)
        covered.add(identityKey(member))
      }
    }
    for (const found of alive) {
      const key = identityKey(found)
      if (covered.has(key)) continue
      const entry = entryFor(found)
      if (!kill) {
        if (entry.term) continue
        const at = groupSignalledAt.get(found.pgid)
        if (at !== undefined && found.startTime < at) {
          sent(entry, signal)
          continue
        }
      }
      if (method.signal(found, signals)) {
        sent(entry, signal)
        signalled = true
      }
    }

    if (signalled) signalledAt = now
    const cap = now - signalledAt < SETTLE_MILLIS ? Math.max(basePoll, Math.min(maxPoll, SETTLE_POLL_MILLIS)) : maxPoll
    const millis = Math.min(kill ? delay : Math.min(delay, Math.max(0, started + graceMillis - now)), cap)
    delay = Math.min(cap, delay * 1.5)
    return { _tag: "Wait", millis, signalled }
  }

  const claims = method.claims
  const strike = claims === undefined ? undefined : (stat: ProcessStat) => {
    const found = claims(stat)
    if (found === undefined) return
    const entry = entryFor(found)
    if (method.signal(found, ["SIGKILL"])) sent(entry, "SIGKILL")
  }

  return {
    step,
    force: () => {
      forced = true
    },
    watch: () => kill && settings.dryRun !== true ? strike : undefined
  }
}

/**
 * The `/proc` (or `ps`) method over process-table snapshots: `discoverTree` for every spec (roots by identity,
 * their groups and sessions, the parent tree, the environment cookie), the processes earlier steps found while
 * their identity lives, identity-checked signals (`signalIfSame`), and each root's process group signalled at
 * once (`signalGroupIfSame`, with a live member as witness) while a member is in it, which also reaches a
 * process forked after the snapshot. A snapshot proves the trees empty when it is complete (see
 * `ProcessTable.Snapshot`).
 *
 * @since 0.1.0
 */
export const procMethod = (specs: ReadonlyArray<TreeSpec>): KillMethod<Snapshot> => ({
  observe: (snapshot, known) => {
    const alive = new Map<string, Found>()
    if (specs.length === 0) return { alive: [], proof: true, provable: true }
    const caller = currentCaller(snapshot.table)
    const knownBySpec = new Map<number, Array<ProcessIdentity>>()
    for (const found of known) {
      const list = knownBySpec.get(found.spec)
      if (list === undefined) knownBySpec.set(found.spec, [found])
      else list.push(found)
    }
    let uncertain = false
    const onUncertain = () => {
      uncertain = true
    }
    specs.forEach((spec, index) => {
      const members = discoverTree(snapshot.table, spec, {
        caller,
        readCookie: snapshot.readCookie,
        known: knownBySpec.get(index),
        onUncertain
      })
      for (const member of members) {
        const key = identityKey(member)
        if (!alive.has(key)) {
          const { pid, startTime, ppid, pgid, via } = member
          alive.set(key, { pid, startTime, ppid, pgid, via, spec: index })
        }
      }
    })
    return { alive: [...alive.values()], proof: snapshot.complete && !uncertain, provable: snapshot.provable }
  },
  signalGroups: (alive, signals, skip) => {
    const reached = new Map<number, ReadonlyArray<Found>>()
    const callerPgid = readStat(process.pid)?.pgid
    // Read on every step: the caller may add roots (processes spawned late) while the kill runs.
    const rootGroups = new Set<number>()
    for (const spec of specs) for (const root of spec.roots) rootGroups.add(root.pid)
    for (const pgid of rootGroups) {
      if (skip(pgid)) continue
      const inGroup = alive.filter((found) => found.pgid === pgid)
      const witness = inGroup[0]
      if (witness === undefined || !signalGroupIfSame(pgid, witness, signals, callerPgid)) continue
      reached.set(pgid, inGroup)
    }
    return reached
  },
  signal: (target, signals) => signalIfSame(target, signals),
  describe: (target) => readCommandLine(target.pid),
  claims: (stat) => {
    if (stat.pid <= 1 || stat.pid === process.pid || isDeadState(stat.state)) return undefined
    for (let index = 0; index < specs.length; index++) {
      const spec = specs[index]!
      const cookie = spec.cookie
      if (cookie === undefined || cookie.prefix.length === 0 || stat.startTime < spec.minStartTime) continue
      const value = cookieOf(stat, cookie.name)
      if (typeof value === "string" && value.startsWith(cookie.prefix)) {
        return {
          pid: stat.pid,
          startTime: stat.startTime,
          ppid: stat.ppid,
          pgid: stat.pgid,
          via: "cookie",
          spec: index
        }
      }
    }
    return undefined
  }
})
