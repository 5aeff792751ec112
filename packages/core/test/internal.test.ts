/**
 * The manager's internal parts, each alone: the output tail, the FIFO pool, the retained history, and the
 * rule that picks the exit deciding a task's state.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Exit } from "effect"
import * as OutputTail from "../src/internal/outputTail.js"
import * as Pool from "../src/internal/pool.js"
import * as Retention from "../src/internal/retention.js"
import { decidingExit, stateOf } from "../src/internal/task.js"

interface Member {
  readonly id: number
  waiting: boolean
}
const isWaiting = (member: Member) => member.waiting

describe("Pool", () => {
  it("lets `limit` members run and hands out waiting ones oldest first as slots free up", () => {
    const pool = Pool.make<Member>(2)
    Pool.acquire(pool)
    Pool.acquire(pool)
    expect(Pool.isFull(pool)).toBe(true)
    const members = Array.from({ length: 4 }, (_, i) => ({ id: i + 3, waiting: true }))
    for (const member of members) Pool.wait(pool, member)
    expect(Pool.next(pool, isWaiting)).toBeUndefined()
    Pool.release(pool)
    expect(Pool.next(pool, isWaiting)?.id).toBe(3)
    expect(Pool.next(pool, isWaiting)).toBeUndefined()
    Pool.release(pool)
    Pool.release(pool)
    expect([Pool.next(pool, isWaiting)?.id, Pool.next(pool, isWaiting)?.id]).toEqual([4, 5])
    expect(Pool.isFull(pool)).toBe(true)
  })

  it("skips members that left the line, and compacts a line made mostly of them", () => {
    const pool = Pool.make<Member>(1)
    Pool.acquire(pool)
    const members = Array.from({ length: 1000 }, (_, i) => ({ id: i, waiting: true }))
    for (const member of members) Pool.wait(pool, member)
    for (const member of members) {
      if (member.id % 10 === 0) continue
      member.waiting = false
      Pool.leave(pool, isWaiting)
    }
    // 900 left: the line was compacted on the way, so it holds little more than the 100 still waiting.
    expect(pool.line.length).toBeLessThan(250)
    const order: Array<number> = []
    for (;;) {
      Pool.release(pool)
      const next = Pool.next(pool, isWaiting)
      if (next === undefined) break
      order.push(next.id)
    }
    expect(order).toEqual(Array.from({ length: 100 }, (_, i) => i * 10))
  })
})

describe("Retention", () => {
  it("keeps the newest `retain` ids and hands back the one that falls out", () => {
    const retention = Retention.make<number>(3)
    expect([1, 2, 3].map((id) => Retention.add(retention, id))).toEqual([undefined, undefined, undefined])
    expect(Retention.add(retention, 4)).toBe(1)
    expect(Retention.add(retention, 5)).toBe(2)
  })

  it("retain 0 forgets every task as it finishes", () => {
    const retention = Retention.make<number>(0)
    expect(Retention.add(retention, 7)).toBe(7)
  })
})

describe("the exit that decides a task's state", () => {
  const interrupted = Exit.interrupt()
  it("is the fiber's own when the body never completed, or when nothing interrupted the cleanup", () => {
    expect(decidingExit(undefined, interrupted)).toBe(interrupted)
    const died = Exit.die("finalizer")
    expect(decidingExit(Exit.succeed(1), died)).toBe(died)
  })

  it("keeps a completed body's result when a revoke reached only the cleanup", () => {
    expect(decidingExit(Exit.succeed(42), interrupted)).toEqual(Exit.succeed(42))
    const failed = Exit.fail("boom")
    expect(stateOf(decidingExit(failed, Exit.failCause(Cause.combine(Cause.fail("boom"), Cause.interrupt())))))
      .toBe("FAILURE")
  })

  it("keeps what else went wrong in the cleanup, and stays REVOKED when the body itself was interrupted", () => {
    const cleanupDied = Exit.failCause(Cause.combine(Cause.die("finalizer"), Cause.interrupt()))
    const decided = decidingExit(Exit.succeed(42), cleanupDied)
    expect(stateOf(decided)).toBe("FAILURE")
    expect(Exit.isFailure(decided) && Cause.hasDies(decided.cause) && !Cause.hasInterrupts(decided.cause)).toBe(true)
    expect(stateOf(decidingExit(interrupted, cleanupDied))).toBe("REVOKED")
  })
})

describe("OutputTail", () => {
  it("keeps the last capacity characters across chunks and counts the rest", () => {
    const tail = OutputTail.make(5)
    OutputTail.append(tail, "ab")
    OutputTail.append(tail, "cd")
    expect(OutputTail.text(tail)).toBe("abcd")
    OutputTail.append(tail, "efg")
    expect(OutputTail.text(tail)).toBe("cdefg")
    expect(tail.dropped).toBe(2)
    OutputTail.append(tail, "0123456789")
    expect(OutputTail.text(tail)).toBe("56789")
    expect(tail.dropped).toBe(12)
    OutputTail.append(tail, "")
    expect(OutputTail.text(tail)).toBe("56789")
  })

  it("stays bounded over a million small chunks", () => {
    const tail = OutputTail.make(100)
    for (let i = 0; i < 1_000_000; i++) OutputTail.append(tail, String(i % 10))
    expect(tail.length).toBe(100)
    expect(tail.pieces.length - tail.head).toBeLessThanOrEqual(100)
    expect(tail.pieces.length).toBeLessThanOrEqual(300)
    expect(OutputTail.text(tail)).toBe("0123456789".repeat(10))
    expect(tail.dropped).toBe(1_000_000 - 100)
  })

  it("a capacity of 0 keeps nothing", () => {
    const tail = OutputTail.make(0)
    OutputTail.append(tail, "abc")
    expect(OutputTail.text(tail)).toBe("")
    expect(tail.dropped).toBe(3)
  })
})
