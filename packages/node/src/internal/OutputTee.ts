/**
 * Always-drained process output. A tee reads a pipe as fast as the process writes, copies every chunk to the
 * task (its bounded tail and `TaskOutput` events), and hands the bytes to whoever reads the handle's stream,
 * with backpressure while someone reads and without holding anything beyond a bounded replay buffer while
 * nobody does. So a process that prints a gigabyte neither grows memory nor blocks on a full pipe, and a reader
 * still gets every byte it asked for.
 *
 * The tee listens to the Node stream itself (no fiber per pipe): a chunk costs one copy and, with a reader, one
 * queue offer. While the reader lags 16 chunks behind, the pipe is paused, so the process blocks as it would on
 * a shell pipe. The copy may ask for the same (the task's followers, `TaskManager.follow`, when one of them is
 * full): the pipe then stays paused until the wait it returned completes.
 *
 * @since 0.1.0
 */
import type { Done } from "effect/Cause"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as PlatformError from "effect/PlatformError"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import type { Readable } from "node:stream"

/**
 * One tee'd pipe: the stream a handle exposes to its reader, an effect that completes once the pipe has ended
 * (and every chunk was copied), and `release`, which stops honouring the reader's backpressure so that the pipe
 * drains to its end whatever the reader does (used when the process's scope closes).
 *
 * @since 0.1.0
 */
export interface OutputTee {
  readonly stream: Stream.Stream<Uint8Array, PlatformError.PlatformError>
  readonly ended: Effect.Effect<void>
  readonly release: () => void
}

/** A wait of the copy in progress, and how to interrupt it. */
interface Hold {
  interrupt: ((interruptor?: number) => void) | undefined
}

/** Chunks a reader may lag behind before the pipe is paused. */
const highWaterMark = 16

/**
 * Tees `source`. `copy` receives every chunk (decode and store it there; it may return an effect to wait for before
 * more is read, see above) and `end` is called once when the pipe
 * ends or fails (flush a decoder there); `replayBytes` bounds what is kept for a reader that has not started
 * reading yet; `toError` turns a stream error into the reader's failure.
 *
 * @since 0.1.0
 */
export const make = (
  source: Readable,
  copy: (chunk: Uint8Array) => Effect.Effect<void> | undefined,
  end: () => void,
  replayBytes: number,
  toError: (error: unknown) => PlatformError.PlatformError
): OutputTee => {
  let replay: Array<Uint8Array> = []
  let replayed = 0
  let reader: Queue.Queue<Uint8Array, PlatformError.PlatformError | Done> | undefined
  let ended: { readonly error?: PlatformError.PlatformError } | undefined
  let released = false
  // The copy's wait in progress: the pipe stays paused until it completes.
  let waiting: Hold | undefined
  const done = Deferred.makeUnsafe<void>()

  const keepForLater = (chunk: Uint8Array) => {
    replay.push(chunk)
    replayed += chunk.length
    while (replayed > replayBytes && replay.length > 1) replayed -= replay.shift()!.length
  }

  const finish = (error?: PlatformError.PlatformError) => {
    if (ended !== undefined) return
    ended = error === undefined ? {} : { error }
    end()
    if (reader !== undefined) {
      if (error === undefined) Queue.endUnsafe(reader)
      else Queue.failCauseUnsafe(reader, Cause.fail(error))
    }
    Deferred.doneUnsafe(done, Effect.void)
  }

  const resumeUnlessLagging = () => {
    const queue = reader
    if (queue === undefined || Queue.sizeUnsafe(queue) < highWaterMark) resume()
  }

  const holdFor = (wait: Effect.Effect<void>) => {
    source.pause()
    const hold: Hold = { interrupt: undefined }
    waiting = hold
    // The wait may be over before `runCallback` returns; a released one resumes nothing.
    hold.interrupt = Effect.runCallback(wait, {
      onExit: () => {
        if (waiting !== hold) return
        waiting = undefined
        resumeUnlessLagging()
      }
    })
  }

  source.on("data", (chunk: Uint8Array) => {
    const wait = copy(chunk)
    if (wait !== undefined && !released && waiting === undefined) holdFor(wait)
    const queue = reader
    if (queue === undefined || !Queue.offerUnsafe(queue, chunk)) {
      keepForLater(chunk)
      return
    }
    if (!released && Queue.sizeUnsafe(queue) >= highWaterMark) source.pause()
  })
  source.once("end", () => finish())
  source.once("error", (error) => finish(toError(error)))
  // Destroyed without an end (the tee was closed): nothing more will come.
  source.once("close", () => finish())

  const resume = () => {
    if (waiting === undefined && source.isPaused()) source.resume()
  }

  const pull = (queue: Queue.Queue<Uint8Array, PlatformError.PlatformError | Done>) =>
    Effect.map(Queue.takeAll(queue), (chunks) => {
      resume()
      return chunks
    })

  const stream: Stream.Stream<Uint8Array, PlatformError.PlatformError> = Stream.unwrap(
    Effect.acquireRelease(
      Effect.gen(function*() {
        const queue = yield* Queue.unbounded<Uint8Array, PlatformError.PlatformError | Done>()
        Queue.offerAllUnsafe(queue, replay)
        replay = []
        replayed = 0
        if (ended !== undefined) {
          if (ended.error === undefined) Queue.endUnsafe(queue)
          else Queue.failCauseUnsafe(queue, Cause.fail(ended.error))
        } else {
          reader = queue
        }
        return Stream.fromPull(Effect.succeed(pull(queue)))
      }),
      () =>
        Effect.sync(() => {
          // A reader that stops early leaves the pipe to the tee, which goes on draining. What it buffered but
          // did not read is dropped with it.
          const queue = reader
          reader = undefined
          if (queue !== undefined) Queue.shutdownUnsafe(queue)
          resume()
        })
    )
  )

  return {
    stream,
    ended: Deferred.await(done),
    release: () => {
      released = true
      const hold = waiting
      waiting = undefined
      hold?.interrupt?.()
      resume()
    }
  }
}
