import { ProcessInfo, TaskContext, TaskEvent, TaskManager, TaskState, TrackedTask } from "@effect-tasks/core"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Exit, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"
import { collectEvents, tagsOf, withManager } from "./helpers.js"

describe("TrackedTask JSON form", () => {
  it.effect("toJson gives plain, schema-valid JSON for every outcome", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const ok = yield* tm.submit(Effect.sleep("2 seconds").pipe(Effect.as({ not: "serialised" })), { name: "ok" })
      const failed = yield* tm.submit(Effect.fail(new Error("disk full")), { name: "bad", mode: "io" })
      const revoked = yield* tm.submit(Effect.never)
      yield* TestClock.adjust("2 seconds")
      yield* tm.revoke(revoked.id, { graceful: false })
      const running = yield* tm.submit(Effect.never)
      const json = (yield* tm.list).map(TrackedTask.toJson)
      expect(json[0]).toEqual({
        id: ok.id,
        name: "ok",
        mode: "default",
        state: "SUCCESS",
        submittedAt: 0,
        startedAt: 0,
        finishedAt: 2000,
        durationMillis: 2000,
        processes: []
      })
      expect(json[1]).toMatchObject({ id: failed.id, mode: "io", state: "FAILURE", durationMillis: 0 })
      expect(json[1]!.error).toContain("disk full")
      expect(json[2]).toMatchObject({ state: "REVOKED", revocation: { reason: "user", graceful: false } })
      expect(json[2]!.error).toBeUndefined()
      expect(json[3]).toEqual({
        id: running.id,
        name: `task-${running.id}`,
        mode: "default",
        state: "RUNNING",
        submittedAt: 2000,
        startedAt: 2000,
        durationMillis: 0,
        processes: []
      })
      // Valid against its schema, and survives JSON.stringify / parse unchanged.
      const codec = Schema.Array(TrackedTask.TrackedTaskJson)
      const text = JSON.stringify(Schema.encodeSync(codec)(json))
      expect(Schema.decodeUnknownSync(codec)(JSON.parse(text))).toEqual(json)
    }).pipe(withManager()))

  it.effect("a failure reads `Name: message`, nested causes included, without stack frames (in toJson and TaskFinished)", () =>
    Effect.gen(function*() {
      class Refused extends Schema.TaggedError<Refused>()("Refused", { code: Schema.Number }) {
        override get message() {
          return `refused with ${this.code}`
        }
      }
      class Bare extends Schema.TaggedError<Bare>()("Bare", { path: Schema.String }) {}
      const tm = yield* TaskManager.TaskManager
      const events = yield* collectEvents(tm)
      const tasks = [
        yield* tm.submit(Effect.fail(new Refused({ code: 3 }))),
        yield* tm.submit(Effect.fail(new Bare({ path: "/tmp/x" }))),
        yield* tm.submit(Effect.die(new Error("disk full", { cause: new TypeError("EIO") }))),
        yield* tm.submit(Effect.fail("plain text"))
      ]
      const errors = []
      for (const task of tasks) errors.push(TrackedTask.toJson(yield* tm.await(task.id)).error)
      expect(errors).toEqual([
        "Refused: refused with 3",
        `Bare: {"path":"/tmp/x"}`,
        "Error: disk full\n  caused by TypeError: EIO",
        "Error: plain text"
      ])
      yield* tm.shutdown
      const finished = (yield* Fiber.join(events)).flatMap((e) => e._tag === "TaskFinished" ? [e.error] : [])
      expect(finished).toEqual(errors)
      expect(TrackedTask.renderError(Exit.interrupt())).toBe("interrupted")
      expect(TrackedTask.renderError(Exit.void)).toBeUndefined()
    }).pipe(withManager()))

  it("durationMillis counts from start to finish, or to now for a running task", () => {
    const base = { id: 1, name: "t", mode: "m", submittedAt: 0, processes: [] } as unknown as TrackedTask.TrackedTask
    expect(TrackedTask.durationMillis({ ...base, state: "QUEUED" })).toBeUndefined()
    expect(TrackedTask.durationMillis({ ...base, state: "RUNNING", startedAt: 10 }, 25)).toBe(15)
    expect(TrackedTask.durationMillis({ ...base, state: "SUCCESS", startedAt: 10, finishedAt: 40 }, 99)).toBe(30)
  })

  it("TaskState.isTerminal and isActive split the five states", () => {
    const states = ["QUEUED", "RUNNING", "SUCCESS", "FAILURE", "REVOKED"] as const
    expect(states.filter(TaskState.isTerminal)).toEqual(["SUCCESS", "FAILURE", "REVOKED"])
    expect(states.filter(TaskState.isActive)).toEqual(["QUEUED", "RUNNING"])
  })
})

