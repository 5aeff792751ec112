import { TaskManager, TaskRevoked } from "@effect-tasks/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"

describe("smoke", () => {
  it.effect("submit, await, revoke", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager
      const events = yield* tm.subscribe
      const collected = yield* Stream.runCollect(events).pipe(Effect.forkChild({ startImmediately: true }))
      const ok = yield* tm.submit(Effect.succeed(42))
      expect(ok.state).toBe("RUNNING")
      expect((yield* tm.await(ok.id)).state).toBe("SUCCESS")
      expect(yield* tm.join(ok)).toBe(42)
      const hang = yield* tm.submit(Effect.never, { name: "hang" })
      const revoked = yield* tm.revoke(hang.id)
      expect(revoked.state).toBe("REVOKED")
      expect(revoked.revocation).toEqual({ reason: "user", graceful: true })
      const err = yield* Effect.flip(tm.join(hang))
      expect(err).toBeInstanceOf(TaskRevoked)
      const failed = yield* tm.submit(Effect.fail("boom"))
      expect((yield* tm.await(failed.id)).state).toBe("FAILURE")
      yield* tm.shutdown
      const evs = yield* Fiber.join(collected)
      expect(evs.map((e) => e._tag)).toEqual([
        "TaskSubmitted",
        "TaskStarted",
        "TaskFinished",
        "TaskSubmitted",
        "TaskStarted",
        "TaskRevoking",
        "TaskFinished",
        "TaskSubmitted",
        "TaskStarted",
        "TaskFinished"
      ])
    }).pipe(Effect.provide(TaskManager.layer)))
})
