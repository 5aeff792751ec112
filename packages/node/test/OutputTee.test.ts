/**
 * The tee behind every task process's stdout and stderr: the pump drains the source whatever the reader
 * does, the copy sees every chunk, and a reader gets every byte it asks for, in order.
 */
import { OutputTee } from "@effect-tasks/node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Queue, Stream } from "effect"

const bytes = (text: string) => new TextEncoder().encode(text)
const text = (chunks: Iterable<Uint8Array>) => Array.from(chunks, (c) => new TextDecoder().decode(c)).join("")

/** A source fed by hand, so the test decides when the "process" writes and when it exits. */
const manualSource = Effect.gen(function*() {
  const queue = yield* Queue.unbounded<Uint8Array, import("effect/Cause").Done>()
  return {
    write: (s: string) => Queue.offer(queue, bytes(s)),
    end: Queue.end(queue),
    stream: Stream.fromQueue(queue)
  }
})

describe("OutputTee", () => {
  it.effect("a reader gets every chunk in order, with backpressure, while the copy sees them all", () =>
    Effect.gen(function*() {
      const copied: Array<string> = []
      const source = Stream.fromIterable(Array.from({ length: 500 }, (_, i) => bytes(`${i},`)))
      const tee = OutputTee.make(source, (chunk) => copied.push(new TextDecoder().decode(chunk)), 1024)
      const reader = yield* Effect.forkChild(Stream.runCollect(tee.stream), { startImmediately: true })
      yield* tee.pump
      const read = yield* Fiber.join(reader)
      const expected = Array.from({ length: 500 }, (_, i) => `${i},`).join("")
      expect(text(read)).toBe(expected)
      expect(copied.join("")).toBe(expected)
    }))

  it.effect("nobody reading never stalls the pump; a late reader gets the replay buffer's tail", () =>
    Effect.gen(function*() {
      let copiedBytes = 0
      const source = Stream.fromIterable(Array.from({ length: 1000 }, () => bytes("x".repeat(100))))
      const tee = OutputTee.make(source, (chunk) => {
        copiedBytes += chunk.length
      }, 1000)
      // The pump finishes on its own: nothing waits for a reader.
      yield* tee.pump
      expect(copiedBytes).toBe(100_000)
      const late = yield* Stream.runCollect(tee.stream)
      const kept = text(late)
      // Only the newest output within the replay bound is kept for a reader that never came.
      expect(kept.length).toBeLessThanOrEqual(1100)
      expect(kept.length).toBeGreaterThanOrEqual(1000)
    }))

  it.effect("output written before the reader starts is replayed to it, then the live output follows", () =>
    Effect.gen(function*() {
      const source = yield* manualSource
      const tee = OutputTee.make(source.stream, () => {}, 65_536)
      const pump = yield* Effect.forkChild(tee.pump, { startImmediately: true })
      yield* source.write("early ")
      yield* Effect.yieldNow
      const reader = yield* Effect.forkChild(Stream.runCollect(tee.stream), { startImmediately: true })
      yield* source.write("late")
      yield* source.end
      yield* Fiber.join(pump)
      expect(text(yield* Fiber.join(reader))).toBe("early late")
    }))

  it.effect("a reader that stops early lets the pump go on draining, and a next reader resumes", () =>
    Effect.gen(function*() {
      const source = yield* manualSource
      let copied = ""
      const tee = OutputTee.make(source.stream, (chunk) => {
        copied += new TextDecoder().decode(chunk)
      }, 65_536)
      const pump = yield* Effect.forkChild(tee.pump, { startImmediately: true })
      const first = yield* Effect.forkChild(Stream.runCollect(Stream.take(tee.stream, 1)), { startImmediately: true })
      yield* source.write("one|")
      expect(text(yield* Fiber.join(first))).toBe("one|")
      // Nobody reads now: many more writes must not block the pump.
      for (let i = 0; i < 100; i++) yield* source.write("more|")
      yield* Effect.yieldNow
      yield* source.write("last")
      yield* source.end
      yield* Fiber.join(pump)
      expect(copied).toBe(`one|${"more|".repeat(100)}last`)
      const next = text(yield* Stream.runCollect(tee.stream))
      expect(next.endsWith("last")).toBe(true)
    }))

  it.effect("a source failure reaches the reader after the output before it", () =>
    Effect.gen(function*() {
      const failure = new Error("pipe broke")
      const source = Stream.concat(
        Stream.make(bytes("partial")),
        Stream.fail(failure as never)
      )
      const tee = OutputTee.make(source, () => {}, 1024)
      const received: Array<Uint8Array> = []
      const reader = yield* Effect.forkChild(
        Effect.exit(Stream.runForEach(tee.stream, (chunk) => Effect.sync(() => received.push(chunk)))),
        { startImmediately: true }
      )
      yield* tee.pump
      const exit = yield* Fiber.join(reader)
      expect(text(received)).toBe("partial")
      expect(exit._tag).toBe("Failure")
    }))
})
