import { CurrentTask, TaskErrors, TaskManager } from "@effect-tasks/core"
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { TestClock } from "effect/testing"
import {
  collectEvents,
  disarmTestClock,
  managerLayer,
  settle,
  type StopMode,
  stubborn,
  withManager
} from "./helpers.js"

describe("rule 9: shutdown", () => {
  it.effect("stops accepting submits, revokes everything gracefully with reason shutdown, returns when all are terminal", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const events = yield* collectEvents(tm)
      const log: Array<StopMode> = []
      const done = yield* tm.submit(Effect.succeed("done before"))
      const running = yield* Effect.forEach([1, 2, 3], () => tm.submit(stubborn(log)))
      let queuedRan = false
      const blocker = yield* tm.submit(Effect.never, { mode: "one" })
      const queued = yield* tm.submit(Effect.sync(() => (queuedRan = true)), { mode: "one" })
      expect(queued.state).toBe("QUEUED")
      const stopping = yield* tm.shutdown.pipe(Effect.forkChild({ startImmediately: true }))
      // While it stops, the manager already refuses work, and the tasks show "stopping".
      expect(yield* Effect.flip(tm.submit(Effect.void))).toBeInstanceOf(TaskErrors.TaskManagerClosed)
      for (const t of running) {
        const record = yield* tm.get(t.id)
        expect(record.state).toBe("RUNNING")
        expect(record.revocation).toEqual({ reason: "shutdown", graceful: true })
      }
      yield* TestClock.adjust("4999 millis")
      expect(stopping.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(stopping)
      expect(log).toEqual(["grace", "grace", "grace"])
      expect(yield* tm.active).toEqual([])
      const list = yield* tm.list
      expect(list.map((t) => [t.id, t.state, t.revocation?.reason])).toEqual([
        [done.id, "SUCCESS", undefined],
        ...running.map((t) => [t.id, "REVOKED", "shutdown"]),
        [blocker.id, "REVOKED", "shutdown"],
        [queued.id, "REVOKED", "shutdown"]
      ])
      // The blocker's slot freed up during shutdown, but the queued task never started.
      expect((yield* tm.get(queued.id)).startedAt).toBeUndefined()
      expect(queuedRan).toBe(false)
      const all = yield* Fiber.join(events)
      expect(all.filter((e) => e._tag === "TaskStarted").length).toBe(5)
      expect(yield* Effect.flip(tm.submit(Effect.void))).toBeInstanceOf(TaskErrors.TaskManagerClosed)
      expect(yield* Effect.flip(tm.run(Effect.void))).toBeInstanceOf(TaskErrors.TaskManagerClosed)
    }).pipe(withManager({ concurrency: { one: 1 } })))

  it.effect("shutdown is idempotent, and concurrent calls all wait until every task is terminal", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const log: Array<StopMode> = []
      const task = yield* tm.submit(stubborn(log))
      const first = yield* tm.shutdown.pipe(Effect.forkChild({ startImmediately: true }))
      const second = yield* tm.shutdown.pipe(Effect.forkChild({ startImmediately: true }))
      yield* settle()
      expect(first.pollUnsafe()).toBeUndefined()
      expect(second.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(first)
      yield* Fiber.join(second)
      const record = yield* tm.get(task.id)
      expect(record.state).toBe("REVOKED")
      yield* tm.shutdown
      yield* tm.shutdown
      expect(yield* tm.get(task.id)).toBe(record)
      expect(log).toEqual(["grace"])
    }).pipe(withManager()))

  it.effect("a non-graceful revoke during shutdown upgrades the stop", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const log: Array<StopMode> = []
      const task = yield* tm.submit(stubborn(log))
      const stopping = yield* tm.shutdown.pipe(Effect.forkChild({ startImmediately: true }))
      yield* TestClock.adjust("1 second")
      const record = yield* tm.revoke(task.id, { graceful: false })
      yield* Fiber.join(stopping)
      expect(log).toEqual(["forced"])
      expect(record.revocation).toEqual({ reason: "shutdown", graceful: false })
      expect(record.finishedAt).toBe(1000)
    }).pipe(withManager()))

  it.effect("closing the layer's scope runs shutdown", () =>
    Effect.gen(function*() {
      yield* disarmTestClock
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(managerLayer({ grace: "2 seconds" }), scope)
      const tm = Context.get(context, TaskManager.TaskManager)
      const log: Array<StopMode> = []
      const tasks = yield* Effect.forEach([1, 2], () => tm.submit(stubborn(log)))
      const closing = yield* Scope.close(scope, Exit.void).pipe(Effect.forkChild({ startImmediately: true }))
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(closing)
      for (const t of tasks) {
        const record = yield* tm.get(t.id)
        expect(record.state).toBe("REVOKED")
        expect(record.revocation).toEqual({ reason: "shutdown", graceful: true })
      }
      expect(log).toEqual(["grace", "grace"])
      expect(yield* Effect.flip(tm.submit(Effect.void))).toBeInstanceOf(TaskErrors.TaskManagerClosed)
    }))

  it.effect("a task may shut its own manager down", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const other = yield* tm.submit(Effect.never)
      const stopper = yield* tm.submit(
        Effect.gen(function*() {
          yield* tm.shutdown
          return yield* CurrentTask.CurrentTask
        })
      )
      const done = yield* tm.await(stopper.id).pipe(Effect.timeout("1 second"), TestClock.withLive)
      expect(done.state).toBe("REVOKED")
      expect(done.revocation?.reason).toBe("shutdown")
      expect((yield* tm.get(other.id)).state).toBe("REVOKED")
      expect(yield* tm.active).toEqual([])
    }).pipe(withManager()))

  it.live("with real time, shutdown returns within the grace period plus a small margin", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const log: Array<StopMode> = []
      yield* Effect.forEach(Array.from({ length: 50 }), () => tm.submit(stubborn(log)))
      yield* Effect.forEach(Array.from({ length: 50 }), () => tm.submit(Effect.never))
      const started = Date.now()
      yield* tm.shutdown
      const elapsed = Date.now() - started
      expect(log.length).toBe(50)
      expect(log.every((how) => how === "grace")).toBe(true)
      expect(yield* tm.active).toEqual([])
      expect(elapsed).toBeGreaterThanOrEqual(295)
      expect(elapsed).toBeLessThan(300 + 250)
    }).pipe(withManager({ grace: "300 millis" })))

  it.effect("limit: a task whose own finalizer never returns keeps shutdown waiting (grace bounds processes only)", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const release = yield* Deferred.make<void>()
      const task = yield* tm.submit(Effect.never.pipe(Effect.ensuring(Deferred.await(release))))
      const stopping = yield* tm.shutdown.pipe(Effect.forkChild({ startImmediately: true }))
      yield* TestClock.adjust("1 hour")
      expect(stopping.pollUnsafe()).toBeUndefined()
      const record = yield* tm.get(task.id)
      expect(record.state).toBe("RUNNING")
      expect(record.revocation).toEqual({ reason: "shutdown", graceful: true })
      // Even a forced revoke cannot cut an Effect finalizer short.
      const forced = yield* tm.revoke(task.id, { graceful: false }).pipe(Effect.forkChild({ startImmediately: true }))
      yield* settle()
      expect(forced.pollUnsafe()).toBeUndefined()
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(stopping)
      expect((yield* Fiber.join(forced)).state).toBe("REVOKED")
    }).pipe(withManager()))
})

