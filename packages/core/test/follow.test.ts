/**
 * `follow` and `submitFollowed`: every chunk, in arrival order, with a pipe's backpressure. The "processes" here
 * are fibers that write through `TaskContext.outputUnsafe` and await what it returns, exactly as the node
 * spawner's pumps do.
 */
import { OutputChunk, TaskContext, TaskErrors, TaskManager } from "@effect-tasks/core"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import { collectEvents, settle, taskId, withManager } from "./helpers.js"

type Written = { readonly pid: number; readonly stream: TaskContext.OutputStream; readonly text: string }

/** Writes one chunk as a pump does: hand it over, then wait while a follower is full. */
const write = (written: Array<Written>, pid: number, stream: TaskContext.OutputStream, text: string) =>
  Effect.flatMap(TaskContext.TaskContext, (ctx) =>
    Effect.suspend(() => {
      written.push({ pid, stream, text })
      return ctx.outputUnsafe(pid, stream, text) ?? Effect.void
    }))

/** A process that writes `lines` numbered lines to one stream, yielding between them as a pipe's reads do. */
const writer = (written: Array<Written>, pid: number, stream: TaskContext.OutputStream, lines: number) =>
  Effect.forEach(
    Array.from({ length: lines }, (_, i) => i),
    (i) => Effect.andThen(write(written, pid, stream, `${pid} ${stream} ${i}\n`), Effect.yieldNow),
    { discard: true }
  )

/** Three processes at once, two on stdout and one on stderr. */
const flood = (written: Array<Written>, lines: number) =>
  Effect.all([
    writer(written, 1, "stdout", lines),
    writer(written, 2, "stderr", lines),
    writer(written, 3, "stdout", lines)
  ], {
    concurrency: "unbounded",
    discard: true
  })

const texts = (chunks: ReadonlyArray<OutputChunk.OutputChunk>) =>
  chunks.map((chunk) => chunk._tag === "TaskOutput" ? `${chunk.pid}/${chunk.stream}:${chunk.text}` : "skipped")

const expected = (written: ReadonlyArray<Written>) => written.map((w) => `${w.pid}/${w.stream}:${w.text}`)

