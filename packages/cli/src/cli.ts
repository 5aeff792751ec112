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
import type * as Cluster from "./commands/cluster/index.js"
import type * as Demo from "./commands/demo.js"
import type * as Reap from "./commands/reap.js"
import type * as Remote from "./commands/remote.js"
import type * as Run from "./commands/run.js"
import type * as Shell from "./commands/shell.js"
import { version } from "./version.js"

/** A subcommand of `tasks`. */
export type Subcommand =
  | typeof Demo.command
  | typeof Shell.command
  | typeof Run.command
  | typeof Reap.command
  | (typeof Remote.commands)[number]
  | typeof Cluster.command

const remoteNames = new Set(["ls", "show", "logs", "follow", "revoke", "revoke-all"])

const all = async (): Promise<ReadonlyArray<Subcommand>> => {
  const [demo, shell, run, reap, remote, cluster] = await Promise.all([
    import("./commands/demo.js"),
    import("./commands/shell.js"),
    import("./commands/run.js"),
    import("./commands/reap.js"),
    import("./commands/remote.js"),
    import("./commands/cluster/index.js")
  ])
  return [demo.command, shell.command, run.command, reap.command, ...remote.commands, cluster.command]
}

/**
 * The subcommands an invocation needs, with its arguments as the parser should see them. A command named first
 * is loaded alone, so that `tasks run` does not load the shell, the server and the cluster first (they are
 * about half of its start-up); anything else (help, a version, a mistake) gets every command.
 */
export const load = async (
  args: ReadonlyArray<string>
): Promise<{ readonly subcommands: ReadonlyArray<Subcommand>; readonly args: ReadonlyArray<string> }> => {
  const name = args[0]
  switch (name) {
    case "run":
      return { subcommands: [(await import("./commands/run.js")).command], args }
    case "reap":
      return { subcommands: [(await import("./commands/reap.js")).command], args }
    case "cluster":
      return { subcommands: [(await import("./commands/cluster/index.js")).command], args }
    case "shell":
    case "demo": {
      const [command, serve] = await Promise.all([
        name === "shell"
          ? import("./commands/shell.js").then((module) => module.command)
          : import("./commands/demo.js").then((module) => module.command),
        import("./serve.js")
      ])
      return { subcommands: [command], args: serve.normalizeArgs(args) }
    }
    default:
      if (name !== undefined && remoteNames.has(name)) {
        return { subcommands: (await import("./commands/remote.js")).commands, args }
      }
      return { subcommands: await all(), args }
  }
}

/** The root command, `tasks`, with `subcommands` (see `load`). */
export const rootOf = (subcommands: ReadonlyArray<Subcommand>) =>
  Command.make("tasks").pipe(
    Command.withDescription(
      "Tracked background tasks on real processes: revoke gracefully, kill whole process trees, leave no orphans"
    ),
    Command.withSubcommands(subcommands)
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
  Effect.promise(() => load(args)).pipe(
    Effect.flatMap((loaded) => Command.runWith(rootOf(loaded.subcommands), { version })(loaded.args)),
    Effect.provideService(CliOutput.Presenter, presenter),
    Effect.provideService(CliConfig.CliConfig, CliConfig.make({ builtIns: [GlobalFlag.Help, GlobalFlag.Version] }))
  )
