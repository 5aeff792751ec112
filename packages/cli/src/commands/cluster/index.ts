/**
 * `tasks cluster`: runners, submit, ls, revoke and a demo for `@effect-tasks/cluster`.
 *
 * @since 0.1.0
 */
import { Command } from "effect/cli"
import * as Demo from "./demo.js"
import * as Ls from "./ls.js"
import * as Revoke from "./revoke.js"
import * as Runner from "./runner.js"
import * as Submit from "./submit.js"

/** The `cluster` command and its subcommands. */
export const command = Command.make("cluster").pipe(
  Command.withDescription(
    "Tasks across runner processes and machines (Effect Cluster): runner, submit, ls, revoke, demo"
  ),
  Command.withSubcommands([Runner.command, Submit.command, Ls.command, Revoke.command, Demo.command])
)
