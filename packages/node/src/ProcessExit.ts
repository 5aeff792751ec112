/**
 * The signal that killed a process, from the error `handle.exitCode` fails with.
 *
 * Effect's `handle.exitCode` fails with a `PlatformError` when the process was killed by a signal. A process a
 * task started carries the signal itself in that error's cause (the task-aware spawner owns the Node child and
 * knows it). Effect's own spawner, used outside tasks, says it only in text; `signalOf` reads that text as a
 * fallback, and a test pins the text it depends on.
 *
 * ```ts
 * import { ProcessExit } from "@effect-tasks/node"
 * import { Effect } from "effect"
 * import { ChildProcess } from "effect/process"
 *
 * const run = Effect.scoped(Effect.gen(function*() {
 *   const handle = yield* ChildProcess.make("sh", ["-c", "kill -9 $$"])
 *   return yield* handle.exitCode.pipe(
 *     Effect.catch((error) => Effect.succeed(`killed by ${ProcessExit.signalOf(error) ?? "?"}`))
 *   )
 * }))
 * ```
 *
 * @since 0.1.0
 */

/**
 * The cause the task-aware spawner puts in the `PlatformError` of a process killed by a signal: an `Error` whose
 * message is the one Effect's spawner uses, with the signal's name as `signal`.
 *
 * @since 0.1.0
 * @category models
 */
export interface KilledBySignal extends Error {
  readonly signal: string
}

/**
 * Builds the cause of a process killed by `signal` (see `KilledBySignal`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const killedBy = (signal: string): KilledBySignal =>
  Object.assign(new Error(`Process interrupted due to receipt of signal: '${signal}'`), { signal })

const textual = /receipt of signal: '?(SIG[A-Z0-9]+)'?/

/**
 * The name of the signal that killed the process, from the error `handle.exitCode` failed with (or any error
 * that wraps it as `cause`, as `Cause.squash` gives), else `undefined` (a failure that is not a signal, such as a
 * failed stdin stream).
 *
 * @since 0.1.0
 * @category getters
 */
export const signalOf = (error: unknown): string | undefined => {
  let fallback: string | undefined
  for (let current: unknown = error, depth = 0; current != null && depth < 6; depth++) {
    if (typeof current !== "object") break
    const value = current as { readonly signal?: unknown; readonly message?: unknown; readonly cause?: unknown }
    if (typeof value.signal === "string" && value.signal.startsWith("SIG")) return value.signal
    if (fallback === undefined && typeof value.message === "string") fallback = textual.exec(value.message)?.[1]
    current = value.cause
  }
  return fallback
}
