import { Revocation, TaskErrors, TaskEvent, TaskManager } from "@effect-tasks/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"
import { collectEvents, settle, type StopMode, stubborn, tagsOf, taskId, withManager } from "./helpers.js"

describe("rule 3: revoke", () => {
  it.effect("an unknown id fails with TaskNotFound", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const error = yield* Effect.flip(tm.revoke(taskId(7)))
      expect(error).toBeInstanceOf(TaskErrors.TaskNotFound)
      expect(error.id).toBe(7)
      expect(error.message).toContain("7")
    }).pipe(withManager()))

  it.effect("a terminal task is returned unchanged and no TaskRevoking is emitted", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const events = yield* collectEvents(tm)
      const task = yield* tm.submit(Effect.succeed(1))
      const done = yield* tm.await(task.id)
      expect(yield* tm.revoke(task.id)).toBe(done)
      expect(yield* tm.revoke(task.id, { graceful: false })).toBe(done)
      expect((yield* tm.get(task.id)).revocation).toBeUndefined()
      yield* tm.shutdown
      expect(tagsOf(yield* Fiber.join(events), task.id)).toEqual([
        "TaskSubmitted:RUNNING",
        "TaskStarted",
        "TaskFinished:SUCCESS"
      ])
    }).pipe(withManager()))

  it.effect("a QUEUED task becomes REVOKED without ever starting", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const events = yield* collectEvents(tm)
      let ran = false
      const first = yield* tm.submit(Effect.never)
      const queued = yield* tm.submit(Effect.sync(() => (ran = true)))
      expect(queued.state).toBe("QUEUED")
      const revoked = yield* tm.revoke(queued.id)
      expect(revoked.state).toBe("REVOKED")
      expect(revoked.startedAt).toBeUndefined()
      expect(revoked.revocation).toEqual({ reason: "user", graceful: true })
      // Its slot was never taken: the running task is untouched and the next task queues behind it.
      expect((yield* tm.get(first.id)).state).toBe("RUNNING")
      expect((yield* tm.submit(Effect.void)).state).toBe("QUEUED")
      yield* tm.revoke(first.id)
      yield* tm.shutdown
      expect(ran).toBe(false)
      expect(tagsOf(yield* Fiber.join(events), queued.id)).toEqual(["TaskSubmitted:QUEUED", "TaskFinished:REVOKED"])
    }).pipe(withManager({ concurrency: 1 })))

  it.effect("a graceful revoke (the default) lets the task's processes use the grace period", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const log: Array<StopMode> = []
      const task = yield* tm.submit(stubborn(log))
      const revoking = yield* tm.revoke(task.id).pipe(Effect.forkChild({ startImmediately: true }))
      yield* TestClock.adjust("2999 millis")
      expect(revoking.pollUnsafe()).toBeUndefined()
      expect((yield* tm.get(task.id)).state).toBe("RUNNING")
      yield* TestClock.adjust("1 millis")
      const done = yield* Fiber.join(revoking)
      expect(log).toEqual(["grace"])
      expect(done.state).toBe("REVOKED")
      expect(done.revocation).toEqual({ reason: "user", graceful: true })
      expect(done.finishedAt).toBe(3000)
    }).pipe(withManager({ grace: "3 seconds" })))

  it.effect("the task's own grace overrides the manager's", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const log: Array<StopMode> = []
      const task = yield* tm.submit(stubborn(log), { grace: "200 millis" })
      const revoking = yield* tm.revoke(task.id).pipe(Effect.forkChild({ startImmediately: true }))
      yield* TestClock.adjust("200 millis")
      expect((yield* Fiber.join(revoking)).finishedAt).toBe(200)
      expect(log).toEqual(["grace"])
    }).pipe(withManager({ grace: "1 minute" })))

  it.effect("graceful: false kills at once, without waiting for the grace period", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const log: Array<StopMode> = []
      const task = yield* tm.submit(stubborn(log))
      const done = yield* tm.revoke(task.id, { graceful: false })
      expect(log).toEqual(["immediate"])
      expect(done.state).toBe("REVOKED")
      expect(done.revocation).toEqual({ reason: "user", graceful: false })
      expect(done.finishedAt).toBe(0)
    }).pipe(withManager({ grace: "1 minute" })))

  it.effect("revoking twice, from two fibers at once, is safe and both callers get the same terminal record", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const events = yield* collectEvents(tm)
      const log: Array<StopMode> = []
      const task = yield* tm.submit(stubborn(log))
      const a = yield* tm.revoke(task.id).pipe(Effect.forkChild({ startImmediately: true }))
      const b = yield* tm.revoke(task.id).pipe(Effect.forkChild({ startImmediately: true }))
      yield* TestClock.adjust("5 seconds")
      const [ra, rb] = [yield* Fiber.join(a), yield* Fiber.join(b)]
      expect(ra).toBe(rb)
      expect(ra.state).toBe("REVOKED")
      expect(log).toEqual(["grace"])
      expect(yield* tm.revoke(task.id)).toBe(ra)
      yield* tm.shutdown
      expect(tagsOf(yield* Fiber.join(events), task.id)).toEqual([
        "TaskSubmitted:RUNNING",
        "TaskStarted",
        "TaskRevoking",
        "TaskFinished:REVOKED"
      ])
    }).pipe(withManager()))

  it.effect("a graceful: false revoke upgrades a graceful one in progress", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const events = yield* collectEvents(tm)
      const log: Array<StopMode> = []
      const task = yield* tm.submit(stubborn(log))
      const gentle = yield* tm.revoke(task.id).pipe(Effect.forkChild({ startImmediately: true }))
      yield* TestClock.adjust("1 second")
      expect((yield* tm.get(task.id)).revocation).toEqual({ reason: "user", graceful: true })
      const hard = yield* tm.revoke(task.id, { graceful: false })
      expect(yield* Fiber.join(gentle)).toBe(hard)
      expect(log).toEqual(["forced"])
      expect(hard.state).toBe("REVOKED")
      expect(hard.finishedAt).toBe(1000)
      // The reason is the first one; only the gracefulness is upgraded.
      expect(hard.revocation).toEqual({ reason: "user", graceful: false })
      yield* tm.shutdown
      const all = yield* Fiber.join(events)
      expect(tagsOf(all, task.id)).toEqual([
        "TaskSubmitted:RUNNING",
        "TaskStarted",
        "TaskRevoking",
        "TaskRevoking",
        "TaskFinished:REVOKED"
      ])
      const revokings = all.flatMap((e) => (e._tag === "TaskRevoking" ? [e.revocation] : []))
      expect(revokings).toEqual([{ reason: "user", graceful: true }, { reason: "user", graceful: false }])
    }).pipe(withManager()))

  it.effect("a graceful revoke does not downgrade a forced one under way", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      // A task whose stop takes a while even when forced, so the second revoke lands mid-stop.
      const task = yield* tm.submit(Effect.never.pipe(Effect.onInterrupt(() => Effect.sleep("1 second"))))
      const hard = yield* tm.revoke(task.id, { graceful: false }).pipe(Effect.forkChild({ startImmediately: true }))
      const soft = yield* tm.revoke(task.id).pipe(Effect.forkChild({ startImmediately: true }))
      yield* settle()
      expect((yield* tm.get(task.id)).revocation).toEqual({ reason: "user", graceful: false })
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(soft)).toBe(yield* Fiber.join(hard))
      expect((yield* tm.get(task.id)).revocation).toEqual({ reason: "user", graceful: false })
    }).pipe(withManager()))
})

