/**
 * Signals to the host: SIGINT, SIGTERM and SIGHUP shut the task manager down gracefully, a second signal forces
 * it, a third exits at once.
 *
 * `NodeRuntime.runMain` turns SIGINT and SIGTERM into an interruption of the main fiber (which closes the layers
 * and so shuts the manager down) but ignores SIGHUP, the signal a closed terminal sends, and a second Ctrl-C
 * does nothing while finalizers wait out a long grace period. With `HostSignals.layer` added on top of the
 * manager:
 *
 * 1. the first signal starts `TaskManager.shutdown` at once (no new tasks; every task revoked gracefully, each
 *    kill bounded by the task's grace) and ends the program: the signal's other listeners (`runMain`'s) see it
 *    as usual; a SIGHUP nobody else listens to is handed to `runMain`'s SIGTERM listener; with no other
 *    listener at all the process exits with 128 + the signal number once the shutdown is done;
 * 2. a second signal revokes everything with `graceful: false` (SIGKILL now, upgrading the graceful revokes
 *    under way) and exits after `forceExitAfter` (default 2 s) if the program has still not ended;
 * 3. a third signal exits at once (a guardian, if on, cleans up what is left).
 *
 * ```ts
 * import { TaskManager } from "@effect-tasks/core"
 * import { HostSignals, NodeTaskManager } from "@effect-tasks/node"
 * import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
 * import { Effect, Layer } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const tm = yield* TaskManager.TaskManager
 *   yield* tm.submit(Effect.never, { name: "server" })
 *   return yield* Effect.never
 * })
 *
 * const main = program.pipe(Effect.provide(HostSignals.layer().pipe(Layer.provideMerge(NodeTaskManager.layer))))
 * NodeRuntime.runMain(main)
 * ```
 *
 * @since 0.1.0
 */
import { TaskManager } from "@effect-tasks/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { constants } from "node:os"

/**
 * Settings of the signal handling.
 *
 * - `signals`: the signals handled (default SIGINT, SIGTERM, SIGHUP).
 * - `forceExitAfter`: after the second signal, how long the forced shutdown may take before the process exits
 *   anyway (default 2 seconds).
 * - `onSignal`: called on every signal handled, with how many have been received (e.g. to print "press Ctrl-C
 *   again to force").
 *
 * @since 0.1.0
 * @category configuration
 */
export interface HostSignalsOptions {
  readonly signals?: ReadonlyArray<NodeJS.Signals> | undefined
  readonly forceExitAfter?: Duration.Input | undefined
  readonly onSignal?: ((signal: NodeJS.Signals, count: number) => void) | undefined
}

const ours = Symbol.for("@effect-tasks/node/HostSignals")

type Listener = ((signal: NodeJS.Signals) => void) & { [ours]?: true }

const foreign = (signal: NodeJS.Signals): Array<Listener> =>
  (process.listeners(signal) as Array<Listener>).filter((listener) => listener[ours] !== true)

const exitCode = (signal: NodeJS.Signals): number => 128 + (constants.signals[signal] ?? 2)

/**
 * Installs the handlers for the life of the current scope (see the module comment). When the scope closes, the
 * manager is shut down (gracefully; a signal during that wait still forces it) and the handlers are removed.
 *
 * @since 0.1.0
 * @category constructors
 */
export const install = (
  options: HostSignalsOptions = {}
): Effect.Effect<void, never, TaskManager.TaskManager | Scope.Scope> =>
  Effect.gen(function*() {
    const manager = yield* TaskManager.TaskManager
    const context = yield* Effect.context<never>()
    const run = Effect.runForkWith(context)
    const signals = options.signals ?? ["SIGINT", "SIGTERM", "SIGHUP"]
    const forceExitAfter = Math.max(
      0,
      Duration.toMillis(Duration.fromInputUnsafe(options.forceExitAfter ?? "2 seconds"))
    )
    let count = 0

    const handler: Listener = (signal) => {
      count++
      try {
        options.onSignal?.(signal, count)
      } catch {
        // a reporting callback must not stop the shutdown
      }
      if (count === 1) {
        let forwarded = foreign(signal).length > 0
        if (!forwarded) {
          for (const other of ["SIGTERM", "SIGINT"] as const) {
            const listeners = foreign(other)
            if (listeners.length === 0) continue
            for (const listener of listeners) listener.call(process, other)
            forwarded = true
            break
          }
        }
        const fiber = run(manager.shutdown)
        if (!forwarded) fiber.addObserver(() => process.exit(exitCode(signal)))
        return
      }
      if (count === 2) {
        run(manager.revokeAll({ graceful: false }))
        setTimeout(() => process.exit(exitCode(signal)), forceExitAfter).unref()
        return
      }
      process.exit(exitCode(signal))
    }
    handler[ours] = true

    yield* Effect.acquireRelease(
      Effect.sync(() => {
        for (const signal of signals) process.on(signal, handler)
      }),
      () =>
        manager.shutdown.pipe(
          Effect.ensuring(Effect.sync(() => {
            for (const signal of signals) process.removeListener(signal, handler)
          }))
        )
    )
  })

/**
 * `install` as a layer over the `TaskManager.TaskManager` (add it with `Layer.provideMerge` on top of the manager's layer, so
 * that it is released, and the handlers removed, only after the manager has shut down).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: HostSignalsOptions = {}): Layer.Layer<never, never, TaskManager.TaskManager> =>
  Layer.effectDiscard(install(options))
