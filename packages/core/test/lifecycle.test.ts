import { CurrentTask, TaskContext, TaskErrors, TaskManager, TrackedTask } from "@effect-tasks/core"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import { collectEvents, settle, tagsOf, taskId, withManager } from "./helpers.js"

describe("rule 1: submit returns at once and the fiber starts immediately", () => {
  it.effect("submit gives a RUNNING record and the effect has already begun", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      let began = false
      const task = yield* tm.submit(Effect.sync(() => (began = true)).pipe(Effect.andThen(Effect.never)))
      expect(began).toBe(true)
      expect(task.state).toBe("RUNNING")
      expect(task.id).toBe(1)
      expect(task.name).toBe("task-1")
      expect(task.mode).toBe("default")
      expect(task.startedAt).toBe(task.submittedAt)
      expect((yield* tm.get(task.id)).state).toBe("RUNNING")
    }).pipe(withManager()))

  it.effect("a task that finishes synchronously still reads RUNNING from submit, SUCCESS afterwards", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const task = yield* tm.submit(Effect.succeed(42))
      expect(task.state).toBe("RUNNING")
      const now = yield* tm.get(task.id)
      expect(now.state).toBe("SUCCESS")
      expect(now.exit).toEqual(Exit.succeed(42))
    }).pipe(withManager()))

  it.effect("a task revoked in the same instant ends REVOKED and its own onExit runs", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      let sawExit: Exit.Exit<unknown, unknown> | undefined
      const task = yield* tm.submit(Effect.never.pipe(Effect.onExit((exit) => Effect.sync(() => (sawExit = exit)))))
      const revoked = yield* tm.revoke(task.id)
      expect(revoked.state).toBe("REVOKED")
      expect(sawExit !== undefined && Exit.hasInterrupts(sawExit)).toBe(true)
    }).pipe(withManager()))

  it.effect("a hundred tasks revoked in the same step all end REVOKED", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const tasks = yield* Effect.forEach(Array.from({ length: 100 }), () => tm.submit(Effect.never))
      const revoked = yield* Effect.forEach(tasks, (task) => tm.revoke(task.id), { concurrency: "unbounded" })
      expect(revoked.map((t) => t.state)).toEqual(Array(100).fill("REVOKED"))
      expect(yield* tm.active).toEqual([])
    }).pipe(withManager()))

  it.effect("a task that revokes itself before its first suspension ends REVOKED (no self-deadlock)", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const task = yield* tm.submit(
        Effect.gen(function*() {
          const id = yield* CurrentTask.CurrentTask
          yield* tm.revoke(id)
          return "unreachable"
        })
      )
      const done = yield* tm.await(task.id).pipe(Effect.timeout("1 second"), TestClock.withLive)
      expect(done.state).toBe("REVOKED")
      expect(done.revocation).toEqual({ reason: "user", graceful: true })
    }).pipe(withManager()))
})

describe("rule 1: a task is visible from its very first step", () => {
  it.effect("get, await, list and active see a task (and one it submits) before either suspends", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const seen: Array<unknown> = []
      const look = Effect.gen(function*() {
        const id = yield* CurrentTask.CurrentTask
        seen.push([
          id,
          (yield* tm.get(id)).state,
          (yield* tm.list).map((t) => t.id),
          (yield* tm.active).map((t) => t.id)
        ])
      })
      const outer = yield* tm.submit(Effect.gen(function*() {
        yield* look
        yield* tm.submit(look) // starts and finishes inside the outer task's first steps
        yield* look
        return yield* tm.await(yield* CurrentTask.CurrentTask).pipe(Effect.timeout("1 second"), Effect.option)
      }))
      expect(seen).toEqual([
        [1, "RUNNING", [1], [1]],
        [2, "RUNNING", [1, 2], [1, 2]],
        [1, "RUNNING", [1, 2], [1]]
      ])
      // The outer task waits for itself (it cannot finish while waiting): it is active, listed and revocable.
      expect((yield* tm.active).map((t) => t.id)).toEqual([outer.id])
      expect((yield* tm.list).map((t) => [t.id, t.state])).toEqual([[1, "RUNNING"], [2, "SUCCESS"]])
      const revoked = yield* tm.revoke(outer.id)
      expect(revoked.state).toBe("REVOKED")
      expect((yield* tm.list).map((t) => [t.id, t.state])).toEqual([[1, "REVOKED"], [2, "SUCCESS"]])
    }).pipe(withManager()))
})