describe("rule 3: a revoke's reason", () => {
  it.effect("a caller's reason is recorded, published and given to join; a blank one counts as user", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const events = yield* collectEvents(tm)
      const task = yield* tm.submit(Effect.never)
      const done = yield* tm.revoke(task.id, { reason: "kill-others" })
      expect(done.revocation).toEqual({ reason: "kill-others", graceful: true })
      const error = yield* Effect.flip(tm.join(done as typeof task))
      expect(error).toBeInstanceOf(TaskErrors.TaskRevoked)
      expect(error.reason).toBe("kill-others")
      expect(error.message).toBe(`task ${task.id} was revoked (kill-others)`)
      const blank = yield* tm.submit(Effect.never)
      expect((yield* tm.revoke(blank.id, { reason: "  " })).revocation).toEqual({ reason: "user", graceful: true })
      yield* tm.shutdown
      const published = (yield* Fiber.join(events)).filter((e) => "id" in e && e.id === task.id)
      expect(published.flatMap((e) => "revocation" in e && e.revocation !== undefined ? [e.revocation] : []))
        .toEqual([{ reason: "kill-others", graceful: true }, { reason: "kill-others", graceful: true }])
    }).pipe(withManager()))

  it.effect("an upgrade to graceful: false keeps the first reason; revokeAll takes a reason too", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const log: Array<StopMode> = []
      const task = yield* tm.submit(stubborn(log))
      const first = yield* tm.revoke(task.id, { reason: "deploy" }).pipe(Effect.forkChild({ startImmediately: true }))
      const forced = yield* tm.revoke(task.id, { graceful: false, reason: "impatient" })
      expect(forced.revocation).toEqual({ reason: "deploy", graceful: false })
      expect(yield* Fiber.join(first)).toBe(forced)
      yield* Effect.forEach([1, 2], () => tm.submit(Effect.never))
      const records = yield* tm.revokeAll({ reason: "kill-others", graceful: false })
      expect(records.map((t) => t.revocation)).toEqual([
        { reason: "kill-others", graceful: false },
        { reason: "kill-others", graceful: false }
      ])
    }).pipe(withManager()))

  it("custom reasons are valid in the schemas of Revocation, TaskRevoked and TaskEvent; an empty one is not", () => {
    const revocation = { reason: "kill-others", graceful: true }
    expect(Schema.decodeUnknownSync(Revocation.Revocation)(revocation)).toEqual(revocation)
    expect(Schema.decodeUnknownSync(Revocation.RevocationReason)("timeout")).toBe("timeout")
    const revoked = Schema.decodeUnknownSync(TaskErrors.TaskRevoked)({
      _tag: "TaskRevoked",
      id: 3,
      reason: "kill-others"
    })
    expect(revoked.reason).toBe("kill-others")
    const event = { _tag: "TaskRevoking", id: 3, revocation, at: 10 }
    expect(Schema.decodeUnknownSync(TaskEvent.TaskEvent)(event)).toEqual(event)
    expect(() => Schema.decodeUnknownSync(Revocation.RevocationReason)("")).toThrow()
    expect(() => Schema.decodeUnknownSync(Revocation.Revocation)({ reason: "", graceful: true })).toThrow()
  })
})

