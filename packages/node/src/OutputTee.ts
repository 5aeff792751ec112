/**
 * Always-drained process output. A tee reads a pipe as fast as the process writes, copies every
 * chunk to the task (its bounded tail and `TaskOutput` events), and hands the bytes to whoever
 * reads the handle's stream, with backpressure while someone reads and without holding anything
 * beyond a bounded replay buffer while nobody does. So a process that prints a gigabyte neither
 * grows memory nor blocks on a full pipe, and a reader still gets every byte it asked for.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import type { Done } from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as PlatformError from "effect/PlatformError"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"

/** One tee'd stream: the reading side a handle exposes. */
export interface OutputTee {
  /** The stream for the handle's reader; one reader at a time, later readers start where it left off. */
  readonly stream: Stream.Stream<Uint8Array, PlatformError.PlatformError>
  /** Drains the source into the copy and the reader until the source ends; run it in a fiber. */
  readonly pump: Effect.Effect<void>
}

/**
 * Creates a tee over `source`. `copy` receives every chunk (decode and store it there);
 * `replayBytes` bounds what is kept for a reader that has not started reading yet.
 */
export const make = (
  source: Stream.Stream<Uint8Array, PlatformError.PlatformError>,
  copy: (chunk: Uint8Array) => void,
  replayBytes: number
): OutputTee => {
  let replay: Array<Uint8Array> = []
  let replayed = 0
  let reader: Queue.Queue<Uint8Array, PlatformError.PlatformError | Done> | undefined
  let ended: { readonly error?: PlatformError.PlatformError } | undefined

  const keepForLater = (chunk: Uint8Array) => {
    replay.push(chunk)
    replayed += chunk.length
    while (replayed > replayBytes && replay.length > 1) replayed -= replay.shift()!.length
  }

  const deliver = (chunk: Uint8Array): Effect.Effect<void> => {
    copy(chunk)
    if (reader === undefined) {
      keepForLater(chunk)
      return Effect.void
    }
    const queue = reader
    return Effect.flatMap(Queue.offer(queue, chunk), (accepted) => {
      // The reader went away between two chunks: keep the chunk for the next one.
      if (!accepted) keepForLater(chunk)
      return Effect.void
    })
  }

  const finish = (error?: PlatformError.PlatformError) =>
    Effect.sync(() => {
      ended = error === undefined ? {} : { error }
      if (reader === undefined) return
      if (error === undefined) Queue.endUnsafe(reader)
      else Queue.failCauseUnsafe(reader, Cause.fail(error))
    })

  const pump = Stream.runForEach(source, deliver).pipe(
    Effect.matchEffect({ onFailure: (error) => finish(error), onSuccess: () => finish() })
  )

  const stream: Stream.Stream<Uint8Array, PlatformError.PlatformError> = Stream.unwrap(
    Effect.acquireRelease(
      Effect.gen(function*() {
        const queue = yield* Queue.bounded<Uint8Array, PlatformError.PlatformError | Done>(16 + replay.length)
        Queue.offerAllUnsafe(queue, replay)
        replay = []
        replayed = 0
        if (ended !== undefined) {
          if (ended.error === undefined) Queue.endUnsafe(queue)
          else return Stream.concat(Stream.fromQueue(queue), Stream.fail(ended.error))
        } else {
          reader = queue
        }
        return Stream.fromQueue(queue)
      }),
      () =>
        Effect.sync(() => {
          // A reader that stops early leaves the pipe to the pump, which goes on draining.
          // What it buffered but did not read is dropped with it.
          const queue = reader
          reader = undefined
          if (queue !== undefined) Queue.shutdownUnsafe(queue)
        })
    )
  )

  return { stream, pump }
}
