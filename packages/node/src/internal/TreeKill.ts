/**
 * Killing process trees from Effect: the driver of `KillEngine` for revokes, spawns and a task's final sweep.
 *
 * The engine decides; this module observes and waits. Observations are shared: every kill that asks within the
 * same turn of the event loop gets the same snapshot, taken after all of them asked (so after each one's last
 * signal). Two hundred kills of a shutdown cost one walk of `/proc` per round instead of two hundred. A kill of
 * trees this process spawned reads only the pids handed out since their roots (`ProcessTable.takeRangeSnapshot`)
 * while that proves as much as a walk, and its first look is taken at once, so that a spawn whose tree is
 * already gone (the common case) costs a few small reads and no turn of the event loop.
 *
 * Waits are `Effect.sleep`s, so a kill is interruptible between steps and runs under `TestClock`; run it
 * uninterruptibly (e.g. in a finalizer) when the guarantee must hold.
 *
 * @since 0.1.0
 */
import { Clock, Deferred, Duration, Effect, Exit, Fiber } from "effect"
import * as CgroupKill from "./CgroupKill.js"
import * as CgroupTreeKill from "./CgroupTreeKill.js"
import * as KillEngine from "./KillEngine.js"
import {
  covers,
  latestSnapshot,
  type Origin,
  type Snapshot,
  takeRangeSnapshot,
  takeSnapshot,
  type Watch
} from "./ProcessTable.js"
import type { TreeSpec } from "./ProcessTree.js"

/**
 * How to kill a tree.
 *
 * - `graceful`: send the first signal (`termSignal`, default SIGTERM, each followed by SIGCONT) and give the
 *   processes `grace` to exit, then SIGKILL what is left; otherwise SIGKILL at once.
 * - `grace`: how long a graceful kill waits before escalating (`Duration.infinity`: until `forced`).
 * - `pollInterval`: first delay between steps (default 1 ms); it grows by half each step up to
 *   `maxPollInterval` (default 50 ms) so a long grace does not keep a core busy, and drops back after
 *   escalation; for 100 ms after a signal, steps stay at most 4 ms apart (see `KillEngine.KillSettings`).
 * - `forced`: an effect that completes when the caller upgrades a graceful kill to an immediate one (e.g. a
 *   second revoke); it is started with the kill and interrupted when the kill ends.
 * - `killTimeout`: how long to keep sending SIGKILL before giving up and reporting survivors (default 10 s).
 *
 * @since 0.1.0
 */
export interface KillTreeOptions {
  readonly graceful: boolean
  readonly grace: Duration.Input
  readonly termSignal?: NodeJS.Signals | undefined
  readonly pollInterval?: Duration.Input | undefined
  readonly maxPollInterval?: Duration.Input | undefined
  readonly forced?: Effect.Effect<void> | undefined
  readonly killTimeout?: Duration.Input | undefined
}

/**
 * What a kill did (see `KillEngine.KillSummary`).
 *
 * @since 0.1.0
 */
export type KillTreeSummary = KillEngine.KillSummary

interface Round {
  readonly done: Deferred.Deferred<Snapshot>
  /** The oldest origin asked for; undefined once someone needs a full walk. */
  origin: Origin | undefined
  full: boolean
  /** Kills that strike on sight (they have escalated) while the snapshot is taken. */
  readonly watches: Array<Watch>
}

let pending: Round | undefined

/** The oldest origin that shows every tree in `specs`, or undefined when one of them needs a full walk. */
const originOf = (specs: ReadonlyArray<TreeSpec>): Origin | undefined => {
  let oldest: Origin | undefined
  for (const spec of specs) {
    if (spec.origin === undefined) return undefined
    if (oldest === undefined || spec.origin.forks < oldest.forks) oldest = spec.origin
  }
  return oldest
}

const combine = (watches: ReadonlyArray<Watch>): Watch | undefined =>
  watches.length === 0 ? undefined : watches.length === 1 ? watches[0] : (stat) => {
    for (const watch of watches) watch(stat)
  }

const take = (origin: Origin | undefined, watch: Watch | undefined): Snapshot =>
  (origin === undefined ? undefined : takeRangeSnapshot(origin, watch)) ?? takeSnapshot(watch)

/** A snapshot taken at or after `notBefore` that shows trees of `origin`, if one is already there. */
const reusable = (notBefore: number, origin: Origin | undefined): Snapshot | undefined => {
  const latest = latestSnapshot()
  return latest !== undefined && latest.takenAt >= notBefore && covers(latest, origin) ? latest : undefined
}

/** Joins (or opens) the shared observation of this turn of the event loop. */
const awaitSnapshot = (
  notBefore: number,
  origin: Origin | undefined,
  watch: Watch | undefined
): Effect.Effect<Snapshot> =>
  Effect.suspend(() => {
    // A kill that strikes on sight needs a look taken with its watch.
    const ready = watch === undefined ? reusable(notBefore, origin) : undefined
    if (ready !== undefined) return Effect.succeed(ready)
    let round = pending
    if (round === undefined) {
      const opened: Round = { done: Deferred.makeUnsafe<Snapshot>(), origin, full: origin === undefined, watches: [] }
      round = opened
      pending = opened
      setImmediate(() => {
        pending = undefined
        const snapshot = take(opened.full ? undefined : opened.origin, combine(opened.watches))
        Deferred.doneUnsafe(opened.done, Exit.succeed(snapshot))
      })
    }
    if (watch !== undefined) round.watches.push(watch)
    if (origin === undefined) round.full = true
    else if (round.origin !== undefined && origin.forks < round.origin.forks) round.origin = origin
    return Deferred.await(round.done)
  })

