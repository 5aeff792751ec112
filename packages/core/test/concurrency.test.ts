import { TaskManager } from "@effect-tasks/core"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { collectEvents, settle, taskId, withManager } from "./helpers.js"

/** A task that logs its start and then waits for its own gate. */
const gated = (log: Array<number>, n: number, gate: Deferred.Deferred<void>) =>
  Effect.sync(() => log.push(n)).pipe(Effect.andThen(Deferred.await(gate)))

describe("rule 6: concurrency limits", () => {
  it.effect("a global limit queues excess tasks and starts them in submission order as slots free up", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const started: Array<number> = []
      const gates = yield* Effect.forEach(Array.from({ length: 6 }), () => Deferred.make<void>())
      const tasks = yield* Effect.forEach(gates, (gate, i) => tm.submit(gated(started, i + 1, gate)))
      expect(tasks.map((t) => t.state)).toEqual(["RUNNING", "RUNNING", "QUEUED", "QUEUED", "QUEUED", "QUEUED"])
      expect(started).toEqual([1, 2])
      expect((yield* tm.active).map((t) => t.state)).toEqual(tasks.map((t) => t.state))
      // Free the second slot first: the oldest queued task (3) takes it, not the newest.
      yield* Deferred.succeed(gates[1]!, undefined)
      yield* tm.await(taskId(2))
      expect(started).toEqual([1, 2, 3])
      yield* Deferred.succeed(gates[0]!, undefined)
      yield* tm.await(taskId(1))
      expect(started).toEqual([1, 2, 3, 4])
      yield* Effect.forEach(gates, (gate) => Deferred.succeed(gate, undefined))
      const done = yield* Effect.forEach(tasks, (t) => tm.await(t.id))
      expect(done.map((t) => t.state)).toEqual(Array(6).fill("SUCCESS"))
      expect(started).toEqual([1, 2, 3, 4, 5, 6])
      // Never more than two ran at once: every task started after the one two places earlier finished.
      for (let i = 2; i < done.length; i++) expect(done[i]!.startedAt! >= done[i - 2]!.finishedAt!).toBe(true)
    }).pipe(withManager({ concurrency: 2 })))

  it.effect("a limit per mode holds only that mode; modes not listed are unlimited", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const builds = yield* Effect.forEach([1, 2, 3], () => tm.submit(Effect.never, { mode: "build" }))
      const deploys = yield* Effect.forEach([1, 2, 3], () => tm.submit(Effect.never, { mode: "deploy" }))
      const others = yield* Effect.forEach([1, 2, 3], () => tm.submit(Effect.never))
      expect(builds.map((t) => t.state)).toEqual(["RUNNING", "QUEUED", "QUEUED"])
      expect(deploys.map((t) => t.state)).toEqual(["RUNNING", "RUNNING", "QUEUED"])
      expect(others.map((t) => t.state)).toEqual(["RUNNING", "RUNNING", "RUNNING"])
      // A free deploy slot does not start a build.
      yield* tm.revoke(deploys[0]!.id)
      expect((yield* tm.get(deploys[2]!.id)).state).toBe("RUNNING")
      expect((yield* tm.get(builds[1]!.id)).state).toBe("QUEUED")
      yield* tm.revoke(builds[0]!.id)
      expect((yield* tm.get(builds[1]!.id)).state).toBe("RUNNING")
      expect((yield* tm.get(builds[2]!.id)).state).toBe("QUEUED")
    }).pipe(withManager({ concurrency: { build: 1, deploy: 2 } })))

  it.effect("a global number limits all modes together", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const a = yield* tm.submit(Effect.never, { mode: "a" })
      const b = yield* tm.submit(Effect.never, { mode: "b" })
      expect([a.state, b.state]).toEqual(["RUNNING", "QUEUED"])
    }).pipe(withManager({ concurrency: 1 })))

  it.effect("a revoked queued task leaves the line: the next one in order takes the slot", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const started: Array<number> = []
      const gate = yield* Deferred.make<void>()
      yield* tm.submit(gated(started, 1, gate))
      yield* tm.submit(Effect.sync(() => started.push(2)))
      yield* tm.submit(Effect.sync(() => started.push(3)))
      yield* tm.revoke(taskId(2))
      yield* Deferred.succeed(gate, undefined)
      yield* tm.await(taskId(3))
      expect(started).toEqual([1, 3])
      expect((yield* tm.list).map((t) => t.state)).toEqual(["SUCCESS", "REVOKED", "SUCCESS"])
    }).pipe(withManager({ concurrency: 1 })))

  it.effect("a long line of tasks that finish synchronously drains without deep recursion", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const events = yield* collectEvents(tm)
      const order: Array<number> = []
      const gate = yield* Deferred.make<void>()
      yield* tm.submit(Deferred.await(gate))
      for (let i = 2; i <= 20_001; i++) yield* tm.submit(Effect.sync(() => order.push(i)))
      expect((yield* tm.active).length).toBe(20_001)
      yield* Deferred.succeed(gate, undefined)
      yield* tm.await(taskId(20_001))
      expect(order.length).toBe(20_000)
      expect(order.every((n, i) => n === i + 2)).toBe(true)
      expect(yield* tm.active).toEqual([])
      yield* tm.shutdown
      const started = (yield* Fiber.join(events)).flatMap((e) => (e._tag === "TaskStarted" ? [e.id] : []))
      expect(started.length).toBe(20_001)
      expect(started.every((id, i) => id === i + 1)).toBe(true)
    }).pipe(withManager({ concurrency: 1, retain: 10, eventBuffer: 100_000 })))

  it.effect("a slot freed by a failure or a revoke is reused just like one freed by a success", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      yield* tm.submit(Effect.fail("boom"))
      yield* tm.submit(Effect.die("kaput"))
      const hang = yield* tm.submit(Effect.never)
      const last = yield* tm.submit(Effect.succeed("ran"))
      yield* settle()
      expect((yield* tm.get(hang.id)).state).toBe("RUNNING")
      expect((yield* tm.get(last.id)).state).toBe("QUEUED")
      yield* tm.revoke(hang.id)
      expect(yield* tm.join(last)).toBe("ran")
      expect((yield* tm.list).map((t) => t.state)).toEqual(["FAILURE", "FAILURE", "REVOKED", "SUCCESS"])
    }).pipe(withManager({ concurrency: 1 })))
})
