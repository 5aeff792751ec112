/**
 * `tasks cluster revoke --db URL ID [--force]`: revokes a task wherever it runs and waits until it is
 * terminal (its runner's processes gone), then prints its final state.
 *
 * @since 0.1.0
 */
import { TaskId } from "@effect-tasks/core"
import { Argument, Command, Flag } from "effect/cli"
import * as Effect from "effect/Effect"
import { db, withClient } from "./shared.js"

/** The `cluster revoke` command. */
export const command = Command.make(
  "revoke",
  {
    db,
    force: Flag.Boolean("force").pipe(
      Flag.withDefault(false),
      Flag.withDescription("SIGKILL at once instead of SIGTERM and the grace period")
    ),
    id: Argument.Int("id").pipe(
      Argument.filter((n) => n > 0, () => "a task id (a whole number of at least 1)"),
      Argument.withDescription("the task's id")
    )
  },
  (config) =>
    withClient(
      config.db,
      (tasks) =>
        Effect.map(tasks.revoke(TaskId.TaskId.make(config.id), { graceful: !config.force }), (task) => {
          process.stdout.write(`${task.id} ${task.state}${task.runner === undefined ? "" : ` on ${task.runner}`}\n`)
        })
    )
).pipe(Command.withDescription("Revoke a task wherever it runs and wait until it has stopped"))
