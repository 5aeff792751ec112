/**
 * `tasks cluster ls --db URL [--json]`: every retained task of the cluster, with at least `id`, `name`,
 * `state`, `attempt`, `runner` and `error`.
 *
 * @since 0.1.0
 */
import { Command } from "effect/cli"
import * as Effect from "effect/Effect"
import * as Flags from "../../flags.js"
import { db, renderTasks, withClient } from "./shared.js"

/** The `cluster ls` command. */
export const command = Command.make(
  "ls",
  { db, json: Flags.json },
  (config) =>
    withClient(config.db, (tasks) =>
      Effect.map(tasks.list, (list) => {
        // Every record carries the contract's fields, null when a task has none yet (no runner while QUEUED).
        if (config.json) {
          const rows = list.map((task) => ({ ...task, runner: task.runner ?? null, error: task.error ?? null }))
          process.stdout.write(`${JSON.stringify(rows)}\n`)
        } else if (list.length === 0) process.stdout.write("no tasks\n")
        else process.stdout.write(`${renderTasks(list, process.stdout.columns).join("\n")}\n`)
      }))
).pipe(Command.withDescription("List the cluster's tasks (id, name, state, attempt, runner, error)"))
