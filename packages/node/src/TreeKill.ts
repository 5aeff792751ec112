/**
 * Killing a task's whole process tree: nothing the task started survives, nothing it did not start is
 * signalled.
 *
 * The kill is a polling loop rather than one pass because the tree moves while it is being killed: a shell
 * keeps forking until it gets the signal, a child escapes to a new session, a process ignores SIGTERM. Every
 * poll re-discovers the tree (`findTree`), signals what has not been signalled yet (always through the
 * identity-checked `signalIfSame`), and stops as soon as nothing is alive. Zombies count as dead, so the loop
 * ends within a poll or two of the last process exiting instead of waiting for init to reap orphans.
 *
 * @since 0.1.0
 */
import { Clock, Deferred, Duration, Effect, Exit, Fiber } from "effect"
import {
  identityKey,
  isDeadState,
  type ProcessIdentity,
  signalGroupIfSame,
  signalIfSame,
  startTimeNow
} from "./ProcessIdentity.js"
import { latestSnapshot, type Snapshot, takeSnapshot } from "./ProcessTable.js"
import { discoverTree, type TreeMember, type TreeSpec } from "./ProcessTree.js"

/**
 * How to kill a tree.
 *
 * - `graceful`: send SIGTERM first and give the processes `grace` to exit, then SIGKILL what is left;
 *   otherwise SIGKILL at once.
 * - `grace`: how long a graceful kill waits before escalating.
 * - `pollInterval`: first delay between polls (default 5 ms); it grows by half each poll up to
 *   `maxPollInterval` (default 50 ms) so a long grace does not keep a core busy, and drops back after
 *   escalation.
 * - `forced`: an effect that completes when the caller upgrades a graceful kill to an immediate one (e.g. a
 *   second revoke); it is started with the kill and interrupted when the kill ends.
 * - `killTimeout`: how long to keep polling after SIGKILL before giving up and reporting survivors
 *   (default 10 seconds; only processes stuck in uninterruptible sleep or owned by another user can need it).
 *
 * @since 0.1.0
 */
export interface KillTreeOptions {
  readonly graceful: boolean
  readonly grace: Duration.Input
  readonly pollInterval?: Duration.Input
  readonly maxPollInterval?: Duration.Input
  readonly forced?: Effect.Effect<void>
  readonly killTimeout?: Duration.Input
}

/**
 * What a kill did: how many distinct processes got a signal, how many got SIGKILL, how long it took,
 * whether a graceful kill had to escalate to SIGKILL, and which processes were still alive when it gave up
 * (empty unless `killTimeout` elapsed).
 *
 * @since 0.1.0
 */
export interface KillTreeSummary {
  readonly signalled: number
  readonly killed: number
  readonly durationMillis: number
  readonly escalated: boolean
  readonly survivors: ReadonlyArray<ProcessIdentity>
}

interface Tracked {
  readonly identity: ProcessIdentity
  term: boolean
  kill: boolean
}

interface Target extends ProcessIdentity {
  /** Process group at the last scan, or -1 for a process known only from an earlier poll. */
  readonly pgid: number
}

let pending: Deferred.Deferred<Snapshot> | undefined

/**
 * Like `recentSnapshot`, but every caller that asks within the same turn of the event loop shares one walk,
 * taken after all of them asked (so after each one's last signal). Two hundred kill loops waking together
 * cost one walk of `/proc` per round instead of two hundred.
 */
const awaitSnapshot = (notBefore: number): Effect.Effect<Snapshot> =>
  Effect.suspend(() => {
    const latest = latestSnapshot()
    if (latest !== undefined && latest.takenAt >= notBefore) return Effect.succeed(latest)
    if (pending === undefined) {
      const round = Deferred.makeUnsafe<Snapshot>()
      pending = round
      setImmediate(() => {
        pending = undefined
        Deferred.doneUnsafe(round, Exit.succeed(takeSnapshot()))
      })
    }
    return Deferred.await(pending)
  })

const toMillis = (input: Duration.Input): number => Math.max(0, Duration.toMillis(input))

/**
 * Kills every process of the tree described by `spec` and waits until none is alive.
 *
 * Each poll: re-discover the tree (so processes forked during the kill, or escaping mid-kill, are caught);
 * signal each root's process group with `kill(-pgid)` while a verified live member is still in it (catches a
 * fork racing the scan); signal every member not yet signalled with the current signal through
 * `signalIfSame` (SIGTERM is sent at most once per process; SIGKILL is repeated each poll, which is harmless
 * and catches anything that slipped through); stop when nothing is alive, zombies counting as dead. A
 * graceful kill escalates to SIGKILL when `grace` elapses or `forced` completes. Safe to call when everything
 * is already dead (returns after one scan). Waits with `Effect.sleep`, so it is interruptible at each poll
 * and runs under `TestClock`; run it uninterruptibly (e.g. in a finalizer) when the guarantee must hold.
 *
 * @since 0.1.0
 */
