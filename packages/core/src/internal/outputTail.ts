/**
 * A bounded tail of text: it keeps the last `capacity` characters appended and forgets the rest,
 * so a process that prints a gigabyte costs a fixed amount of memory.
 *
 * @internal
 */

/** A mutable bounded tail (owned by one task; never shared across fibers without the manager). */
export interface OutputTail {
  readonly capacity: number
  chunks: Array<string>
  length: number
  /** Characters dropped from the front so far. */
  dropped: number
}

/** Creates an empty tail keeping at most `capacity` characters. */
export const make = (capacity: number): OutputTail => ({ capacity, chunks: [], length: 0, dropped: 0 })

/** Appends text, dropping the oldest characters beyond the capacity. Amortised O(1) per chunk. */
export const append = (tail: OutputTail, text: string): void => {
  if (text.length === 0 || tail.capacity <= 0) {
    tail.dropped += text.length
    return
  }
  if (text.length >= tail.capacity) {
    tail.dropped += tail.length + text.length - tail.capacity
    tail.chunks = [text.slice(text.length - tail.capacity)]
    tail.length = tail.capacity
    return
  }
  tail.chunks.push(text)
  tail.length += text.length
  let excess = tail.length - tail.capacity
  if (excess <= 0) return
  let drop = 0
  while (excess > 0 && excess >= tail.chunks[drop]!.length) {
    excess -= tail.chunks[drop]!.length
    drop++
  }
  const removed = tail.length - tail.capacity
  if (drop > 0) tail.chunks.splice(0, drop)
  if (excess > 0) tail.chunks[0] = tail.chunks[0]!.slice(excess)
  tail.dropped += removed
  tail.length = tail.capacity
}

/** The text currently kept. */
export const text = (tail: OutputTail): string => {
  if (tail.chunks.length > 1) tail.chunks = [tail.chunks.join("")]
  return tail.chunks[0] ?? ""
}
