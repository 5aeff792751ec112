import { TaskContext, TaskEvent, TaskId, TaskManager } from "@effect-tasks/core"
import { Clock, Effect, Fiber, Layer, Pull, Stream } from "effect"
import type * as Scope from "effect/Scope"
import type { TestClock } from "effect/testing"

/**
 * Works around a quirk of effect 4.1's TestClock: until the clock is first adjusted, every `sleep`
 * forks a "you are not adjusting the clock" warning inside `Effect.interruptible`, so the first
 * `sleep` in the finalizer of an interrupted fiber is itself interrupted and the finalizer is cut
 * short. One `adjust(0)` at the start of a test turns that warning off. No-op on the live clock.
 */
export const disarmTestClock: Effect.Effect<void> = Clock.clockWith((clock) =>
  "adjust" in clock ? (clock as TestClock.TestClock).adjust(0) : Effect.void
)

/**
 * Provides a fresh manager built from `config` for the duration of one test. If the test fails, its
 * tasks are killed at once, so the layer's graceful shutdown does not wait on a TestClock that no
 * one advances any more (a failing test reports at once instead of timing out).
 */
export const withManager =
  (config: TaskManager.TaskManagerConfig = {}) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, Exclude<R, TaskManager.TaskManager>> =>
    Effect.andThen(disarmTestClock, self).pipe(
      Effect.onError(() => TaskManager.TaskManager.use((tm) => tm.revokeAll({ graceful: false }))),
      Effect.provide(TaskManager.layerWith(config))
    )

/** A manager layer, for tests that build it in their own scope. */
export const managerLayer = (config: TaskManager.TaskManagerConfig = {}): Layer.Layer<TaskManager.TaskManager> =>
  TaskManager.layerWith(config)

/** How a simulated process ended: it stopped on its own at SIGTERM, after the grace, or at once. */
export type StopMode = "immediate" | "grace" | "forced"

/**
 * A task that behaves like a process ignoring SIGTERM, built on `TaskContext` exactly as
 * `@effect-tasks/node` uses it: when the task is stopped, its finalizer "kills" at once if the
 * revocation is not graceful, otherwise waits for the grace period or an upgrade to a forced revoke.
 */
export const stubborn = (log: Array<StopMode>) =>
  Effect.gen(function*() {
    const ctx = yield* TaskContext.TaskContext
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        const revocation = ctx.revocationUnsafe()
        if (revocation !== undefined && !revocation.graceful) {
          log.push("immediate")
          return Effect.void
        }
        return Effect.raceFirst(
          Effect.as(Effect.sleep(ctx.grace), "grace" as const),
          Effect.as(ctx.forced, "forced" as const)
        ).pipe(Effect.tap((how) => Effect.sync(() => log.push(how))))
      })
    )
    return yield* Effect.never
  })

/** Subscribes now and collects every event until the manager shuts down (join the fiber after `shutdown`). */
export const collectEvents = (
  tm: TaskManager.TaskManager["Service"]
): Effect.Effect<Fiber.Fiber<Array<TaskEvent.TaskEvent>>, never, Scope.Scope> =>
  Effect.flatMap(tm.subscribe, (stream) =>
    Stream.runCollect(stream).pipe(
      Effect.map((chunk) => Array.from(chunk)),
      Effect.forkChild({ startImmediately: true })
    ))

/** The events of one task, as `_tag`s (with the state for submitted/finished). */
export const tagsOf = (events: ReadonlyArray<TaskEvent.TaskEvent>, id: number): Array<string> =>
  events.flatMap((event) => {
    if (event._tag === "EventsDropped" || event.id !== id) return []
    if (event._tag === "TaskSubmitted" || event._tag === "TaskFinished") return [`${event._tag}:${event.state}`]
    return [event._tag]
  })

/** Yields to the scheduler a few times, so forked fibers and stream consumers catch up. */
export const settle = (times = 5) => Effect.repeat(Effect.yieldNow, { times })

/**
 * Pulls whatever a subscription (from `Stream.toPull`) has buffered right now: one `takeAll`, or
 * nothing if it is empty or the stream has ended.
 */
export const drain = (
  pull: Pull.Pull<ReadonlyArray<TaskEvent.TaskEvent>>
): Effect.Effect<ReadonlyArray<TaskEvent.TaskEvent>> =>
  Effect.raceFirst(
    pull.pipe(Pull.catchDone(() => Effect.succeed([]))),
    Effect.as(Effect.yieldNow, [] as ReadonlyArray<TaskEvent.TaskEvent>)
  )

/** A task id written in a test (checked: a positive integer). */
export const taskId = (n: number): TaskId.TaskId => TaskId.TaskId.make(n)