describe("shutdown with a deadline", () => {
  it.effect("graceful until the deadline, then forced: a task that only stops on a forced revoke is stopped", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const log: Array<StopMode> = []
      const quick = yield* tm.submit(Effect.never)
      const slow = yield* tm.submit(stubborn(log), { grace: "1 hour" })
      const stopping = yield* tm.shutdownWith({ deadline: "2 seconds" }).pipe(
        Effect.forkChild({ startImmediately: true })
      )
      yield* TestClock.adjust("1999 millis")
      expect(stopping.pollUnsafe()).toBeUndefined()
      expect((yield* tm.get(slow.id)).revocation).toEqual({ reason: "shutdown", graceful: true })
      yield* TestClock.adjust("1 millis")
      const report = yield* Fiber.join(stopping)
      expect(log).toEqual(["forced"])
      expect(report.stuck).toEqual([])
      expect(report.stopped.map((t) => [t.id, t.state, t.revocation])).toEqual([
        [quick.id, "REVOKED", { reason: "shutdown", graceful: true }],
        [slow.id, "REVOKED", { reason: "shutdown", graceful: false }]
      ])
    }).pipe(withManager()))

  it.effect("returns by the deadline plus forceTimeout even when a task's own code does not let go", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      // A finalizer that ignores every revoke: only time ends it.
      const stuck = yield* tm.submit(Effect.ensuring(Effect.never, Effect.sleep("1 minute")))
      const stopping = yield* tm.shutdownWith({ deadline: "1 second", forceTimeout: "500 millis" }).pipe(
        Effect.forkChild({ startImmediately: true })
      )
      yield* TestClock.adjust("1499 millis")
      expect(stopping.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("1 millis")
      const report = yield* Fiber.join(stopping)
      expect(report.stopped).toEqual([])
      expect(report.stuck.map((t) => [t.id, t.state])).toEqual([[stuck.id, "RUNNING"]])
      expect(yield* Effect.flip(tm.submit(Effect.void))).toBeInstanceOf(TaskErrors.TaskManagerClosed)
      // Its revoke goes on: once its finalizer is done it is REVOKED.
      yield* TestClock.adjust("1 minute")
      expect((yield* tm.await(stuck.id)).state).toBe("REVOKED")
    }).pipe(withManager()))

  it.effect("graceful: false kills at once; without a deadline it waits like shutdown", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const log: Array<StopMode> = []
      yield* tm.submit(stubborn(log))
      const report = yield* tm.shutdownWith({ graceful: false })
      expect(log).toEqual(["immediate"])
      expect(report.stuck).toEqual([])
      expect(report.stopped.map((t) => t.revocation)).toEqual([{ reason: "shutdown", graceful: false }])
    }).pipe(withManager()))
})
