/**
 * The signals that stop `tasks`: SIGINT (Ctrl-C), SIGTERM and SIGHUP (the terminal went away).
 * `NodeRuntime.runMain` interrupts the program on SIGINT and SIGTERM; `interruptOnHangup` adds
 * SIGHUP. Interrupting the program closes the task manager's layer, which revokes every task
 * gracefully. The first signal received decides the exit code (128 + its number).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"

/** The signals that stop `tasks` gracefully. */
export const stopSignals = ["SIGINT", "SIGTERM", "SIGHUP"] as const

/** One of the stop signals. */
export type StopSignal = typeof stopSignals[number]

const numbers: Record<StopSignal, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 }
const received: Array<StopSignal> = []

/**
 * Starts recording stop signals (call once, before `runMain` installs its own listeners, so the
 * record is there when the interruption they cause is handled).
 */
export const record = (): void => {
  for (const signal of stopSignals) process.on(signal, () => received.push(signal))
}

/** The first stop signal received, if any. */
export const first = (): StopSignal | undefined => received[0]

/** How many stop signals have been received. */
export const count = (): number => received.length

/** The exit code of a run stopped by the first signal: 128 + its number (130 if none was recorded). */
export const exitCode = (): number => 128 + numbers[first() ?? "SIGINT"]

/** Interrupts `effect` (so its finalizers and layers close gracefully) when SIGHUP arrives. */
export const interruptOnHangup = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) => {
    const onHangup = () => fiber.interruptUnsafe(fiber.id)
    process.on("SIGHUP", onHangup)
    return Effect.ensuring(effect, Effect.sync(() => process.off("SIGHUP", onHangup)))
  })

/**
 * Runs `effect`; from the second stop signal on (the first started a graceful stop), says so with `say` and
 * runs `killAll` (a revoke of every task with `graceful: false`), as `tasks run` and `tasks shell` do.
 */
export const killOnSecond = <A, E, R>(
  say: (text: string) => void,
  killAll: Effect.Effect<unknown>,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.context<never>(), (context) => {
    const runFork = Effect.runForkWith(context)
    return onEach(() => {
      if (count() < 2) return
      say("--> second signal: killing everything at once")
      runFork(killAll)
    }, effect)
  })

/**
 * Calls `f` on every stop signal while `effect` runs (e.g. to escalate to an immediate kill on a
 * second Ctrl-C). The listener stays installed until `effect` and its finalizers are done.
 */
export const onEach = <A, E, R>(f: (signal: StopSignal) => void, effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const listeners = stopSignals.map((signal) => [signal, () => f(signal)] as const)
      for (const [signal, listener] of listeners) process.on(signal, listener)
      return listeners
    }),
    () => effect,
    (listeners) => Effect.sync(() => listeners.forEach(([signal, listener]) => process.off(signal, listener)))
  )
