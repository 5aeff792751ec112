/**
 * The `tasks` command line: `demo`, `shell`, `run`, `reap`, and the remote commands (`ls`, `show`, `logs`,
 * `follow`, `revoke`, `revoke-all`) under one root, parsed by `effect/cli`.
 * Only `--help` and `--version` are global flags, and a bad invocation (an unknown command or flag,
 * a bad value) prints one line on stderr and exits with 1, instead of the whole help page.
 *
 * @since 0.1.0
 */
import { CliConfig, type CliError, CliOutput, Command, GlobalFlag } from "effect/cli"
import * as Effect from "effect/Effect"
import * as Cluster from "./commands/cluster/index.js"
import * as Demo from "./commands/demo.js"
import * as Reap from "./commands/reap.js"
import * as Remote from "./commands/remote.js"
import * as Run from "./commands/run.js"
import * as Shell from "./commands/shell.js"
import * as Serve from "./serve.js"
import { version } from "./version.js"

/** The root command, `tasks`. */
export const root = Command.make("tasks").pipe(
  Command.withDescription(
    "Tracked background tasks on real processes: revoke gracefully, kill whole process trees, leave no orphans"
  ),
  Command.withSubcommands([
    Demo.command,
    Shell.command,
    Run.command,
    Reap.command,
    ...Remote.commands,
    Cluster.command
  ])
)

/** The one-line form of a parse error: `tasks run: invalid duration "5x" ... (see tasks run --help)`. */
export const errorLine = (commandPath: ReadonlyArray<string>, errors: ReadonlyArray<CliError.CliError>): string => {
  const messages = errors.map((error) => error.message.split("\n")[0]!.trim())
  const where = commandPath.join(" ")
  return `${where}: ${messages.join("; ")} (see '${where} --help')`
}

const presenter: CliOutput.Presenter = {
  present: (event) =>
    Effect.sync(() => {
      switch (event._tag) {
        case "InvalidInvocation":
          process.stderr.write(`${errorLine(event.commandPath, event.errors)}\n`)
          return
        case "Help":
          process.stdout.write(`${CliOutput.defaultFormatter({ colors: false }).formatHelpDoc(event.helpDoc)}\n`)
          return
        case "Version":
          process.stdout.write(`${event.name} ${event.version}\n`)
          return
      }
    })
}

/** Parses `args` (without `node` and the script) and runs the command they name. */
export const run = (args: ReadonlyArray<string>) =>
  Command.runWith(root, { version })(Serve.normalizeArgs(args)).pipe(
    Effect.provideService(CliOutput.Presenter, presenter),
    Effect.provideService(CliConfig.CliConfig, CliConfig.make({ builtIns: [GlobalFlag.Help, GlobalFlag.Version] }))
  )