describe("rule 2: the state comes only from the fiber's Exit", () => {
  it.effect("success is SUCCESS, failure and defect are FAILURE with the exit kept, interruption is REVOKED", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const ok = yield* tm.submit(Effect.succeed("fine"))
      const failed = yield* tm.submit(Effect.fail("boom" as const))
      const died = yield* tm.submit(Effect.die(new Error("kaput")))
      const selfInterrupted = yield* tm.submit(Effect.interrupt)
      const okDone = yield* tm.await(ok.id)
      const failedDone = yield* tm.await(failed.id)
      const diedDone = yield* tm.await(died.id)
      const interruptedDone = yield* tm.await(selfInterrupted.id)
      expect(okDone.state).toBe("SUCCESS")
      expect(okDone.exit).toEqual(Exit.succeed("fine"))
      expect(failedDone.state).toBe("FAILURE")
      expect(failedDone.exit !== undefined && Exit.isFailure(failedDone.exit)).toBe(true)
      expect(Exit.isFailure(failedDone.exit!) && Cause.hasFails(failedDone.exit.cause)).toBe(true)
      expect(yield* Effect.flip(tm.join(failed))).toBe("boom")
      expect(diedDone.state).toBe("FAILURE")
      expect(Exit.isFailure(diedDone.exit!) && Cause.hasDies(diedDone.exit.cause)).toBe(true)
      expect(interruptedDone.state).toBe("REVOKED")
      expect(interruptedDone.revocation).toBeUndefined()
      for (const t of [okDone, failedDone, diedDone, interruptedDone]) expect(t.finishedAt).toBeDefined()
    }).pipe(withManager()))

  it.effect("a finalizer that dies during a revoke still gives REVOKED (Interrupt and Die in the cause)", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const task = yield* tm.submit(Effect.never.pipe(Effect.ensuring(Effect.die("finalizer broke"))))
      const done = yield* tm.revoke(task.id)
      expect(done.state).toBe("REVOKED")
      expect(Exit.isFailure(done.exit!) && Cause.hasDies(done.exit.cause) && Cause.hasInterrupts(done.exit.cause))
        .toBe(true)
    }).pipe(withManager()))

  it.effect("between a revoke and the end of its finalizers a task stays RUNNING with revocation set", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const events = yield* collectEvents(tm)
      const task = yield* tm.submit(Effect.never.pipe(Effect.onInterrupt(() => Effect.sleep("1 second"))))
      const revoking = yield* tm.revoke(task.id).pipe(Effect.forkChild({ startImmediately: true }))
      yield* settle()
      const stopping = yield* tm.get(task.id)
      expect(stopping.state).toBe("RUNNING")
      expect(stopping.revocation).toEqual({ reason: "user", graceful: true })
      expect(stopping.finishedAt).toBeUndefined()
      expect((yield* tm.active).map((t) => t.id)).toEqual([task.id])
      yield* TestClock.adjust("999 millis")
      expect((yield* tm.get(task.id)).state).toBe("RUNNING")
      expect(revoking.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("1 millis")
      const done = yield* Fiber.join(revoking)
      expect(done.state).toBe("REVOKED")
      expect(done.finishedAt).toBe(1000)
      yield* tm.shutdown
      expect(tagsOf(yield* Fiber.join(events), task.id)).toEqual([
        "TaskSubmitted:RUNNING",
        "TaskStarted",
        "TaskRevoking",
        "TaskFinished:REVOKED"
      ])
    }).pipe(withManager()))

  it.effect("a terminal task keeps its state: later revokes and awaits return the same record", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const task = yield* tm.submit(Effect.fail("nope"))
      const first = yield* tm.await(task.id)
      const again = yield* tm.revoke(task.id)
      const forced = yield* tm.revoke(task.id, { graceful: false })
      expect(again).toBe(first)
      expect(forced).toBe(first)
      expect(yield* tm.get(task.id)).toBe(first)
      expect(first.state).toBe("FAILURE")
      expect(first.revocation).toBeUndefined()
    }).pipe(withManager()))
})

/** Returns 42 after a second; its scope holds a finalizer that takes 400 ms (like a process asked to stop). */
const computes = (result: Effect.Effect<number, string> = Effect.succeed(42)) =>
  Effect.gen(function*() {
    yield* Effect.addFinalizer(() => Effect.sleep("400 millis"))
    yield* Effect.sleep("1 second")
    return yield* result
  })

