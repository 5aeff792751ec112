/**
 * A bounded tail of text: it keeps the last `capacity` characters appended and forgets the rest,
 * so a process that prints a gigabyte costs a fixed amount of memory. Each kept piece remembers the
 * process that wrote it and its place in the task's arrival order, so that the tails of stdout and
 * stderr can be replayed interleaved, as the chunks arrived, to a follower that starts late.
 *
 * @internal
 */

/** A kept piece of output: its text, the process that wrote it, and its arrival order in the task. */
export interface Piece {
  readonly text: string
  readonly pid: number
  readonly seq: number
}

/** A mutable bounded tail (owned by one task; never shared across fibers without the manager). */
export interface OutputTail {
  readonly capacity: number
  /** The kept pieces are `pieces[head..]`: dropping from the front moves `head`, compacting now and then. */
  pieces: Array<Piece>
  head: number
  length: number
  /** Characters dropped from the front so far. */
  dropped: number
  /** The kept text, joined once per change (read by `text`). */
  joined: string | undefined
}

/** Creates an empty tail keeping at most `capacity` characters. */
export const make = (capacity: number): OutputTail => ({
  capacity,
  pieces: [],
  head: 0,
  length: 0,
  dropped: 0,
  joined: ""
})

/** Appends text written by `pid` with arrival order `seq`, dropping the oldest characters beyond the capacity. */
export const append = (tail: OutputTail, text: string, pid = 0, seq = 0): void => {
  if (text.length === 0 || tail.capacity <= 0) {
    tail.dropped += text.length
    return
  }
  tail.joined = undefined
  if (text.length >= tail.capacity) {
    tail.dropped += tail.length + text.length - tail.capacity
    tail.pieces = [{ text: text.slice(text.length - tail.capacity), pid, seq }]
    tail.head = 0
    tail.length = tail.capacity
    return
  }
  tail.pieces.push({ text, pid, seq })
  tail.length += text.length
  let excess = tail.length - tail.capacity
  if (excess <= 0) return
  let head = tail.head
  while (excess > 0 && excess >= tail.pieces[head]!.text.length) {
    excess -= tail.pieces[head]!.text.length
    head++
  }
  const removed = tail.length - tail.capacity
  if (excess > 0) {
    const first = tail.pieces[head]!
    tail.pieces[head] = { text: first.text.slice(excess), pid: first.pid, seq: first.seq }
  }
  // Amortised O(1) per piece: the dropped front is cut off once it is as long as what is kept.
  if (head > 32 && head * 2 > tail.pieces.length) {
    tail.pieces = tail.pieces.slice(head)
    head = 0
  }
  tail.head = head
  tail.dropped += removed
  tail.length = tail.capacity
}

/** The text currently kept. */
export const text = (tail: OutputTail): string => {
  if (tail.joined === undefined) {
    let joined = ""
    for (let i = tail.head; i < tail.pieces.length; i++) joined += tail.pieces[i]!.text
    tail.joined = joined
  }
  return tail.joined
}

/**
 * The pieces of several tails in arrival order (each tail's pieces are already in order), handed to `f` with the
 * index of the tail they come from.
 */
export const interleave = (tails: ReadonlyArray<OutputTail>, f: (piece: Piece, index: number) => void): void => {
  const next = tails.map((tail) => tail.head)
  for (;;) {
    let best = -1
    for (let i = 0; i < tails.length; i++) {
      const piece = tails[i]!.pieces[next[i]!]
      if (piece !== undefined && (best < 0 || piece.seq < tails[best]!.pieces[next[best]!]!.seq)) best = i
    }
    if (best < 0) return
    f(tails[best]!.pieces[next[best]!]!, best)
    next[best] = next[best]! + 1
  }
}
