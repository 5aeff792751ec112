/**
 * Lossless followers of one task's output, with a pipe's backpressure. Every chunk the task's processes
 * write goes to every follower's buffer, in arrival order; nothing is ever dropped. A follower's buffer is
 * bounded: once one holds `capacity` characters, the writer is told to wait (the node spawner's pump then
 * stops reading the pipe, so the process blocks on a full pipe, as it would under a shell pipe) until every
 * follower has read its buffer below the bound. A chunk is always taken whole, so a buffer holds at most
 * `capacity` plus one chunk per pipe of the task.
 *
 * A follower ends once the task is terminal and it has read everything; it stops holding the writer back the
 * moment it goes away (its stream ends or its scope closes), so a follower that stops reading can stall a
 * task only while its scope is open.
 *
 * @internal
 */
import type { NonEmptyReadonlyArray } from "effect/Array"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { OutputChunk } from "../OutputChunk.js"

/** One follower: what it has not read yet, and the reader waiting for more, if any. */
export interface Follower {
  chunks: Array<OutputChunk>
  /** Characters in `chunks`. */
  size: number
  /** The task is terminal: no chunk comes after the buffered ones. */
  ended: boolean
  /** The follower went away: its buffer is dropped and it holds nobody back. */
  detached: boolean
  wakeReader: (() => void) | undefined
  readonly followers: Followers
}

/** The followers of one task. */
export interface Followers {
  readonly capacity: number
  readonly members: Set<Follower>
  /** Followers whose buffer is at or over the bound: the writer waits while there is any. */
  full: number
  readonly waitingWriters: Set<() => void>
  ended: boolean
  /** The one effect every writer gets while a buffer is full (see `wait`). */
  readonly room: Effect.Effect<void>
}

const sizeOf = (chunk: OutputChunk): number => chunk._tag === "TaskOutput" ? chunk.text.length : 0

/** The followers of a task whose buffers each hold about `capacity` characters. */
export const make = (capacity: number): Followers => {
  const followers: Followers = {
    capacity: Math.max(1, capacity),
    members: new Set(),
    full: 0,
    waitingWriters: new Set(),
    ended: false,
    room: Effect.callback<void>((resume) => {
      if (followers.full === 0) return resume(Effect.void)
      const wake = () => resume(Effect.void)
      followers.waitingWriters.add(wake)
      return Effect.sync(() => {
        followers.waitingWriters.delete(wake)
      })
    })
  }
  return followers
}

const wakeWriters = (followers: Followers): void => {
  if (followers.full > 0 || followers.waitingWriters.size === 0) return
  const writers = Array.from(followers.waitingWriters)
  followers.waitingWriters.clear()
  for (const wake of writers) wake()
}

const wake = (follower: Follower): void => {
  const reader = follower.wakeReader
  if (reader === undefined) return
  follower.wakeReader = undefined
  reader()
}

const push = (follower: Follower, chunk: OutputChunk): void => {
  const before = follower.size
  follower.chunks.push(chunk)
  follower.size += sizeOf(chunk)
  if (before < follower.followers.capacity && follower.size >= follower.followers.capacity) follower.followers.full++
}

/**
 * Adds a follower, its buffer seeded with `replay` (what the task wrote before it came). On a task that has
 * already ended it gets the replay and then its end.
 */
export const attach = (followers: Followers, replay: ReadonlyArray<OutputChunk>): Follower => {
  const follower: Follower = {
    chunks: [],
    size: 0,
    ended: followers.ended,
    detached: false,
    wakeReader: undefined,
    followers
  }
  if (followers.ended) {
    follower.chunks = replay.slice()
    return follower
  }
  for (const chunk of replay) push(follower, chunk)
  followers.members.add(follower)
  return follower
}

/** A follower of a task that has already ended: it gets `replay`, then its end. */
export const attachEnded = (replay: ReadonlyArray<OutputChunk>): Follower => {
  const followers = make(1)
  end(followers)
  return attach(followers, replay)
}

/** Removes a follower: it no longer holds the writer back. Idempotent. */
export const detach = (follower: Follower): void => {
  if (follower.detached) return
  const followers = follower.followers
  follower.detached = true
  followers.members.delete(follower)
  if (follower.size >= followers.capacity && !followers.ended) followers.full--
  follower.chunks = []
  follower.size = 0
  wake(follower)
  wakeWriters(followers)
}

/**
 * Hands a chunk to every follower. Returns undefined when the writer may go on at once, else the effect that
 * completes once every follower has room again.
 */
export const offer = (followers: Followers, chunk: OutputChunk): Effect.Effect<void> | undefined => {
  for (const follower of followers.members) {
    push(follower, chunk)
    wake(follower)
  }
  return followers.full > 0 ? followers.room : undefined
}

/** The task is terminal: followers end once they have read what they hold, and no writer waits any more. */
export const end = (followers: Followers): void => {
  followers.ended = true
  for (const follower of followers.members) {
    follower.ended = true
    wake(follower)
  }
  followers.members.clear()
  followers.full = 0
  const writers = Array.from(followers.waitingWriters)
  followers.waitingWriters.clear()
  for (const writer of writers) writer()
}

const take = (follower: Follower): NonEmptyReadonlyArray<OutputChunk> => {
  const chunks = follower.chunks as unknown as NonEmptyReadonlyArray<OutputChunk>
  const followers = follower.followers
  const wasFull = follower.size >= followers.capacity
  follower.chunks = []
  follower.size = 0
  if (wasFull && !followers.ended) {
    followers.full--
    wakeWriters(followers)
  }
  return chunks
}

/** Reads a follower: everything buffered at each pull, waiting while there is nothing; done at the end. */
export const pull = (follower: Follower): Effect.Effect<NonEmptyReadonlyArray<OutputChunk>, Cause.Done> => {
  const next: Effect.Effect<NonEmptyReadonlyArray<OutputChunk>, Cause.Done> = Effect.suspend(() => {
    if (follower.chunks.length > 0) return Effect.succeed(take(follower))
    if (follower.ended || follower.detached) return Cause.done()
    return Effect.callback<NonEmptyReadonlyArray<OutputChunk>, Cause.Done>((resume) => {
      follower.wakeReader = () => resume(next)
      return Effect.sync(() => {
        follower.wakeReader = undefined
      })
    })
  })
  return next
}

/** The follower as a stream; it goes away when the stream ends, however it ends. */
export const stream = (follower: Follower): Stream.Stream<OutputChunk> =>
  Stream.fromPull(Effect.succeed(pull(follower))).pipe(Stream.ensuring(Effect.sync(() => detach(follower))))