describe("rule 2: once the body has completed, its own Exit decides", () => {
  it.effect("a revoke just before the body completes interrupts it: REVOKED", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const task = yield* tm.submit(computes())
      yield* TestClock.adjust("999 millis")
      const revoking = yield* tm.revoke(task.id).pipe(Effect.forkChild({ startImmediately: true }))
      yield* TestClock.adjust("400 millis")
      const done = yield* Fiber.join(revoking)
      expect(done.state).toBe("REVOKED")
      expect(done.finishedAt).toBe(1399)
      expect(yield* Effect.flip(tm.join(task))).toEqual(new TaskErrors.TaskRevoked({ id: task.id, reason: "user" }))
    }).pipe(withManager()))

  it.effect("a revoke just after, while a 400 ms finalizer runs: SUCCESS with 42, the revocation recorded", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const events = yield* collectEvents(tm)
      const task = yield* tm.submit(computes())
      yield* TestClock.adjust("1 second")
      expect((yield* tm.get(task.id)).state).toBe("RUNNING") // its scope is closing
      const revoking = yield* tm.revoke(task.id).pipe(Effect.forkChild({ startImmediately: true }))
      yield* settle()
      const stopping = yield* tm.get(task.id)
      expect([stopping.state, stopping.revocation]).toEqual(["RUNNING", { reason: "user", graceful: true }])
      yield* TestClock.adjust("399 millis")
      expect(revoking.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("1 millis")
      const done = yield* Fiber.join(revoking)
      expect(done.state).toBe("SUCCESS")
      expect(done.exit).toEqual(Exit.succeed(42))
      expect(done.revocation).toEqual({ reason: "user", graceful: true })
      expect(done.finishedAt).toBe(1400)
      expect(yield* tm.join(task)).toBe(42)
      yield* tm.shutdown
      const finished = (yield* Fiber.join(events)).find((e) => e._tag === "TaskFinished")
      expect(finished).toMatchObject({ state: "SUCCESS", revocation: { reason: "user", graceful: true } })
    }).pipe(withManager()))

  it.effect("a body that failed and is revoked during its cleanup is FAILURE with its own error", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const task = yield* tm.submit(computes(Effect.fail("boom")))
      yield* TestClock.adjust("1 second")
      const revoking = yield* tm.revoke(task.id, { graceful: false }).pipe(Effect.forkChild({ startImmediately: true }))
      yield* TestClock.adjust("400 millis")
      const done = yield* Fiber.join(revoking)
      expect(done.state).toBe("FAILURE")
      expect(done.exit).toEqual(Exit.fail("boom"))
      expect(done.revocation).toEqual({ reason: "user", graceful: false })
      expect(yield* Effect.flip(tm.join(task))).toBe("boom")
    }).pipe(withManager()))

  it.effect("a cleanup that dies after the revoke is a FAILURE, as it would be without the revoke", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const task = yield* tm.submit(Effect.gen(function*() {
        yield* Effect.addFinalizer(() => Effect.sleep("400 millis").pipe(Effect.andThen(Effect.die("cleanup broke"))))
        return 42
      }))
      const done = yield* tm.revoke(task.id).pipe(Effect.forkChild({ startImmediately: true }))
      yield* TestClock.adjust("400 millis")
      const record = yield* Fiber.join(done)
      expect(record.state).toBe("FAILURE")
      expect(Exit.isFailure(record.exit!) && Cause.hasDies(record.exit.cause)).toBe(true)
      expect(Exit.isFailure(record.exit!) && Cause.hasInterrupts(record.exit.cause)).toBe(false)
    }).pipe(withManager()))

  it.effect("a revoke after the body still hurries the cleanup: revoked and forced fire for its finalizers", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const seen: Array<string> = []
      // Stops like a process that ignores SIGTERM: waits up to a minute unless the stop is forced.
      const task = yield* tm.submit(Effect.gen(function*() {
        const ctx = yield* TaskContext.TaskContext
        yield* Effect.addFinalizer(() =>
          ctx.revoked.pipe(
            Effect.andThen(Effect.sync(() => seen.push("revoked"))),
            Effect.andThen(Effect.raceFirst(ctx.forced, Effect.sleep("1 minute"))),
            Effect.andThen(Effect.sync(() => seen.push("forced")))
          )
        )
        return 42
      }))
      yield* settle()
      expect((yield* tm.get(task.id)).state).toBe("RUNNING")
      const graceful = yield* tm.revoke(task.id).pipe(Effect.forkChild({ startImmediately: true }))
      yield* settle()
      expect(seen).toEqual(["revoked"])
      const forced = yield* tm.revoke(task.id, { graceful: false })
      expect(seen).toEqual(["revoked", "forced"])
      expect(forced.state).toBe("SUCCESS")
      expect(forced.revocation).toEqual({ reason: "user", graceful: false })
      expect(yield* Fiber.join(graceful)).toBe(forced)
      expect(yield* tm.join(task)).toBe(42)
    }).pipe(withManager()))

  it.effect("a timeout that fires during the cleanup is recorded and changes nothing else", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const task = yield* tm.submit(computes(), { timeout: "1200 millis" })
      yield* TestClock.adjust("1400 millis")
      const done = yield* tm.await(task.id)
      expect([done.state, done.revocation]).toEqual(["SUCCESS", { reason: "timeout", graceful: true }])
      expect(yield* tm.join(task)).toBe(42)
    }).pipe(withManager()))
})