const toMillis = (input: Duration.Input | undefined, fallback: number): number => {
  if (input === undefined) return fallback
  const duration = Duration.fromInputUnsafe(input)
  return Duration.isFinite(duration) ? Math.max(0, Duration.toMillis(duration)) : Number.POSITIVE_INFINITY
}

const settingsOf = (options: KillTreeOptions): KillEngine.KillSettings => ({
  graceMillis: options.graceful ? toMillis(options.grace, 0) : 0,
  termSignal: options.termSignal,
  killTimeoutMillis: toMillis(options.killTimeout, 10_000),
  pollMillis: toMillis(options.pollInterval, 1),
  maxPollMillis: toMillis(options.maxPollInterval, 50)
})

const drive = Effect.fn("TreeKill.killTrees")(function*(
  kill: KillEngine.Kill<Snapshot>,
  origin: Origin | undefined,
  first: { readonly step: KillEngine.Step; readonly notBefore: number } | undefined,
  options: KillTreeOptions
) {
  const forcedSignal = yield* Deferred.make<void>()
  const forcedFiber = options.graceful && options.forced !== undefined
    ? yield* options.forced.pipe(
      Effect.exit,
      Effect.andThen(Effect.sync(() => kill.force())),
      Effect.andThen(Deferred.succeed(forcedSignal, undefined)),
      Effect.forkChild({ startImmediately: true })
    )
    : undefined

  // Real time (not the Effect clock): each look must be newer than this kill's start, than its last signals
  // and than the look before it, so liveness is never judged from a table older than its own signals.
  let notBefore = first?.notBefore ?? performance.now()
  let step = first?.step
  const loop = Effect.gen(function*() {
    while (true) {
      if (step !== undefined) {
        if (step._tag === "Done") return step.summary
        if (step.millis > 0) {
          yield* forcedFiber === undefined
            ? Effect.sleep(step.millis)
            : Effect.raceFirst(Effect.sleep(step.millis), Deferred.await(forcedSignal))
        }
      }
      const snapshot = yield* awaitSnapshot(notBefore, origin, kill.watch())
      step = kill.step(snapshot, yield* Clock.currentTimeMillis)
      notBefore = after(snapshot, step)
    }
  })
  return yield* loop.pipe(Effect.ensuring(forcedFiber === undefined ? Effect.void : Fiber.interrupt(forcedFiber)))
})

/** When the next look may be taken: after this kill's signals, else after the look just used. */
const after = (snapshot: Snapshot, step: KillEngine.Step): number =>
  step._tag === "Wait" && step.signalled ? performance.now() : snapshot.takenAt + 0.001

/**
 * Kills every process of the trees described by `specs` and waits until the engine proves them empty (see
 * `KillEngine` for each step, `ProcessTable.Snapshot` for the proof). Safe to call when everything is already
 * dead: it returns after one observation. Trees this process spawned are looked at once, from the pids born since
 * their roots: when that look proves them empty, the kill returns without a fiber, a span or a turn of the event
 * loop (a spawn whose process exited and left nothing, the common case).
 *
 * @since 0.1.0
 */
export const killTrees = (
  specs: ReadonlyArray<TreeSpec>,
  options: KillTreeOptions
): Effect.Effect<KillTreeSummary> => {
  // Trees in cgroups (containment on) are the cgroup method's; the rest, and attached processes, `/proc`'s.
  const { contained, containedIndices, rest, restIndices } = CgroupKill.partition(specs)
  if (contained.length === 0) return killProcTrees(specs, options)
  if (rest.length === 0) return CgroupTreeKill.killTrees(specs, options)
  return Effect.map(
    Effect.all([CgroupTreeKill.killTrees(contained, options), killProcTrees(rest, options)], {
      concurrency: "unbounded"
    }),
    ([inCgroups, inProc]) =>
      CgroupKill.mergeSummaries([
        { summary: inCgroups, indices: containedIndices },
        { summary: inProc, indices: restIndices }
      ])
  )
}

const killProcTrees = (
  specs: ReadonlyArray<TreeSpec>,
  options: KillTreeOptions
): Effect.Effect<KillTreeSummary> =>
  Effect.clockWith((clock) => {
    const startedAt = clock.currentTimeMillisUnsafe()
    const kill = KillEngine.start(KillEngine.procMethod(specs), settingsOf(options), startedAt)
    const origin = originOf(specs)
    const notBefore = performance.now()
    const look = origin === undefined ? undefined : reusable(notBefore, origin) ?? takeRangeSnapshot(origin, undefined)
    if (look === undefined) return drive(kill, origin, undefined, options)
    const step = kill.step(look, startedAt)
    if (step._tag === "Done") return Effect.succeed(step.summary)
    return drive(kill, origin, { step, notBefore: after(look, step) }, options)
  })

/**
 * `killTrees` for one tree.
 *
 * @since 0.1.0
 */
export const killTree = (spec: TreeSpec, options: KillTreeOptions): Effect.Effect<KillTreeSummary> =>
  killTrees([spec], options)
