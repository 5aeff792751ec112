/**
 * The tee behind every task process's stdout and stderr: the pipe is drained whatever the reader does, the copy
 * sees every chunk, a reader gets every byte it asks for, in order, and a reader that lags pauses the pipe.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Stream } from "effect"
import * as PlatformError from "effect/PlatformError"
import { PassThrough } from "node:stream"
import * as OutputTee from "../src/internal/OutputTee.js"

const text = (chunks: Iterable<Uint8Array>) => Array.from(chunks, (c) => new TextDecoder().decode(c)).join("")
const toError = (cause: unknown) =>
  PlatformError.systemError({ _tag: "Unknown", module: "test", method: "read", cause })

/** A pipe fed by hand: the test decides when the "process" writes, when it ends, and when it fails. */
const pipe = () => {
  const source = new PassThrough()
  const copied: Array<string> = []
  let ends = 0
  return {
    source,
    copied,
    ends: () => ends,
    make: (replayBytes = 65_536) =>
      OutputTee.make(
        source,
        (chunk) => {
          copied.push(new TextDecoder().decode(chunk))
          return undefined
        },
        () => {
          ends++
        },
        replayBytes,
        toError
      )
  }
}

/** Lets Node deliver what was written (data events come on later ticks). */
const flush = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

describe("OutputTee", () => {
  it.live("a reader gets every chunk in order while the copy sees them all; the end runs once", () =>
    Effect.gen(function*() {
      const p = pipe()
      const tee = p.make(1024)
      const reader = yield* Effect.forkChild(Stream.runCollect(tee.stream), { startImmediately: true })
      const expected = Array.from({ length: 500 }, (_, i) => `${i},`)
      for (const chunk of expected) {
        if (!p.source.write(chunk)) {
          yield* Effect.promise(() => new Promise((resolve) => p.source.once("drain", resolve)))
        }
      }
      p.source.end()
      yield* tee.ended
      expect(text(yield* Fiber.join(reader))).toBe(expected.join(""))
      expect(p.copied.join("")).toBe(expected.join(""))
      expect(p.ends()).toBe(1)
    }))

  it.live("nobody reading never stalls the pipe; a late reader gets the replay buffer's tail", () =>
    Effect.gen(function*() {
      const p = pipe()
      const tee = p.make(1000)
      for (let i = 0; i < 1000; i++) p.source.write("x".repeat(100))
      p.source.end()
      // The tee finishes on its own: nothing waits for a reader.
      yield* tee.ended
      expect(p.copied.join("").length).toBe(100_000)
      const kept = text(yield* Stream.runCollect(tee.stream))
      // Only the newest output within the replay bound is kept for a reader that never came.
      expect(kept.length).toBeLessThanOrEqual(1100)
      expect(kept.length).toBeGreaterThanOrEqual(1000)
    }))

  it.live("output written before the reader starts is replayed to it, then the live output follows", () =>
    Effect.gen(function*() {
      const p = pipe()
      const tee = p.make()
      p.source.write("early ")
      yield* flush
      const reader = yield* Effect.forkChild(Stream.runCollect(tee.stream), { startImmediately: true })
      p.source.write("late")
      p.source.end()
      expect(text(yield* Fiber.join(reader))).toBe("early late")
    }))

  it.live("a reader that lags pauses the pipe; reading or release resumes it", () =>
    Effect.gen(function*() {
      const p = pipe()
      const tee = p.make()
      const pull = yield* Stream.toPull(tee.stream)
      p.source.write("start|")
      expect(text(yield* pull)).toBe("start|")
      for (let i = 0; i < 40; i++) p.source.write(`${i}|`)
      yield* flush
      // 16 chunks wait for the reader: the pipe stops delivering until it reads.
      expect(p.source.isPaused()).toBe(true)
      expect(p.copied.length).toBe(17)
      expect((yield* pull).length).toBe(16)
      yield* flush
      expect(p.copied.length).toBe(33)
      tee.release()
      yield* flush
      expect(p.copied.length).toBe(41)
      expect(p.source.isPaused()).toBe(false)
    }).pipe(Effect.scoped))

  it.live("a reader that stops early leaves the pipe draining, and a next reader resumes", () =>
    Effect.gen(function*() {
      const p = pipe()
      const tee = p.make()
      const first = yield* Effect.forkChild(Stream.runCollect(Stream.take(tee.stream, 1)), { startImmediately: true })
      p.source.write("one|")
      expect(text(yield* Fiber.join(first))).toBe("one|")
      // Nobody reads now: many more writes must not block the pipe.
      for (let i = 0; i < 100; i++) p.source.write("more|")
      yield* flush
      p.source.write("last")
      p.source.end()
      yield* tee.ended
      expect(p.copied.join("")).toBe(`one|${"more|".repeat(100)}last`)
      const next = text(yield* Stream.runCollect(tee.stream))
      expect(next.endsWith("last")).toBe(true)
    }))

  it.live("a pipe failure reaches the reader after the output before it, and ends the tee", () =>
    Effect.gen(function*() {
      const p = pipe()
      const tee = p.make(1024)
      const received: Array<Uint8Array> = []
      const reader = yield* Effect.forkChild(
        Effect.exit(Stream.runForEach(tee.stream, (chunk) => Effect.sync(() => received.push(chunk)))),
        { startImmediately: true }
      )
      p.source.write("partial")
      yield* flush
      p.source.destroy(new Error("pipe broke"))
      yield* tee.ended
      const exit = yield* Fiber.join(reader)
      expect(text(received)).toBe("partial")
      expect(exit._tag).toBe("Failure")
      expect(p.ends()).toBe(1)
    }))

  it.live("a copy that asks to wait holds the pipe until its wait is over, whatever the reader does", () =>
    Effect.gen(function*() {
      const source = new PassThrough()
      const copied: Array<string> = []
      let room = yield* Deferred.make<void>()
      let full = false
      const tee = OutputTee.make(
        source,
        (chunk) => {
          copied.push(new TextDecoder().decode(chunk))
          return full ? Deferred.await(room) : undefined
        },
        () => {},
        65_536,
        toError
      )
      const pull = yield* Stream.toPull(tee.stream)
      source.write("a|")
      yield* flush
      full = true
      source.write("b|")
      yield* flush
      source.write("c|")
      yield* flush
      // The chunk that found the copy full went through; nothing more is read until there is room.
      expect(copied).toEqual(["a|", "b|"])
      expect(source.isPaused()).toBe(true)
      // A reader taking what it has does not resume the pipe behind the copy's back.
      expect(text(yield* pull)).toBe("a|b|")
      yield* flush
      expect(copied).toEqual(["a|", "b|"])
      full = false
      yield* Deferred.succeed(room, undefined)
      yield* flush
      expect(copied).toEqual(["a|", "b|", "c|"])
      // Full again; release stops honouring the wait so that the pipe drains to its end.
      room = yield* Deferred.make<void>()
      full = true
      source.write("d|")
      yield* flush
      source.write("e|")
      source.end()
      yield* flush
      expect(copied).toEqual(["a|", "b|", "c|", "d|"])
      tee.release()
      yield* tee.ended
      expect(copied).toEqual(["a|", "b|", "c|", "d|", "e|"])
    }).pipe(Effect.scoped))

  it.live("a wait that is already over does not pause the pipe", () =>
    Effect.gen(function*() {
      const source = new PassThrough()
      const copied: Array<string> = []
      const tee = OutputTee.make(
        source,
        (chunk) => {
          copied.push(new TextDecoder().decode(chunk))
          return Effect.void
        },
        () => {},
        65_536,
        toError
      )
      for (let i = 0; i < 50; i++) source.write(`${i}|`)
      source.end()
      yield* tee.ended
      expect(copied.join("")).toBe(Array.from({ length: 50 }, (_, i) => `${i}|`).join(""))
    }))
})
