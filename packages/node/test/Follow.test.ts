/**
 * `TaskManager.follow` over real processes: every line of several commands flooding at once, stdout and stderr,
 * in order; and a follower slower than the writer slows the writer, as a shell pipe does (the process is seen
 * blocked in its write, its written byte count still), without anything growing or getting lost.
 */
import { type OutputChunk, TaskManager } from "@effect-tasks/core"
import { NodeTaskManager, TaskCommand } from "@effect-tasks/node"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Stream } from "effect"
import { ChildProcess } from "effect/process"
import { readFileSync } from "node:fs"

const layer = NodeTaskManager.layerWith({ guardian: false, followBuffer: 64 * 1024 })

/** A process writing `count` numbered lines, one `write` each, to stdout or stderr. */
const counter = (tag: string, count: number, stream: "stdout" | "stderr") =>
  TaskCommand.run(ChildProcess.make("sh", [
    "-c",
    `i=1; while [ $i -le ${count} ]; do echo ${tag}$i${stream === "stderr" ? " >&2" : ""}; i=$((i+1)); done`
  ]))

/** The lines of each (pid, stream) in the order they came. */
const linesBySource = (chunks: ReadonlyArray<OutputChunk.OutputChunk>) => {
  const text = new Map<string, string>()
  for (const chunk of chunks) {
    if (chunk._tag !== "TaskOutput") continue
    const key = `${chunk.pid}/${chunk.stream}`
    text.set(key, (text.get(key) ?? "") + chunk.text)
  }
  return [...text.values()].map((t) => t.split("\n").slice(0, -1))
}

const numbered = (tag: string, count: number) => Array.from({ length: count }, (_, i) => `${tag}${i + 1}`)

/** What /proc says a process is doing: its state, its current system call and its fd, and bytes written so far. */
const proc = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1")
  const [call, fd] = readFileSync(`/proc/${pid}/syscall`, "latin1").split(" ")
  const written = Number(/wchar: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, "latin1"))?.[1])
  return { state: stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3), call, fd, written }
}

describe("follow with real processes", () => {
  it.live(
    "three commands flooding at once, stdout and stderr: every line, each in order",
    () =>
      Effect.gen(function*() {
        const tm = yield* TaskManager.TaskManager
        const count = 30_000
        const [task, output] = yield* tm.submitFollowed(
          Effect.all([counter("a", count, "stdout"), counter("b", count, "stderr"), counter("c", count, "stdout")], {
            concurrency: "unbounded"
          })
        )
        // A reader that now and then dawdles, so the writers are held back on the way.
        let pulls = 0
        const chunks = yield* output.pipe(
          Stream.tap(() => ++pulls % 200 === 0 ? Effect.sleep("2 millis") : Effect.void),
          Stream.runCollect
        )
        expect((yield* tm.get(task.id)).state).toBe("SUCCESS")
        const sources = linesBySource(chunks).toSorted((x, y) => x[0]!.localeCompare(y[0]!))
        expect(sources).toHaveLength(3)
        expect(sources[0]).toEqual(numbered("a", count))
        expect(sources[1]).toEqual(numbered("b", count))
        expect(sources[2]).toEqual(numbered("c", count))
        // Each process's stream arrived as its own source: its pid and the stream it wrote to.
        expect(new Set(chunks.flatMap((c) => c._tag === "TaskOutput" ? [`${c.pid}/${c.stream}`] : [])).size).toBe(3)
      }).pipe(Effect.scoped, Effect.provide(layer)),
    60_000
  )

  it.live(
    "a follower that does not read blocks the process in its write; reading lets it finish, losing nothing",
    () =>
      Effect.gen(function*() {
        const tm = yield* TaskManager.TaskManager
        const total = 20_000_000
        const [task, output] = yield* tm.submitFollowed(
          TaskCommand.run(ChildProcess.make("sh", ["-c", `exec head -c ${total} /dev/zero`]))
        )
        while ((yield* tm.get(task.id)).processes.length === 0) yield* Effect.sleep("10 millis")
        const pid = (yield* tm.get(task.id)).processes[0]!.pid
        // The writer fills the pipe and the follower's bounded buffer, then sleeps in write(1, ...) for good: two
        // looks a moment apart find it there, its written byte count unchanged.
        const inWrite = (look: ReturnType<typeof proc>) =>
          look.state === "S" && look.call === (process.arch === "arm64" ? "64" : "1") && look.fd === "0x1"
        let blocked = -1
        const deadline = Date.now() + 20_000
        while (blocked < 0) {
          if (Date.now() > deadline) throw new Error("the writer never stayed blocked in write(1)")
          const before = proc(pid)
          yield* Effect.sleep("200 millis")
          const after = proc(pid)
          if (inWrite(before) && inWrite(after) && before.written === after.written) blocked = after.written
        }
        yield* Effect.sleep("500 millis")
        const still = proc(pid)
        expect(still.written).toBe(blocked)
        expect(inWrite(still)).toBe(true)
        // Far less than it means to write: the pipe, the pump's chunk and the 64 KiB follower buffer.
        expect(blocked).toBeLessThan(1_000_000)
        expect((yield* tm.get(task.id)).state).toBe("RUNNING")
        // Reading releases it; every byte arrives.
        let bytes = 0
        yield* output.pipe(Stream.runForEach((chunk) =>
          Effect.sync(() => {
            if (chunk._tag === "TaskOutput") bytes += chunk.text.length
          })
        ))
        expect(bytes).toBe(total)
        expect((yield* tm.get(task.id)).state).toBe("SUCCESS")
      }).pipe(Effect.scoped, Effect.provide(layer)),
    60_000
  )

  it.live("a follower that goes away without reading lets the blocked process go on", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const gate = yield* Deferred.make<void>()
      const fiber = yield* Effect.gen(function*() {
        const [task] = yield* tm.submitFollowed(
          TaskCommand.run(ChildProcess.make("sh", ["-c", "exec head -c 20000000 /dev/zero"]))
        )
        yield* Deferred.await(gate)
        return task
      }).pipe(Effect.scoped, Effect.forkChild({ startImmediately: true }))
      yield* Effect.sleep("300 millis")
      const [running] = yield* tm.active
      expect(running?.state).toBe("RUNNING")
      yield* Deferred.succeed(gate, undefined)
      const task = yield* Fiber.join(fiber)
      // Its scope closed: the follower is gone, and the command runs to its end.
      expect((yield* tm.await(task.id)).state).toBe("SUCCESS")
      expect((yield* tm.output(task.id)).droppedStdout).toBe(20_000_000 - 65_536)
    }).pipe(Effect.provide(layer)), 60_000)
})