describe("TaskContext: the integration hook", () => {
  it.effect("processes and output reported through TaskContext show on the record, in events and in output", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const events = yield* collectEvents(tm)
      const proceed = yield* Deferred.make<void>()
      const task = yield* tm.submit(
        Effect.gen(function*() {
          const ctx = yield* TaskContext.TaskContext
          expect([ctx.id, ctx.name, ctx.mode]).toEqual([1, "make", "build"])
          expect(ctx.revocationUnsafe()).toBeUndefined()
          ctx.addProcessUnsafe({ pid: 4242, command: "make", args: ["-j4"] })
          ctx.outputUnsafe(4242, "stdout", "compiling a\n")
          ctx.outputUnsafe(4242, "stderr", "warning: b\n")
          ctx.outputUnsafe(4242, "stdout", "compiling c\n")
          yield* Deferred.await(proceed)
          ctx.endProcessUnsafe(4242, { exitCode: 0 })
        }),
        { name: "make", mode: "build" }
      )
      const live = yield* tm.get(task.id)
      expect(live.processes).toEqual([{ pid: 4242, command: "make", args: ["-j4"], startedAt: 0 }])
      expect(ProcessInfo.isRunning(live.processes[0]!)).toBe(true)
      expect(ProcessInfo.commandLine(live.processes[0]!)).toBe("make -j4")
      // The tail keeps the last 14 characters of each stream and counts what it dropped.
      expect(yield* tm.output(task.id)).toEqual({
        stdout: "a\ncompiling c\n",
        stderr: "warning: b\n",
        droppedStdout: 10,
        droppedStderr: 0
      })
      yield* TestClock.adjust("1 second")
      yield* Deferred.succeed(proceed, undefined)
      const done = yield* tm.await(task.id)
      expect(done.processes).toEqual([
        { pid: 4242, command: "make", args: ["-j4"], startedAt: 0, endedAt: 1000, exitCode: 0 }
      ])
      expect(TrackedTask.toJson(done).processes).toEqual(done.processes)
      expect((yield* tm.output(task.id)).stdout).toBe("a\ncompiling c\n")
      yield* tm.shutdown
      expect(tagsOf(yield* Fiber.join(events), task.id)).toEqual([
        "TaskSubmitted:RUNNING",
        "TaskStarted",
        "ProcessStarted",
        "TaskOutput",
        "TaskOutput",
        "TaskOutput",
        "ProcessExited",
        "TaskFinished:SUCCESS"
      ])
    }).pipe(withManager({ outputTail: 14 })))

  it.effect("every timestamp of a task and its processes is a reading of the manager's clock", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const events = yield* collectEvents(tm)
      const readings: Array<number> = []
      const read = Effect.tap(Clock.currentTimeMillis, (now) => Effect.sync(() => readings.push(now)))
      yield* TestClock.adjust("2 seconds")
      const proceed = yield* Deferred.make<void>()
      const task = yield* tm.submit(Effect.gen(function*() {
        const ctx = yield* TaskContext.TaskContext
        yield* read
        ctx.addProcessUnsafe({ pid: 7, command: "sleep", args: ["1"] })
        yield* Deferred.await(proceed)
        yield* read
        ctx.endProcessUnsafe(7, { signal: "SIGTERM" })
      }))
      yield* TestClock.adjust("1500 millis")
      yield* Deferred.succeed(proceed, undefined)
      const done = yield* tm.await(task.id)
      const [process] = done.processes
      expect(readings).toEqual([2000, 3500])
      expect([process!.startedAt, process!.endedAt]).toEqual(readings)
      expect(process!.startedAt).toBeLessThanOrEqual(process!.endedAt!)
      expect([done.submittedAt, done.startedAt, done.finishedAt]).toEqual([2000, 2000, 3500])
      yield* tm.shutdown
      const stamps = (yield* Fiber.join(events)).flatMap((e) => ("at" in e ? [[e._tag, e.at]] : []))
      expect(stamps).toEqual([
        ["TaskSubmitted", 2000],
        ["TaskStarted", 2000],
        ["ProcessStarted", 2000],
        ["ProcessExited", 3500],
        ["TaskFinished", 3500]
      ])
    }).pipe(withManager()))

  it.effect("what killing a process's tree stopped is added to its record and published", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const events = yield* collectEvents(tm)
      const task = yield* tm.submit(Effect.gen(function*() {
        const ctx = yield* TaskContext.TaskContext
        ctx.addProcessUnsafe({ pid: 7, command: "sh", args: ["-c", "sleep 500 & sleep 1"] })
        ctx.endProcessUnsafe(7, { exitCode: 0 })
        // Nothing stopped and no escalation: nothing to say.
        ctx.processesStoppedUnsafe(7, { stopped: [], escalated: false })
        ctx.processesStoppedUnsafe(7, {
          stopped: [{ pid: 8, command: "sleep 500", signal: "SIGTERM" }],
          escalated: false
        })
        // A later kill of the same tree (the task's final sweep) adds to it.
        ctx.processesStoppedUnsafe(7, { stopped: [{ pid: 9, command: "daemon", signal: "SIGKILL" }], escalated: true })
        // An unknown pid changes no record but is still published.
        ctx.processesStoppedUnsafe(99, { stopped: [], escalated: true })
      }))
      const done = yield* tm.await(task.id)
      expect(done.processes).toEqual([{
        pid: 7,
        command: "sh",
        args: ["-c", "sleep 500 & sleep 1"],
        startedAt: 0,
        endedAt: 0,
        exitCode: 0,
        stopped: [
          { pid: 8, command: "sleep 500", signal: "SIGTERM" },
          { pid: 9, command: "daemon", signal: "SIGKILL" }
        ],
        escalated: true
      }])
      expect(TrackedTask.toJson(done).processes).toEqual(done.processes)
      yield* tm.shutdown
      const all = yield* Fiber.join(events)
      const stopped = all.filter((e) => e._tag === "ProcessesStopped")
      expect(stopped).toEqual([
        {
          _tag: "ProcessesStopped",
          id: task.id,
          pid: 7,
          stopped: [{ pid: 8, command: "sleep 500", signal: "SIGTERM" }],
          escalated: false,
          at: 0
        },
        {
          _tag: "ProcessesStopped",
          id: task.id,
          pid: 7,
          stopped: [{ pid: 9, command: "daemon", signal: "SIGKILL" }],
          escalated: true,
          at: 0
        },
        { _tag: "ProcessesStopped", id: task.id, pid: 99, stopped: [], escalated: true, at: 0 }
      ])
      for (const event of stopped) expect(TaskEvent.fromJsonString(TaskEvent.toJsonString(event))).toEqual(event)
    }).pipe(withManager()))

  it.effect("the revocation and the forced signal are visible to the task while it stops", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const seen: Array<unknown> = []
      const task = yield* tm.submit(
        Effect.gen(function*() {
          const ctx = yield* TaskContext.TaskContext
          yield* Effect.addFinalizer(() =>
            Effect.gen(function*() {
              seen.push(ctx.revocationUnsafe())
              yield* ctx.forced
              seen.push(ctx.revocationUnsafe())
            })
          )
          return yield* Effect.never
        }),
        { grace: "7 seconds" }
      )
      const revoking = yield* tm.revoke(task.id).pipe(Effect.forkChild({ startImmediately: true }))
      yield* TestClock.adjust("1 minute")
      expect(revoking.pollUnsafe()).toBeUndefined()
      yield* tm.revoke(task.id, { graceful: false })
      yield* Fiber.join(revoking)
      expect(seen).toEqual([{ reason: "user", graceful: true }, { reason: "user", graceful: false }])
    }).pipe(withManager()))

  it.effect("the task's scope closes before the task becomes terminal, and hooks called late are ignored", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const events = yield* collectEvents(tm)
      let ctxRef: TaskContext.TaskContext["Service"] | undefined
      let stateWhenScopeClosed: string | undefined
      const task = yield* tm.submit(
        Effect.gen(function*() {
          const ctx = yield* TaskContext.TaskContext
          ctxRef = ctx
          yield* Effect.addFinalizer(() =>
            tm.get(ctx.id).pipe(Effect.orDie, Effect.map((t) => (stateWhenScopeClosed = t.state)))
          )
          expect(ctx.grace).toEqual(expect.anything())
        })
      )
      const done = yield* tm.await(task.id)
      expect(stateWhenScopeClosed).toBe("RUNNING")
      ctxRef!.addProcessUnsafe({ pid: 1, command: "late", args: [] })
      ctxRef!.endProcessUnsafe(1, { signal: "SIGKILL" })
      ctxRef!.outputUnsafe(1, "stdout", "too late")
      expect(yield* tm.get(task.id)).toBe(done)
      expect(done.processes).toEqual([])
      expect((yield* tm.output(task.id)).stdout).toBe("")
      yield* tm.shutdown
      // Nothing was published after the task's TaskFinished.
      expect(tagsOf(yield* Fiber.join(events), task.id).at(-1)).toBe("TaskFinished:SUCCESS")
    }).pipe(withManager()))
})
