/**
 * Dropping a client that stopped reading. An event stream is written with backpressure: once the
 * socket's buffers are full, the writer waits for `drain`. The manager never notices (each subscriber
 * buffers a bounded number of events and then drops and counts them), but a client that never reads
 * would hold its connection, its buffers and its subscription for ever. The watchdog destroys the socket
 * of a response that has been waiting for `drain` longer than the limit.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { Socket } from "node:net"

/** The Node socket under a request, when the server is Node's (it always is here). */
export const socketOf = (source: object): Socket | undefined => {
  const socket = (source as { readonly socket?: unknown }).socket
  return socket !== null && typeof socket === "object" && "destroy" in socket ? socket as Socket : undefined
}

/**
 * Watches `socket` for as long as the scope is open, and destroys it once writes have been blocked
 * (`writableNeedDrain`) for longer than `limit`. Destroying the socket ends the response, which ends the
 * request's scope and with it the event subscription.
 */
export const dropWhenStalled = (socket: Socket, limit: Duration.Input): Effect.Effect<void, never, Scope.Scope> => {
  const millis = Duration.toMillis(Duration.fromInputUnsafe(limit))
  let blockedSince: number | undefined
  const check = Effect.sync(() => {
    if (socket.destroyed) return
    if (!socket.writableNeedDrain) {
      blockedSince = undefined
      return
    }
    const now = Date.now()
    blockedSince ??= now
    if (now - blockedSince >= millis) socket.destroy()
  })
  const every = Math.max(10, Math.min(1000, Math.floor(millis / 4)))
  return check.pipe(
    Effect.repeat(Schedule.spaced(Duration.millis(every))),
    Effect.asVoid,
    Effect.forkScoped({ startImmediately: true }),
    Effect.asVoid
  )
}
