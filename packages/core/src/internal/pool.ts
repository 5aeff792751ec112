/**
 * A concurrency pool: at most `limit` members run at once, the others wait in FIFO order.
 *
 * The waiting line is a `MutableList`. A member that leaves the line early (a revoked QUEUED task) is
 * not searched for: `leave` only counts it, `next` skips members that no longer wait, and the line is
 * compacted once such leftovers outnumber the members still waiting. Every operation is amortised O(1),
 * so a line of a million tasks fills and drains in linear time.
 *
 * @internal
 */
import * as MutableList from "effect/MutableList"

/** @internal */
export interface Pool<A> {
  readonly limit: number
  /** Members holding a slot. */
  running: number
  readonly line: MutableList.MutableList<A>
  /** Members still in `line` that left it early. */
  left: number
}

/** @internal */
export const make = <A>(limit: number): Pool<A> => ({
  limit: Math.max(1, limit),
  running: 0,
  line: MutableList.make(),
  left: 0
})

/** True when every slot is taken: a new member must wait. @internal */
export const isFull = <A>(pool: Pool<A>): boolean => pool.running >= pool.limit

/** Takes a slot. @internal */
export const acquire = <A>(pool: Pool<A>): void => {
  pool.running++
}

/** Gives a slot back; the caller then starts members with `next` while it returns one. @internal */
export const release = <A>(pool: Pool<A>): void => {
  pool.running--
}

/** Puts a member at the end of the line. @internal */
export const wait = <A>(pool: Pool<A>, member: A): void => {
  MutableList.append(pool.line, member)
}

/**
 * Records that a member left the line early; `waiting` tells members that still wait from those that
 * left, for the compaction.
 *
 * @internal
 */
export const leave = <A>(pool: Pool<A>, waiting: (member: A) => boolean): void => {
  pool.left++
  if (pool.left > 64 && pool.left * 2 > pool.line.length) {
    MutableList.filter(pool.line, waiting)
    pool.left = 0
  }
}

/**
 * The oldest member still waiting, if a slot is free; it takes the slot. Members that left the line
 * early are dropped on the way.
 *
 * @internal
 */
export const next = <A>(pool: Pool<A>, waiting: (member: A) => boolean): A | undefined => {
  while (pool.running < pool.limit) {
    const member = MutableList.take(pool.line)
    if (member === MutableList.Empty) {
      pool.left = 0
      return undefined
    }
    if (!waiting(member)) {
      if (pool.left > 0) pool.left--
      continue
    }
    pool.running++
    return member
  }
  return undefined
}
