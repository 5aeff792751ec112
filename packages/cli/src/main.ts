/**
 * The `tasks` program (started by `bin.js`). SIGINT and SIGTERM (through `NodeRuntime.runMain`) and SIGHUP interrupt
 * the program, which closes each command's task manager and so revokes its tasks gracefully; the
 * exit code is the command's, or 128 + the first signal's number.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"
import * as Cli from "./cli.js"
import * as Signals from "./signals.js"
import * as Terminal from "./terminal.js"

Signals.record()
Terminal.ignoreWriteErrors()

const requested = (): number | undefined => typeof process.exitCode === "number" ? process.exitCode : undefined

const teardown: Runtime.Teardown = (exit, onExit) => {
  // Nothing should keep the loop alive after the program ends; if something does, do not hang.
  setTimeout(() => process.exit(), 2000).unref()
  if (Exit.isSuccess(exit)) return onExit(requested() ?? 0)
  if (Cause.hasInterruptsOnly(exit.cause)) return onExit(requested() ?? Signals.exitCode())
  return Runtime.defaultTeardown(exit, onExit)
}

Cli.run(process.argv.slice(2)).pipe(
  Signals.interruptOnHangup,
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({ teardown })
)