describe("rule 4: revokeAll", () => {
  it.effect("revokes every non-terminal task concurrently and returns their terminal records", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const events = yield* collectEvents(tm)
      const log: Array<StopMode> = []
      const finished = yield* tm.submit(Effect.succeed("early"))
      yield* Effect.forEach([1, 2, 3], () => tm.submit(stubborn(log)))
      const serialRunning = yield* tm.submit(Effect.never, { mode: "serial" })
      const serialQueued = yield* tm.submit(Effect.void, { mode: "serial" })
      expect([serialRunning.state, serialQueued.state]).toEqual(["RUNNING", "QUEUED"])
      const revoking = yield* tm.revokeAll().pipe(Effect.forkChild({ startImmediately: true }))
      // Concurrently: one grace period for all three, not three in a row.
      yield* TestClock.adjust("5 seconds")
      const records = yield* Fiber.join(revoking)
      expect(records.map((t) => t.id)).toEqual([2, 3, 4, 5, 6])
      expect(records.every((t) => t.state === "REVOKED")).toBe(true)
      expect(records.every((t) => t.finishedAt !== undefined && t.finishedAt <= 5000)).toBe(true)
      expect(log).toEqual(["grace", "grace", "grace"])
      expect((yield* tm.get(finished.id)).state).toBe("SUCCESS")
      expect(yield* tm.active).toEqual([])
      expect(yield* tm.revokeAll()).toEqual([])
      yield* tm.shutdown
      // The queued task never started, even though slots freed up while revokeAll ran.
      expect(tagsOf(yield* Fiber.join(events), 6)).toEqual(["TaskSubmitted:QUEUED", "TaskFinished:REVOKED"])
    }).pipe(withManager({ concurrency: { serial: 1 } })))

  it.effect("queued tasks are revoked before running ones, so freed slots never start them", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const events = yield* collectEvents(tm)
      let started = 0
      const body = Effect.sync(() => started++).pipe(Effect.andThen(Effect.never))
      yield* Effect.forEach(Array.from({ length: 5 }), () => tm.submit(body))
      expect(started).toBe(2)
      const records = yield* tm.revokeAll({ graceful: false })
      expect(records.map((t) => [t.id, t.state, t.startedAt !== undefined])).toEqual([
        [1, "REVOKED", true],
        [2, "REVOKED", true],
        [3, "REVOKED", false],
        [4, "REVOKED", false],
        [5, "REVOKED", false]
      ])
      expect(started).toBe(2)
      yield* tm.shutdown
      const all = yield* Fiber.join(events)
      expect(all.filter((e) => e._tag === "TaskStarted").map((e) => (e as { id: number }).id)).toEqual([1, 2])
    }).pipe(withManager({ concurrency: 2 })))
})

