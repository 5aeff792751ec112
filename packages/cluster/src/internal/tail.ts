/**
 * One reader of the events table per process: it reads every event committed after the process started, in
 * sequence order, each time the change feed wakes it, and hands each batch to the process's listeners (the
 * waiters of `await`, `events` subscribers, a runner's revocation and claim logic).
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { ClusterEvent } from "../ClusterEvent.js"
import type { Database } from "./database.js"
import type { Store } from "./store.js"

/** An event with its place in the cluster's order. */
export interface Sequenced {
  readonly seq: number
  readonly event: ClusterEvent
}

/** The process's reader of events. */
export interface Tail {
  /** The sequence number of the last event handed to the listeners. */
  readonly position: () => number
  /** Adds a listener of every later batch; removed with the scope. */
  readonly listen: (listener: (batch: ReadonlyArray<Sequenced>) => void) => Effect.Effect<void, never, Scope.Scope>
  /** Completes once the reader has read everything committed before this call. */
  readonly caughtUp: Effect.Effect<void>
}

/** Starts the reader in the current scope. */
export const make = (db: Database, store: Store): Effect.Effect<Tail, never, Scope.Scope> =>
  Effect.gen(function*() {
    let position = yield* Effect.orDie(store.lastSeq)
    const listeners = new Set<(batch: ReadonlyArray<Sequenced>) => void>()
    const waiters: Array<{ readonly seq: number; readonly resume: () => void }> = []
    const next = yield* db.subscribe

    const read: Effect.Effect<void> = Effect.gen(function*() {
      while (true) {
        const rows = yield* store.eventsAfter(position, 500)
        if (rows.length === 0) return
        const batch = rows.map((row) => ({ seq: row.seq, event: JSON.parse(row.event) as ClusterEvent }))
        position = rows[rows.length - 1]!.seq
        for (const listener of listeners) listener(batch)
        if (rows.length < 500) return
      }
    }).pipe(Effect.catchCause(() => Effect.void))

    const settleWaiters = (target: number) => {
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i]!.seq <= target) waiters.splice(i, 1)[0]!.resume()
      }
    }

    yield* Effect.gen(function*() {
      while (true) {
        yield* read
        settleWaiters(position)
        // A waiter left over means a read failed (the database is away): try again soon.
        yield* waiters.length === 0 ? next : Effect.sleep(20)
      }
    }).pipe(Effect.forkScoped)

    return {
      position: () => position,
      listen: (listener) =>
        Effect.acquireRelease(
          Effect.sync(() => listeners.add(listener)),
          () => Effect.sync(() => listeners.delete(listener))
        ).pipe(Effect.asVoid),
      caughtUp: Effect.flatMap(Effect.orDie(store.lastSeq), (seq) =>
        seq <= position
          ? Effect.void
          : Effect.callback<void>((resume) => {
            const waiter = { seq, resume: () => resume(Effect.void) }
            waiters.push(waiter)
            db.wakeLocal()
            return Effect.sync(() => {
              const i = waiters.indexOf(waiter)
              if (i >= 0) waiters.splice(i, 1)
            })
          }))
    }
  })
