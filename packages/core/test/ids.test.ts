/**
 * Task ids: branded, so a pid or any other number does not type-check where a task id is expected (the
 * `@ts-expect-error` lines below are checked by `pnpm check`: each must be an error), and one checked way to
 * read an id from outside input.
 */
import { ProcessInfo, TaskErrors, TaskId, TaskManager } from "@effect-tasks/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { withManager } from "./helpers.js"

/** Never run: it exists so that the compiler checks what may be passed where a task id is expected. */
export const typeChecks = (tm: TaskManager.TaskManagerShape, process: ProcessInfo.ProcessInfo) =>
  Effect.gen(function*() {
    // @ts-expect-error a pid is a number, not a TaskId
    yield* tm.revoke(process.pid)
    // @ts-expect-error a literal number is not a TaskId either
    yield* tm.get(1)
    // @ts-expect-error
    yield* tm.await(1)
    // @ts-expect-error
    yield* tm.output(1)
    // @ts-expect-error
    yield* tm.revoke(1, { graceful: false })
    const task = yield* tm.submit(Effect.void)
    const id: TaskId.TaskId = task.id
    yield* tm.revoke(id)
    const missing = yield* Effect.flip(tm.get(id))
    const again: TaskId.TaskId = missing.id
    return again
  })

describe("task ids", () => {
  it.effect("TaskId.make accepts a positive integer, as a number or as decimal text", () =>
    Effect.gen(function*() {
      expect(yield* TaskId.make(12)).toBe(12)
      expect(yield* TaskId.make("12")).toBe(12)
      expect(yield* TaskId.make(String(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER)
    }))

  it.effect("TaskId.make fails with InvalidTaskId, naming the input, for anything else", () =>
    Effect.gen(function*() {
      const bad = [
        0,
        -3,
        1.5,
        Number.NaN,
        2 ** 53,
        "0",
        "-3",
        "+3",
        "012",
        "1e3",
        "0x10",
        " 7",
        "7 ",
        "",
        "abc",
        "9".repeat(20)
      ]
      for (const input of bad) {
        const error = yield* Effect.flip(TaskId.make(input))
        expect(error).toBeInstanceOf(TaskId.InvalidTaskId)
        expect(error.input).toBe(input)
        expect(error.message).toContain("is not a task id")
      }
    }))

  it.effect("TaskId.FromString is the same check as a schema, for decoders that take one", () =>
    Effect.gen(function*() {
      const decode = Schema.decodeUnknownEffect(TaskId.FromString)
      expect(yield* decode("7")).toBe(7)
      expect(yield* Effect.flip(decode("07"))).toBeInstanceOf(Schema.SchemaError)
      expect(yield* Effect.flip(decode(7))).toBeInstanceOf(Schema.SchemaError)
      expect(Schema.encodeSync(TaskId.FromString)(TaskId.TaskId.make(7))).toBe("7")
    }))

  it.effect("an id read from text reaches the task; a well-formed id with no task is TaskNotFound", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const task = yield* tm.submit(Effect.never)
      const revoked = yield* tm.revoke(yield* TaskId.make(String(task.id)))
      expect(revoked.state).toBe("REVOKED")
      const missing = yield* Effect.flip(tm.get(yield* TaskId.make("99")))
      expect(missing).toBeInstanceOf(TaskErrors.TaskNotFound)
      expect(missing.id).toBe(99)
    }).pipe(withManager()))
})