describe("rule 5: timeout", () => {
  it.effect("when the timeout elapses the task is revoked gracefully with reason timeout", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const events = yield* collectEvents(tm)
      const log: Array<StopMode> = []
      const task = yield* tm.submit(stubborn(log), { timeout: "10 seconds" })
      yield* TestClock.adjust("9999 millis")
      const before = yield* tm.get(task.id)
      expect(before.state).toBe("RUNNING")
      expect(before.revocation).toBeUndefined()
      yield* TestClock.adjust("1 millis")
      const stopping = yield* tm.get(task.id)
      expect(stopping.state).toBe("RUNNING")
      expect(stopping.revocation).toEqual({ reason: "timeout", graceful: true })
      yield* TestClock.adjust("2 seconds")
      const done = yield* tm.await(task.id)
      expect(done.state).toBe("REVOKED")
      expect(done.finishedAt).toBe(12_000)
      expect(log).toEqual(["grace"])
      const error = yield* Effect.flip(tm.join(task))
      expect(error).toBeInstanceOf(TaskErrors.TaskRevoked)
      expect(error).toMatchObject({ id: task.id, reason: "timeout" })
      yield* tm.shutdown
      const finishedEvent = (yield* Fiber.join(events)).find((e) => e._tag === "TaskFinished")
      expect(finishedEvent).toMatchObject({ state: "REVOKED", revocation: { reason: "timeout", graceful: true } })
    }).pipe(withManager({ grace: "2 seconds" })))

  it.effect("a task that finishes in time is not touched by its timeout later", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const task = yield* tm.submit(Effect.sleep("1 second").pipe(Effect.as("ok")), { timeout: "2 seconds" })
      yield* TestClock.adjust("1 second")
      const done = yield* tm.await(task.id)
      yield* TestClock.adjust("10 seconds")
      expect(yield* tm.get(task.id)).toBe(done)
      expect(done.state).toBe("SUCCESS")
      expect(done.revocation).toBeUndefined()
    }).pipe(withManager()))

  it.effect("the timeout counts from the start, not from a wait in the queue", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const first = yield* tm.submit(Effect.sleep("5 seconds"))
      const second = yield* tm.submit(Effect.sleep("3 seconds"), { timeout: "4 seconds" })
      expect(second.state).toBe("QUEUED")
      yield* TestClock.adjust("5 seconds")
      expect((yield* tm.get(first.id)).state).toBe("SUCCESS")
      expect((yield* tm.get(second.id)).state).toBe("RUNNING")
      yield* TestClock.adjust("3 seconds")
      const done = yield* tm.await(second.id)
      expect(done.state).toBe("SUCCESS")
      expect([done.startedAt, done.finishedAt]).toEqual([5000, 8000])
    }).pipe(withManager({ concurrency: 1 })))

  it.effect("a zero timeout revokes the task right away instead of leaving it hanging", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const task = yield* tm.submit(Effect.never, { timeout: 0 })
      const done = yield* tm.await(task.id).pipe(Effect.timeout("1 second"), TestClock.withLive)
      expect(done.state).toBe("REVOKED")
      expect(done.revocation).toEqual({ reason: "timeout", graceful: true })
    }).pipe(withManager()))

  it.effect("a revoke during a task's first synchronous steps reaches it at its first suspension", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const steps: Array<string> = []
      // Under TestClock a zero timeout fires while the task's first steps run.
      const quick = yield* tm.submit(Effect.sync(() => steps.push("quick ran")).pipe(Effect.as(42)), { timeout: 0 })
      const slow = yield* tm.submit(
        Effect.sync(() => steps.push("slow began")).pipe(Effect.andThen(Effect.never)),
        { timeout: 0 }
      )
      expect(steps).toEqual(["quick ran", "slow began"])
      // The quick body completed within its first steps: its outcome stands, the timeout is recorded.
      const quickDone = yield* tm.await(quick.id)
      expect([quickDone.state, quickDone.revocation]).toEqual(["SUCCESS", { reason: "timeout", graceful: true }])
      expect(yield* tm.join(quick)).toBe(42)
      // The slow one was interrupted where it first suspended.
      const slowDone = yield* tm.await(slow.id).pipe(Effect.timeout("1 second"), TestClock.withLive)
      expect([slowDone.state, slowDone.revocation]).toEqual(["REVOKED", { reason: "timeout", graceful: true }])
    }).pipe(withManager()))
})

describe("defaults are the same everywhere", () => {
  it.effect("revoke, revokeAll, timeout and shutdown are all graceful by default", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const a = yield* tm.submit(Effect.never)
      const b = yield* tm.submit(Effect.never)
      const c = yield* tm.submit(Effect.never, { timeout: "1 second" })
      const d = yield* tm.submit(Effect.never)
      expect((yield* tm.revoke(a.id)).revocation).toEqual({ reason: "user", graceful: true })
      yield* TestClock.adjust("1 second")
      expect((yield* tm.await(c.id)).revocation).toEqual({ reason: "timeout", graceful: true })
      expect((yield* tm.revokeAll()).map((t) => [t.id, t.revocation])).toEqual([
        [b.id, { reason: "user", graceful: true }],
        [d.id, { reason: "user", graceful: true }]
      ])
      const e = yield* tm.submit(Effect.never)
      yield* tm.shutdown
      expect((yield* tm.get(e.id)).revocation).toEqual({ reason: "shutdown", graceful: true })
    }).pipe(withManager()))
})