describe("rule 10: CurrentTask and fibers forked inside a task", () => {
  it.effect("yield* CurrentTask gives the task's id, in the task and in fibers it forks", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      yield* tm.submit(Effect.void)
      const task = yield* tm.submit(
        Effect.gen(function*() {
          const own = yield* CurrentTask.CurrentTask
          const inChild = yield* Fiber.join(
            yield* Effect.forkChild(Effect.gen(function*() {
              return yield* CurrentTask.CurrentTask
            }))
          )
          return [own, inChild] as const
        })
      )
      expect(yield* tm.join(task)).toEqual([2, 2])
    }).pipe(withManager()))

  it.effect("revoking a task interrupts the fibers it forked, and it becomes terminal only after them", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const log: Array<string> = []
      const child = (name: string) =>
        Effect.never.pipe(
          Effect.onInterrupt(() =>
            Effect.sleep("100 millis").pipe(Effect.andThen(Effect.sync(() => log.push(`${name} stopped`))))
          )
        )
      const started = yield* Deferred.make<void>()
      const task = yield* tm.submit(
        Effect.gen(function*() {
          yield* Effect.forkChild(child("forkChild"), { startImmediately: true })
          yield* Effect.forkScoped(child("forkScoped"), { startImmediately: true })
          yield* Deferred.succeed(started, undefined)
          return yield* Effect.never
        })
      )
      yield* Deferred.await(started)
      const revoking = yield* tm.revoke(task.id).pipe(Effect.forkChild({ startImmediately: true }))
      yield* settle()
      expect((yield* tm.get(task.id)).state).toBe("RUNNING")
      // The task's scope closes first (the forkScoped fiber stops), then its child fibers are interrupted.
      yield* TestClock.adjust("100 millis")
      expect(log).toEqual(["forkScoped stopped"])
      expect((yield* tm.get(task.id)).state).toBe("RUNNING")
      yield* TestClock.adjust("100 millis")
      const done = yield* Fiber.join(revoking)
      expect(done.state).toBe("REVOKED")
      expect(log.toSorted()).toEqual(["forkChild stopped", "forkScoped stopped"])
    }).pipe(withManager()))

  it.effect("a submitted effect that needs Scope gets the task's own scope", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const log: Array<string> = []
      const task = yield* tm.submit(
        Effect.acquireRelease(Effect.sync(() => log.push("acquired")), () => Effect.sync(() => log.push("released")))
      )
      yield* tm.await(task.id)
      expect(log).toEqual(["acquired", "released"])
    }).pipe(withManager()))
})