describe("follow", () => {
  it.effect("submitFollowed gets every chunk of three writers, stdout and stderr interleaved as they arrived", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const written: Array<Written> = []
      const [task, output] = yield* tm.submitFollowed(flood(written, 2000))
      const chunks = yield* Stream.runCollect(output)
      // The stream ends because the task is terminal, and nothing it wrote is missing or out of place.
      expect((yield* tm.get(task.id)).state).toBe("SUCCESS")
      expect(written.length).toBe(6000)
      expect(texts(chunks)).toEqual(expected(written))
      // Each writer's lines in its own order, all of them.
      for (const pid of [1, 2, 3]) {
        const mine = chunks.filter((c) => c._tag === "TaskOutput" && c.pid === pid)
        expect(mine.map((c) => c._tag === "TaskOutput" ? c.text : "")).toEqual(
          Array.from({ length: 2000 }, (_, i) => `${pid} ${pid === 2 ? "stderr" : "stdout"} ${i}\n`)
        )
      }
    }).pipe(Effect.scoped, withManager({ followBuffer: 64 })))

  it.effect("a follower that does not read holds the writers back once its buffer is full, and never more", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const written: Array<Written> = []
      const [task, output] = yield* tm.submitFollowed(writer(written, 1, "stdout", 1000))
      yield* settle(50)
      // The first chunks are 11 characters: the follower takes them until it holds 100 or more (the tenth), then
      // the writer waits. A bounded buffer, not an unbounded one.
      const stalled = written.length
      expect(stalled).toBe(10)
      yield* settle(200)
      expect(written.length).toBe(stalled)
      expect((yield* tm.get(task.id)).state).toBe("RUNNING")
      // Reading lets it go on, to the end, with nothing lost.
      const chunks = yield* Stream.runCollect(output)
      expect(texts(chunks)).toEqual(expected(written))
      expect(written.length).toBe(1000)
    }).pipe(Effect.scoped, withManager({ followBuffer: 100 })))

  it.effect("the slowest follower sets the pace; each gets everything", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const written: Array<Written> = []
      const gate = yield* Deferred.make<void>()
      const task = yield* tm.submit(Effect.andThen(Deferred.await(gate), flood(written, 300)))
      const fast = yield* Stream.runCollect(tm.follow(task.id)).pipe(Effect.forkChild({ startImmediately: true }))
      const slow = yield* tm.follow(task.id).pipe(
        Stream.tap(() => Effect.sleep("1 millis")),
        Stream.runCollect,
        Effect.forkChild({ startImmediately: true })
      )
      yield* settle()
      yield* Deferred.succeed(gate, undefined)
      // The slow follower sleeps a millisecond per chunk on the TestClock: the writers go no faster.
      yield* settle(20)
      const before = written.length
      expect(before).toBeLessThan(30)
      while ((yield* tm.get(task.id)).state === "RUNNING") yield* TestClock.adjust("10 millis")
      expect(texts(yield* Fiber.join(fast))).toEqual(expected(written))
      expect(texts(yield* Fiber.join(slow))).toEqual(expected(written))
      expect(written.length).toBe(900)
    }).pipe(withManager({ followBuffer: 50 })))

  it.effect("a follower that goes away (its scope closes) stops holding the task back", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const written: Array<Written> = []
      const scope = yield* Scope.make()
      const [task] = yield* tm.submitFollowed(writer(written, 1, "stdout", 500)).pipe(Scope.provide(scope))
      yield* settle(50)
      expect(written.length).toBeLessThan(10)
      yield* Scope.close(scope, Effect.void as never)
      expect((yield* tm.await(task.id)).state).toBe("SUCCESS")
      expect(written.length).toBe(500)
    }).pipe(withManager({ followBuffer: 50 })))

  it.effect("a follower whose stream is cut short (take) lets go of the task at once", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const written: Array<Written> = []
      const [task, output] = yield* tm.submitFollowed(writer(written, 1, "stdout", 500))
      const first = yield* Stream.runCollect(Stream.take(output, 3))
      expect(texts(first)).toEqual(expected(written.slice(0, 3)))
      expect((yield* tm.await(task.id)).state).toBe("SUCCESS")
      expect(written.length).toBe(500)
    }).pipe(Effect.scoped, withManager({ followBuffer: 50 })))

  it.effect("a revoke stops a task whose writers wait for a follower", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const written: Array<Written> = []
      const [task, output] = yield* tm.submitFollowed(writer(written, 1, "stdout", 10_000))
      yield* settle(20)
      const stopped = yield* tm.revoke(task.id)
      expect(stopped.state).toBe("REVOKED")
      // The follower still gets what was written, then its end.
      expect(texts(yield* Stream.runCollect(output))).toEqual(expected(written))
    }).pipe(Effect.scoped, withManager({ followBuffer: 50 })))

  it.effect("a late follower gets the kept tail interleaved as it arrived, then the rest", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const written: Array<Written> = []
      const gate = yield* Deferred.make<void>()
      const task = yield* tm.submit(
        Effect.all([
          flood(written, 5),
          Effect.andThen(Deferred.await(gate), writer(written, 4, "stderr", 5))
        ], { concurrency: "unbounded", discard: true })
      )
      yield* settle()
      expect(written.length).toBe(15)
      const follower = yield* Stream.runCollect(tm.follow(task.id)).pipe(Effect.forkChild({ startImmediately: true }))
      yield* Deferred.succeed(gate, undefined)
      const chunks = yield* Fiber.join(follower)
      expect(texts(chunks)).toEqual(expected(written))
      expect(chunks[0]).toMatchObject({ _tag: "TaskOutput", id: task.id })
    }).pipe(withManager()))

  it.effect("a late follower starts with OutputSkipped when the tail forgot output; an ended task gives its tail", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const written: Array<Written> = []
      const task = yield* tm.submit(
        Effect.all([writer(written, 1, "stdout", 10), writer(written, 2, "stderr", 3)], { concurrency: "unbounded" })
      )
      yield* tm.await(task.id)
      const chunks = yield* Stream.runCollect(tm.follow(task.id))
      // 10 stdout lines of 11 characters and 3 stderr lines of 11, with a tail of 30 characters per stream.
      expect(chunks[0]).toEqual({ _tag: "OutputSkipped", id: task.id, stdout: 80, stderr: 3 })
      const tail = yield* tm.output(task.id)
      const replayed = chunks.slice(1).flatMap((c) => c._tag === "TaskOutput" ? [c] : [])
      expect(replayed.filter((c) => c.stream === "stdout").map((c) => c.text).join("")).toBe(tail.stdout)
      expect(replayed.filter((c) => c.stream === "stderr").map((c) => c.text).join("")).toBe(tail.stderr)
      // In arrival order across the streams: the stderr lines were written while stdout's first lines were.
      expect(texts(replayed)).toEqual([
        "2/stderr:tderr 0\n",
        "2/stderr:2 stderr 1\n",
        "2/stderr:2 stderr 2\n",
        "1/stdout:tdout 7\n",
        "1/stdout:1 stdout 8\n",
        "1/stdout:1 stdout 9\n"
      ])
    }).pipe(withManager({ outputTail: 30 })))

  it.effect("follow of an unknown id fails with TaskNotFound; the stream of a task with no output is empty", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const error = yield* Effect.flip(Stream.runCollect(tm.follow(taskId(42))))
      expect(error).toBeInstanceOf(TaskErrors.TaskNotFound)
      const quiet = yield* tm.submit(Effect.void)
      expect(yield* Stream.runCollect(tm.follow(quiet.id))).toEqual([])
    }).pipe(withManager()))

  it.effect("output written by the task's cleanup (a pipe's last bytes) is delivered before the follower ends", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const written: Array<Written> = []
      const [, output] = yield* tm.submitFollowed(
        Effect.andThen(
          Effect.addFinalizer(() => writer(written, 1, "stdout", 3)),
          writer(written, 1, "stdout", 2)
        )
      )
      expect(texts(yield* Stream.runCollect(output))).toEqual(expected(written))
      expect(written.length).toBe(5)
    }).pipe(Effect.scoped, withManager()))

  it.effect("followers do not change the lossy event stream: TaskOutput events are still published", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const events = yield* collectEvents(tm)
      const written: Array<Written> = []
      const [, output] = yield* tm.submitFollowed(writer(written, 7, "stderr", 4))
      yield* Stream.runDrain(output)
      yield* tm.shutdown
      const outputs = (yield* Fiber.join(events)).filter((e) => e._tag === "TaskOutput")
      expect(outputs.map((e) => e._tag === "TaskOutput" ? e.text : "")).toEqual(written.map((w) => w.text))
    }).pipe(Effect.scoped, withManager()))

  it.effect("submitFollowed on a closed manager fails with TaskManagerClosed", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      yield* tm.shutdown
      const error = yield* Effect.flip(tm.submitFollowed(Effect.void))
      expect(error).toBeInstanceOf(TaskErrors.TaskManagerClosed)
    }).pipe(Effect.scoped, withManager()))

  it("chunks encode to one line of JSON and back", () => {
    const chunk: OutputChunk.OutputChunk = { _tag: "TaskOutput", id: taskId(3), pid: 9, stream: "stderr", text: "a\nb" }
    const skipped: OutputChunk.OutputChunk = { _tag: "OutputSkipped", id: taskId(3), stdout: 5, stderr: 0 }
    for (const item of [chunk, skipped]) {
      const line = OutputChunk.toJsonString(item)
      expect(line).not.toContain("\n")
      expect(OutputChunk.fromJsonString(line)).toEqual(item)
    }
    expect(() => OutputChunk.fromJsonString(`{"_tag":"TaskOutput"}`)).toThrow()
  })
})
