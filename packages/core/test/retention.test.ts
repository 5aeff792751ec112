import { TaskErrors, TaskManager } from "@effect-tasks/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { withManager } from "./helpers.js"

describe("rule 7: retention", () => {
  it.effect("retain: 10 with 1000 finished tasks keeps exactly the 10 newest", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const first = yield* tm.submit(Effect.succeed("first"))
      for (let i = 2; i <= 1000; i++) yield* tm.submit(i % 3 === 0 ? Effect.fail(i) : Effect.succeed(i))
      const list = yield* tm.list
      expect(list.map((t) => t.id)).toEqual(Array.from({ length: 10 }, (_, i) => 991 + i))
      expect(list.every((t) => t.state !== "QUEUED" && t.state !== "RUNNING")).toBe(true)
      expect((yield* tm.list).length).toBe(10)
      // Dropped records are gone from lookups, but a caller holding one can still join it.
      expect(yield* Effect.flip(tm.get(first.id))).toBeInstanceOf(TaskErrors.TaskNotFound)
      expect(yield* Effect.flip(tm.revoke(first.id))).toBeInstanceOf(TaskErrors.TaskNotFound)
      expect(yield* tm.join(first)).toBe("first")
    }).pipe(withManager({ retain: 10 })))

  it.effect("non-terminal tasks are never dropped, however many tasks finish after them", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const hanging = yield* Effect.forEach([1, 2, 3], () => tm.submit(Effect.never))
      const blocker = yield* tm.submit(Effect.never, { mode: "one" })
      const queued = yield* tm.submit(Effect.void, { mode: "one" })
      expect([blocker.state, queued.state]).toEqual(["RUNNING", "QUEUED"])
      for (let i = 0; i < 500; i++) yield* tm.submit(Effect.void)
      const list = yield* tm.list
      expect(list.filter((t) => t.state === "SUCCESS").map((t) => t.id)).toEqual([504, 505])
      expect(list.filter((t) => t.state !== "SUCCESS").map((t) => [t.id, t.state])).toEqual([
        ...hanging.map((t) => [t.id, "RUNNING"]),
        [blocker.id, "RUNNING"],
        [queued.id, "QUEUED"]
      ])
      // Once they finish, the long-running tasks are the newest finished ones and are kept
      // (revokeAll stops the queued task 5 first, then 1 to 4 in order).
      yield* tm.revokeAll()
      expect((yield* tm.list).map((t) => t.id)).toEqual([3, blocker.id])
      expect(yield* Effect.flip(tm.get(queued.id))).toBeInstanceOf(TaskErrors.TaskNotFound)
    }).pipe(withManager({ retain: 2, concurrency: { one: 1 } })))

  it.effect("retain: 0 keeps only the tasks still running", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const hang = yield* tm.submit(Effect.never)
      yield* tm.submit(Effect.void)
      expect((yield* tm.list).map((t) => t.id)).toEqual([hang.id])
      const done = yield* tm.revoke(hang.id)
      expect(done.state).toBe("REVOKED")
      expect(yield* tm.list).toEqual([])
    }).pipe(withManager({ retain: 0 })))

  it.effect("the default keeps 1000 finished tasks", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      for (let i = 0; i < 1200; i++) yield* tm.submit(Effect.void)
      const list = yield* tm.list
      expect(list.length).toBe(1000)
      expect(list[0]!.id).toBe(201)
    }).pipe(withManager()))

  it.effect("the records stay bounded over 100 000 tasks (flat memory)", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const sizes: Array<number> = []
      for (let round = 0; round < 10; round++) {
        yield* Effect.forEach(Array.from({ length: 10_000 }), (_, i) =>
          tm.submit(i % 2 === 0 ? Effect.void : Effect.fail("x")), { discard: true })
        sizes.push((yield* tm.list).length)
      }
      expect(sizes).toEqual(Array(10).fill(100))
      const list = yield* tm.list
      expect(list[0]!.id).toBe(99_901)
      expect(list.at(-1)!.id).toBe(100_000)
      expect(yield* tm.active).toEqual([])
    }).pipe(withManager({ retain: 100 })), 60_000)
})
