import { TaskContext, TaskEvent, TaskManager } from "@effect-tasks/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import { collectEvents, drain, settle, tagsOf, withManager } from "./helpers.js"

type Event = TaskEvent.TaskEvent

describe("rule 8: events", () => {
  it.effect("per task, events arrive in order and complete, whatever the outcome", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const events = yield* collectEvents(tm)
      const ok = yield* tm.submit(Effect.succeed(1), { name: "ok", mode: "m" })
      const failed = yield* tm.submit(Effect.fail("boom"))
      const died = yield* tm.submit(Effect.die("kaput"))
      const revoked = yield* tm.submit(Effect.never)
      const queued = yield* tm.submit(Effect.never, { mode: "one" })
      const waiting = yield* tm.submit(Effect.void, { mode: "one" })
      const timed = yield* tm.submit(Effect.never, { timeout: "1 second" })
      yield* tm.revoke(revoked.id)
      yield* tm.revoke(waiting.id)
      yield* TestClock.adjust("1 second")
      yield* tm.await(timed.id)
      yield* tm.revoke(queued.id, { graceful: false })
      yield* tm.shutdown
      const all = yield* Fiber.join(events)
      const life = ["TaskSubmitted:RUNNING", "TaskStarted"]
      expect(tagsOf(all, ok.id)).toEqual([...life, "TaskFinished:SUCCESS"])
      expect(tagsOf(all, failed.id)).toEqual([...life, "TaskFinished:FAILURE"])
      expect(tagsOf(all, died.id)).toEqual([...life, "TaskFinished:FAILURE"])
      expect(tagsOf(all, revoked.id)).toEqual([...life, "TaskRevoking", "TaskFinished:REVOKED"])
      expect(tagsOf(all, queued.id)).toEqual([...life, "TaskRevoking", "TaskFinished:REVOKED"])
      expect(tagsOf(all, waiting.id)).toEqual(["TaskSubmitted:QUEUED", "TaskFinished:REVOKED"])
      expect(tagsOf(all, timed.id)).toEqual([...life, "TaskRevoking", "TaskFinished:REVOKED"])
      // The payloads carry what a UI needs.
      expect(all[0]).toEqual({ _tag: "TaskSubmitted", id: ok.id, name: "ok", mode: "m", state: "RUNNING", at: 0 })
      const finished = (id: number) => all.find((e) => e._tag === "TaskFinished" && e.id === id)
      expect(finished(ok.id)).toEqual({ _tag: "TaskFinished", id: ok.id, state: "SUCCESS", at: 0 })
      expect(finished(failed.id)).toMatchObject({ state: "FAILURE", error: expect.stringContaining("boom") })
      expect(finished(died.id)).toMatchObject({ state: "FAILURE", error: expect.stringContaining("kaput") })
      expect(finished(timed.id)).toMatchObject({ revocation: { reason: "timeout", graceful: true }, at: 1000 })
      expect(finished(queued.id)).toMatchObject({ revocation: { reason: "user", graceful: false } })
      expect(all.some((e) => e._tag === "EventsDropped")).toBe(false)
    }).pipe(withManager({ concurrency: { one: 1 } })))

  it.effect("a subscriber that subscribed before a submit sees all of that task's events, read later", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const stream = yield* tm.subscribe
      // Nobody reads yet: the tasks run and finish first.
      const a = yield* tm.submit(Effect.succeed("a"))
      const b = yield* tm.submit(Effect.never)
      yield* tm.revoke(b.id)
      const consumer = yield* Stream.runCollect(stream).pipe(Effect.forkChild)
      yield* tm.shutdown
      const all = yield* Fiber.join(consumer)
      expect(all.map((e) => [e._tag, "id" in e ? e.id : 0])).toEqual([
        ["TaskSubmitted", a.id],
        ["TaskStarted", a.id],
        ["TaskFinished", a.id],
        ["TaskSubmitted", b.id],
        ["TaskStarted", b.id],
        ["TaskRevoking", b.id],
        ["TaskFinished", b.id]
      ])
    }).pipe(withManager()))

  it.effect("`events` subscribes when it is run: it sees what happens after, not before", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const before = yield* tm.submit(Effect.void)
      const consumer = yield* Stream.runCollect(tm.events).pipe(Effect.forkChild({ startImmediately: true }))
      const after = yield* tm.submit(Effect.void)
      yield* tm.shutdown
      const all = yield* Fiber.join(consumer)
      expect(tagsOf(all, before.id)).toEqual([])
      expect(tagsOf(all, after.id)).toEqual(["TaskSubmitted:RUNNING", "TaskStarted", "TaskFinished:SUCCESS"])
    }).pipe(withManager()))

  it.effect("a subscriber that never reads does not slow the tasks; later it learns how many events it lost", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const stream = yield* tm.subscribe
      for (let i = 0; i < 10_000; i++) yield* tm.submit(Effect.void)
      // All 10 000 tasks completed while the subscriber's buffer was full.
      const list = yield* tm.list
      expect(list.length).toBe(10_000)
      expect(list.every((t) => t.state === "SUCCESS")).toBe(true)
      const consumer = yield* Stream.runCollect(stream).pipe(Effect.forkChild)
      yield* tm.shutdown
      const seen = yield* Fiber.join(consumer)
      expect(seen.length).toBe(17)
      expect(seen.slice(0, 16).map((e) => e._tag)).toEqual(
        Array.from({ length: 16 }, (_, i) => ["TaskSubmitted", "TaskStarted", "TaskFinished"][i % 3])
      )
      expect(seen[16]).toEqual({ _tag: "EventsDropped", count: 30_000 - 16 })
    }).pipe(withManager({ eventBuffer: 16, retain: 10_000 })))

  it.effect("a subscriber that never reads holds at most eventBufferBytes of output: a 100 MB flood drops", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const stream = yield* tm.subscribe
      const chunk = "x".repeat(100_000)
      // 1000 chunks of 100 kB (100 MB) from one task, far fewer events than the event bound of 4096.
      const task = yield* tm.submit(Effect.gen(function*() {
        const ctx = yield* TaskContext.TaskContext
        for (let i = 0; i < 1000; i++) ctx.outputUnsafe(1, "stdout", chunk)
      }))
      yield* tm.await(task.id)
      const consumer = yield* Stream.runCollect(stream).pipe(Effect.forkChild)
      yield* tm.shutdown
      const seen = yield* Fiber.join(consumer)
      const outputs = seen.filter((e) => e._tag === "TaskOutput")
      const held = outputs.reduce((n, e) => n + e.text.length, 0)
      expect(held).toBeLessThanOrEqual(1_048_576)
      expect(outputs.length).toBeGreaterThan(0)
      const dropped = seen.filter((e) => e._tag === "EventsDropped").reduce((n, e) => n + e.count, 0)
      // Every output chunk is either delivered or counted as dropped, and the task's other events all arrive.
      expect(outputs.length + dropped).toBe(1000)
      expect(tagsOf(seen, task.id)).toEqual([
        "TaskSubmitted:RUNNING",
        "TaskStarted",
        ...Array.from({ length: outputs.length }, () => "TaskOutput"),
        "TaskFinished:SUCCESS"
      ])
    }).pipe(withManager({ eventBufferBytes: 1_048_576 })))

  it.effect("dropping is per subscriber: a reader that keeps up loses nothing while a stalled one drops", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const fast = yield* Stream.toPull(yield* tm.subscribe)
      const slow = yield* tm.subscribe
      const fastSeen: Array<Event> = []
      for (let batch = 0; batch < 50; batch++) {
        for (let i = 0; i < 10; i++) yield* tm.submit(Effect.void)
        fastSeen.push(...(yield* drain(fast)))
      }
      expect(fastSeen.length).toBe(1500)
      expect(fastSeen.some((e) => e._tag === "EventsDropped")).toBe(false)
      const consumer = yield* Stream.runCollect(slow).pipe(Effect.forkChild)
      yield* tm.shutdown
      const slowSeen = yield* Fiber.join(consumer)
      expect(slowSeen.length).toBe(65)
      expect(slowSeen.at(-1)).toEqual({ _tag: "EventsDropped", count: 1500 - 64 })
    }).pipe(withManager({ eventBuffer: 64 })))

  it.effect("a reader that falls behind now and then gets a marker at each gap, and the counts add up", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const pull = yield* Stream.toPull(yield* tm.subscribe)
      const seen: Array<Event> = []
      let published = 0
      // Bursts of 7, 2, 13, ... tasks (3 events each) between reads, against a buffer of 20.
      for (let burst = 0; burst < 40; burst++) {
        const n = (burst * 7) % 15
        for (let i = 0; i < n; i++) yield* tm.submit(Effect.void)
        published += 3 * n
        seen.push(...(yield* drain(pull)))
      }
      // End on a burst that overflows, with nothing published after it: the gap must still be reported.
      for (let i = 0; i < 14; i++) yield* tm.submit(Effect.void)
      published += 42
      for (let chunk = yield* drain(pull); chunk.length > 0; chunk = yield* drain(pull)) seen.push(...chunk)
      expect(seen.at(-1)?._tag).toBe("EventsDropped")
      const markers = seen.filter((e): e is Extract<Event, { _tag: "EventsDropped" }> => e._tag === "EventsDropped")
      const delivered = seen.length - markers.length
      expect(markers.length).toBeGreaterThan(0)
      expect(delivered + markers.reduce((n, e) => n + e.count, 0)).toBe(published)
      // Whatever was delivered is still in order per task: no task's events are reordered by a gap.
      const lastTag = new Map<number, string>()
      const rank = { TaskSubmitted: 0, TaskStarted: 1, TaskFinished: 2 } as Record<string, number>
      for (const e of seen) {
        if (e._tag === "EventsDropped") continue
        const previous = lastTag.get(e.id)
        if (previous !== undefined) expect(rank[e._tag]!).toBeGreaterThan(rank[previous]!)
        lastTag.set(e.id, e._tag)
      }
    }).pipe(withManager({ eventBuffer: 20, retain: 10 })))

  it.effect("streams end when the manager shuts down; a subscription after that is empty", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const events = yield* collectEvents(tm)
      yield* tm.submit(Effect.never)
      yield* settle()
      expect(events.pollUnsafe()).toBeUndefined()
      yield* tm.shutdown
      expect((yield* Fiber.join(events)).map((e) => e._tag)).toEqual([
        "TaskSubmitted",
        "TaskStarted",
        "TaskRevoking",
        "TaskFinished"
      ])
      expect(yield* Stream.runCollect(tm.events)).toEqual([])
      expect(yield* Stream.runCollect(yield* tm.subscribe)).toEqual([])
    }).pipe(withManager()))

  it.effect("every event survives the JSON round trip", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const events = yield* collectEvents(tm)
      yield* tm.submit(Effect.fail(new Error("with a message")))
      yield* tm.submit(Effect.never, { timeout: "1 second" })
      yield* TestClock.adjust("1 second")
      yield* tm.shutdown
      const all = yield* Fiber.join(events)
      expect(all.length).toBe(7)
      for (const event of all) {
        const json = TaskEvent.toJsonString(event)
        expect(json).not.toContain("\n")
        expect(TaskEvent.fromJsonString(json)).toEqual(event)
      }
      expect(TaskEvent.toJsonString({ _tag: "EventsDropped", count: 3 })).toBe(
        "{\"_tag\":\"EventsDropped\",\"count\":3}"
      )
      expect(() => TaskEvent.fromJsonString("{\"_tag\":\"Nope\"}")).toThrow()
      expect(() => TaskEvent.fromJsonString("not json")).toThrow()
    }).pipe(withManager()))
})
