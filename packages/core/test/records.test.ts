import { OutputTail, ProcessInfo, TaskContext, TaskManager, TaskState, TrackedTask } from "@effect-tasks/core"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"
import { collectEvents, tagsOf, withManager } from "./helpers.js"

describe("TrackedTask JSON form", () => {
  it.effect("toJson gives plain, schema-valid JSON for every outcome", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager
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
      const tm = yield* TaskManager
      const events = yield* collectEvents(tm)
      const proceed = yield* Deferred.make<void>()
      const task = yield* tm.submit(
        Effect.gen(function*() {
          const ctx = yield* TaskContext
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

  it.effect("the revocation and the forced signal are visible to the task while it stops", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager
      const seen: Array<unknown> = []
      const task = yield* tm.submit(
        Effect.gen(function*() {
          const ctx = yield* TaskContext
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
      const tm = yield* TaskManager
      const events = yield* collectEvents(tm)
      let ctxRef: TaskContext["Service"] | undefined
      let stateWhenScopeClosed: string | undefined
      const task = yield* tm.submit(
        Effect.gen(function*() {
          const ctx = yield* TaskContext
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

describe("OutputTail", () => {
  it("keeps the last capacity characters across chunks and counts the rest", () => {
    const tail = OutputTail.make(5)
    OutputTail.append(tail, "ab")
    OutputTail.append(tail, "cd")
    expect(OutputTail.text(tail)).toBe("abcd")
    OutputTail.append(tail, "efg")
    expect(OutputTail.text(tail)).toBe("cdefg")
    expect(tail.dropped).toBe(2)
    OutputTail.append(tail, "0123456789")
    expect(OutputTail.text(tail)).toBe("56789")
    expect(tail.dropped).toBe(12)
    OutputTail.append(tail, "")
    expect(OutputTail.text(tail)).toBe("56789")
  })

  it("stays bounded over a million small chunks", () => {
    const tail = OutputTail.make(100)
    for (let i = 0; i < 1_000_000; i++) OutputTail.append(tail, String(i % 10))
    expect(tail.length).toBe(100)
    expect(tail.chunks.length).toBeLessThanOrEqual(100)
    expect(OutputTail.text(tail)).toBe("0123456789".repeat(10))
    expect(tail.dropped).toBe(1_000_000 - 100)
  })

  it("a capacity of 0 keeps nothing", () => {
    const tail = OutputTail.make(0)
    OutputTail.append(tail, "abc")
    expect(OutputTail.text(tail)).toBe("")
    expect(tail.dropped).toBe(3)
  })
})
