/**
 * Killing trees in cgroups from Effect: the driver of `KillEngine` with `CgroupKill.method`, for revokes, spawns
 * and a task's final sweep in containment mode (`TreeKill.killTrees` hands contained specs here). Between steps
 * it waits for the kernel's notice on `cgroup.events` (or the poll, or a forcing revoke), and once the trees are
 * proven empty it removes their cgroups.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { isPopulated } from "./Cgroup.js"
import * as CgroupKill from "./CgroupKill.js"
import * as KillEngine from "./KillEngine.js"
import type { TreeSpec } from "./ProcessTree.js"
import type { KillTreeOptions } from "./TreeKill.js"

const toMillis = (input: Duration.Input | undefined, fallback: number): number => {
  if (input === undefined) return fallback
  const duration = Duration.fromInputUnsafe(input)
  return Duration.isFinite(duration) ? Math.max(0, Duration.toMillis(duration)) : Number.POSITIVE_INFINITY
}

/**
 * Kills every process of `specs` (each with a cgroup): the first signal and SIGCONT by pid, the grace,
 * `cgroup.kill`; done when `populated 0` (and no root left outside), then the cgroups are removed.
 *
 * @since 0.1.0
 */
export const killTrees = (
  specs: ReadonlyArray<TreeSpec>,
  options: KillTreeOptions
): Effect.Effect<KillEngine.KillSummary> =>
  Effect.flatMap(Clock.currentTimeMillis, (startedAt) => {
    const kill = KillEngine.start(
      CgroupKill.method(specs),
      CgroupKill.settingsOf({
        graceMillis: options.graceful ? toMillis(options.grace, 0) : 0,
        termSignal: options.termSignal,
        killTimeoutMillis: toMillis(options.killTimeout, 10_000),
        pollMillis: options.pollInterval === undefined ? undefined : toMillis(options.pollInterval, 1),
        maxPollMillis: options.maxPollInterval === undefined ? undefined : toMillis(options.maxPollInterval, 100)
      }),
      startedAt
    )
    // The first look needs no watch: a spawn whose tree is already gone (the common case) ends here.
    let step = kill.step(undefined, startedAt)
    const finish = (summary: KillEngine.KillSummary) =>
      summary.proven && CgroupKill.removeAll(specs).some(isPopulated) ? undefined : summary
    if (step._tag === "Done") {
      const summary = finish(step.summary)
      // A spawn whose tree is already gone costs a few reads and an rmdir: no fiber, no span.
      if (summary !== undefined) return Effect.succeed(summary)
      kill.force()
      step = { _tag: "Wait", millis: 0, signalled: false }
    }
    return waitAndKill(specs, options, kill, step, finish)
  })

const waitAndKill = Effect.fn("CgroupTreeKill.killTrees")(
  function*(
    specs: ReadonlyArray<TreeSpec>,
    options: KillTreeOptions,
    kill: KillEngine.Kill<void>,
    first: KillEngine.Step,
    finish: (summary: KillEngine.KillSummary) => KillEngine.KillSummary | undefined
  ) {
    let step = first
    let woken = Deferred.makeUnsafe<void>()
    let changed = false
    const stop = CgroupKill.watchEvents(specs, () => {
      changed = true
      Deferred.doneUnsafe(woken, Exit.void)
    })
    // A tree that emptied between the first look and the watch would not be heard of before the poll.
    if (!specs.some((spec) => spec.cgroup !== undefined && isPopulated(spec.cgroup.dir))) changed = true
    const forcedFiber = options.graceful && options.forced !== undefined
      ? yield* options.forced.pipe(
        Effect.exit,
        Effect.andThen(Effect.sync(() => {
          kill.force()
          changed = true
          Deferred.doneUnsafe(woken, Exit.void)
        })),
        Effect.forkChild({ startImmediately: true })
      )
      : undefined

    const loop = Effect.gen(function*() {
      while (true) {
        if (step._tag === "Done") {
          const summary = finish(step.summary)
          if (summary !== undefined) return summary
          kill.force()
        } else if (step.millis > 0 && !changed) {
          yield* Effect.raceFirst(Effect.sleep(step.millis), Deferred.await(woken))
        }
        changed = false
        woken = Deferred.makeUnsafe<void>()
        step = kill.step(undefined, yield* Clock.currentTimeMillis)
      }
    })
    return yield* loop.pipe(
      Effect.ensuring(Effect.sync(stop)),
      Effect.ensuring(forcedFiber === undefined ? Effect.void : Fiber.interrupt(forcedFiber))
    )
  }
)