describe("join, run, get and await", () => {
  it.effect("join gives the typed value or error, and TaskRevoked with the reason for a revoked task", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const ok = yield* tm.submit(Effect.succeed(1))
      const bad = yield* tm.submit(Effect.fail({ code: 7 }))
      const hang = yield* tm.submit(Effect.never)
      expect(yield* tm.join(ok)).toBe(1)
      expect(yield* Effect.flip(tm.join(bad))).toEqual({ code: 7 })
      yield* tm.revoke(hang.id)
      const err = yield* Effect.flip(tm.join(hang))
      expect(err).toBeInstanceOf(TaskErrors.TaskRevoked)
      expect(err).toMatchObject({ id: hang.id, reason: "user" })
    }).pipe(withManager()))

  it.effect("run submits and joins", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      expect(yield* tm.run(Effect.succeed("done"), { name: "quick" })).toBe("done")
      expect(yield* Effect.flip(tm.run(Effect.fail("bad")))).toBe("bad")
      const [record] = yield* tm.list
      expect(record?.name).toBe("quick")
      expect(record?.state).toBe("SUCCESS")
    }).pipe(withManager()))

  it.effect("interrupting the caller of run revokes the task and waits until it has stopped", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      let stopped = false
      const caller = yield* tm.run(
        Effect.never.pipe(
          Effect.onInterrupt(() => Effect.sleep("1 second").pipe(Effect.andThen(Effect.sync(() => (stopped = true)))))
        )
      ).pipe(Effect.forkChild({ startImmediately: true }))
      yield* settle()
      expect((yield* tm.active).length).toBe(1)
      const interrupting = yield* Fiber.interrupt(caller).pipe(Effect.forkChild({ startImmediately: true }))
      yield* settle()
      expect(interrupting.pollUnsafe()).toBeUndefined()
      const stopping = yield* tm.get(taskId(1))
      expect(stopping.state).toBe("RUNNING")
      expect(stopping.revocation).toEqual({ reason: "user", graceful: true })
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(interrupting)
      expect(stopped).toBe(true)
      expect((yield* tm.get(taskId(1))).state).toBe("REVOKED")
    }).pipe(withManager()))

  it.effect("get and await of an unknown id fail with TaskNotFound", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const missing = yield* Effect.flip(tm.get(taskId(99)))
      expect(missing).toBeInstanceOf(TaskErrors.TaskNotFound)
      expect(missing.id).toBe(99)
      expect(yield* Effect.flip(tm.await(taskId(99)))).toBeInstanceOf(TaskErrors.TaskNotFound)
      expect(yield* Effect.flip(tm.output(taskId(99)))).toBeInstanceOf(TaskErrors.TaskNotFound)
    }).pipe(withManager()))

  it.effect("await waits for the terminal record", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const task = yield* tm.submit(Effect.sleep("5 seconds").pipe(Effect.as("slept")))
      const waiting = yield* tm.await(task.id).pipe(Effect.forkChild({ startImmediately: true }))
      yield* TestClock.adjust("4 seconds")
      expect(waiting.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("1 second")
      const done = yield* Fiber.join(waiting)
      expect(done.state).toBe("SUCCESS")
      expect(done.startedAt).toBe(0)
      expect(done.finishedAt).toBe(5000)
    }).pipe(withManager()))

  it.effect("ids strictly increase from 1 and are never reused", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const ids: Array<number> = []
      for (let i = 0; i < 20; i++) ids.push((yield* tm.submit(i % 2 === 0 ? Effect.void : Effect.fail(i))).id)
      expect(ids).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
      yield* tm.shutdown
      expect(yield* Effect.flip(tm.submit(Effect.void))).toBeInstanceOf(TaskErrors.TaskManagerClosed)
    }).pipe(withManager({ retain: 3 })))

  it.effect("every read sees every write: thousands of tasks, running and done, read at uneven intervals", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const sleeping: Array<number> = []
      // Writes outnumber the manager's batch many times over between some reads, and fall short of it between
      // others; the expected records are worked out independently of the manager.
      for (let i = 1; i <= 3000; i++) {
        const task = yield* tm.submit(i % 7 === 0 ? Effect.sleep("1 hour") : i % 3 === 0 ? Effect.fail(i) : Effect.void)
        if (i % 7 === 0) sleeping.push(task.id)
        if (i % 257 === 0 || i % 1000 === 13) {
          const finished = Array.from({ length: i }, (_, k) => k + 1).filter((id) => id % 7 !== 0)
          const listed = (yield* tm.list).map((t) => t.id)
          expect(listed).toEqual([...finished.slice(-100), ...sleeping].toSorted((a, b) => a - b))
          const last = yield* tm.get(task.id)
          expect(last.state).toBe(i % 7 === 0 ? "RUNNING" : i % 3 === 0 ? "FAILURE" : "SUCCESS")
          if (finished.length > 100) {
            const dropped = finished[finished.length - 101]!
            expect(yield* Effect.flip(tm.get(taskId(dropped)))).toBeInstanceOf(TaskErrors.TaskNotFound)
          }
        }
      }
      const revoked = yield* tm.revokeAll()
      expect(revoked.map((t) => t.state)).toEqual(sleeping.map(() => "REVOKED"))
      // The sleepers finished last: the history holds only them now.
      const listed = yield* tm.list
      expect(listed.length).toBe(100)
      expect(listed.every((t) => t.state === "REVOKED" && sleeping.includes(t.id))).toBe(true)
    }).pipe(withManager({ retain: 100 })))

  it.effect("a task's scope is a scope like any other: forks, finalizers in reverse order, closed with the body's exit", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const ran: Array<string> = []
      const seen: Array<Exit.Exit<unknown, unknown>> = []
      let taskScope: Scope.Scope | undefined
      const task = yield* tm.submit(Effect.gen(function*() {
        const scope = yield* Effect.scope
        taskScope = scope
        expect([scope.strategy, scope.parent, scope.state._tag]).toEqual(["sequential", undefined, "Empty"])
        yield* Effect.addFinalizer((exit) => Effect.sync(() => (ran.push("first"), seen.push(exit))))
        const child = yield* Scope.fork(scope)
        expect(child.parent).toBe(scope)
        yield* Scope.addFinalizer(child, Effect.sync(() => ran.push("child")))
        yield* Effect.acquireRelease(Effect.void, () => Effect.sync(() => ran.push("last")))
        expect(scope.state._tag).toBe("Open")
        return yield* Effect.fail("boom")
      }))
      expect(yield* Effect.flip(tm.join(task))).toBe("boom")
      expect(ran).toEqual(["last", "child", "first"])
      expect(Exit.isFailure(seen[0]!)).toBe(true)
      expect(taskScope?.state._tag).toBe("Closed")
      // A closed scope refuses new work as any closed scope does: a finalizer added now runs at once.
      yield* Scope.addFinalizer(taskScope!, Effect.sync(() => ran.push("late")))
      expect(ran.at(-1)).toBe("late")
    }).pipe(withManager()))

  it.effect("a task retention drops before any read is gone from every read, and its records still join", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const gate = yield* Deferred.make<void>()
      // Written twice: RUNNING, which a read applies to the records, then its final record, still pending when
      // retention drops it.
      const slow = yield* tm.submit(Effect.as(Deferred.await(gate), "slow"))
      expect((yield* tm.list).map((t) => [t.id, t.state])).toEqual([[slow.id, "RUNNING"]])
      yield* Deferred.succeed(gate, undefined)
      // Waits without reading the records (as `get` or `await` would, applying the pending final record).
      const slowDone = yield* slow[TrackedTask.Completion]
      // Written once, when it finished inside `submit`, and dropped with no read in between.
      const quick = yield* tm.submit(Effect.succeed("quick"))
      const failed = yield* tm.submit(Effect.fail("no"))
      const kept = [yield* tm.submit(Effect.succeed(1)), yield* tm.submit(Effect.succeed(2))]
      expect((yield* tm.list).map((t) => t.id)).toEqual(kept.map((t) => t.id))
      for (const dropped of [slow, quick, failed]) {
        expect(yield* Effect.flip(tm.get(dropped.id))).toBeInstanceOf(TaskErrors.TaskNotFound)
      }
      // The records a caller kept still join, each with its own outcome, and stay the snapshots they were.
      expect(yield* tm.join(slow)).toBe("slow")
      expect(yield* tm.join(slowDone)).toBe("slow")
      expect(yield* tm.join(quick)).toBe("quick")
      expect(yield* Effect.flip(tm.join(failed))).toBe("no")
      expect([slow.state, quick.state, slowDone.state]).toEqual(["RUNNING", "RUNNING", "SUCCESS"])
      expect(yield* kept[1]![TrackedTask.Completion]).toMatchObject({ id: kept[1]!.id, state: "SUCCESS" })
    }).pipe(withManager({ retain: 2 })))

  it.effect("a stream consumer sees a task's whole life (smoke)", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const events = yield* tm.subscribe
      const collected = yield* Stream.runCollect(events).pipe(Effect.forkChild({ startImmediately: true }))
      const ok = yield* tm.submit(Effect.succeed(42))
      expect(yield* tm.join(ok)).toBe(42)
      const hang = yield* tm.submit(Effect.never, { name: "hang" })
      expect((yield* tm.revoke(hang.id)).state).toBe("REVOKED")
      yield* tm.shutdown
      const all = yield* Fiber.join(collected)
      expect(all.map((e) => e._tag)).toEqual([
        "TaskSubmitted",
        "TaskStarted",
        "TaskFinished",
        "TaskSubmitted",
        "TaskStarted",
        "TaskRevoking",
        "TaskFinished"
      ])
    }).pipe(withManager()))
})