export const killTree = Effect.fn("TreeKill.killTree")(function*(spec: TreeSpec, options: KillTreeOptions) {
  const started = yield* Clock.currentTimeMillis
  const graceMillis = options.graceful ? toMillis(options.grace) : 0
  const basePoll = Math.max(1, toMillis(options.pollInterval ?? 1))
  const maxPoll = Math.max(basePoll, toMillis(options.maxPollInterval ?? 50))
  const killTimeout = toMillis(options.killTimeout ?? "10 seconds")

  const forcedSignal = yield* Deferred.make<void>()
  const forcedFiber = options.graceful && options.forced !== undefined
    ? yield* options.forced.pipe(
      Effect.exit,
      Effect.andThen(Deferred.succeed(forcedSignal, undefined)),
      Effect.forkChild({ startImmediately: true })
    )
    : undefined
  const waitForForced = Deferred.await(forcedSignal)

  const tracked = new Map<string, Tracked>()
  // Root group -> the start-time clock reading taken just before the group got SIGTERM: members that
  // started strictly earlier were in the group when it was signalled and need no second SIGTERM.
  const groupTermTick = new Map<number, number>()

  const mark = (identity: ProcessIdentity, signal: "SIGTERM" | "SIGKILL") => {
    const key = identityKey(identity)
    let entry = tracked.get(key)
    if (entry === undefined) {
      entry = { identity: { pid: identity.pid, startTime: identity.startTime }, term: false, kill: false }
      tracked.set(key, entry)
    }
    if (signal === "SIGTERM") entry.term = true
    else entry.kill = true
  }

  const signalRound = (
    signal: "SIGTERM" | "SIGKILL",
    members: ReadonlyArray<TreeMember>,
    targets: ReadonlyMap<string, Target>
  ): boolean => {
    let sent = false
    const coveredNow = new Set<string>()
    // Read on every round: the caller may add roots (processes spawned late) while the kill runs.
    for (const pgid of new Set(spec.roots.map((root) => root.pid))) {
      if (signal === "SIGTERM" && groupTermTick.has(pgid)) continue
      const inGroup = members.filter((member) => member.pgid === pgid)
      const witness = inGroup[0]
      if (witness === undefined) continue
      const tick = startTimeNow()
      if (!signalGroupIfSame(pgid, witness, signal)) continue
      sent = true
      if (signal === "SIGTERM") groupTermTick.set(pgid, tick)
      for (const member of inGroup) {
        mark(member, signal)
        coveredNow.add(identityKey(member))
      }
    }
    for (const [key, target] of targets) {
      if (coveredNow.has(key)) continue
      if (signal === "SIGTERM") {
        if (tracked.get(key)?.term === true) continue
        const tick = groupTermTick.get(target.pgid)
        if (tick !== undefined && target.startTime < tick) {
          mark(target, signal)
          continue
        }
      }
      if (signalIfSame(target, signal)) {
        mark(target, signal)
        sent = true
      }
    }
    return sent
  }

  const summary = (now: number, survivors: ReadonlyArray<ProcessIdentity>): KillTreeSummary => {
    let killed = 0
    for (const entry of tracked.values()) if (entry.kill) killed++
    return { signalled: tracked.size, killed, durationMillis: now - started, escalated, survivors }
  }

  let signal: "SIGTERM" | "SIGKILL" = options.graceful ? "SIGTERM" : "SIGKILL"
  let escalated = false
  let killStarted = started
  let delay = basePoll

  // Real time (not the Effect clock): a shared process-table snapshot must be newer than this kill's start
  // and than its last signal, so liveness is never judged from a table older than its own signals.
  let lastSignalled = performance.now()

  const loop = Effect.gen(function*() {
    // Let kills started together (e.g. a shutdown) all begin before the first walk of /proc, so that one
    // walk serves them all.
    yield* Effect.yieldNow
    while (true) {
      const snapshot = yield* awaitSnapshot(Math.max(lastSignalled, performance.now() - delay))
      const members = discoverTree(snapshot.table, spec, { readCookie: snapshot.readCookie })
      const targets = new Map<string, Target>()
      for (const member of members) targets.set(identityKey(member), member)
      for (const [key, entry] of tracked) {
        if (targets.has(key)) continue
        const stat = snapshot.table.get(entry.identity.pid)
        if (stat !== undefined && stat.startTime === entry.identity.startTime && !isDeadState(stat.state)) {
          targets.set(key, { ...entry.identity, pgid: -1 })
        }
      }
      const now = yield* Clock.currentTimeMillis
      if (targets.size === 0) return summary(now, [])
      if (signal === "SIGTERM" && (now - started >= graceMillis || Deferred.isDoneUnsafe(forcedSignal))) {
        signal = "SIGKILL"
        escalated = true
        killStarted = now
        delay = basePoll
      }
      if (signal === "SIGKILL" && now - killStarted >= killTimeout) {
        return summary(now, [...targets.values()].map(({ pid, startTime }) => ({ pid, startTime })))
      }
      if (signalRound(signal, members, targets)) lastSignalled = performance.now()
      if (signal === "SIGTERM") {
        const wait = Math.min(delay, Math.max(0, started + graceMillis - now))
        yield* forcedFiber === undefined ? Effect.sleep(wait) : Effect.raceFirst(Effect.sleep(wait), waitForForced)
      } else {
        yield* Effect.sleep(delay)
      }
      delay = Math.min(maxPoll, delay * 1.5)
    }
  })

  return yield* loop.pipe(Effect.ensuring(forcedFiber === undefined ? Effect.void : Fiber.interrupt(forcedFiber)))
})
