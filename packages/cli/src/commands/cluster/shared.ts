/**
 * What the `tasks cluster` commands share: the `--db` flag, running against a cluster client, and the
 * table of records.
 *
 * @since 0.1.0
 */
import { type ClusterTask, ClusterTasks } from "@effect-tasks/cluster"
import { Flag } from "effect/cli"
import * as Effect from "effect/Effect"
import * as Table from "../../render/table.js"

/** `--db URL`: the cluster's database, `sqlite:<path>` or `postgres://...`. */
export const db: Flag.Flag<string> = Flag.String("db").pipe(
  Flag.withMetavar("url"),
  Flag.withDescription("the cluster's database: sqlite:<path> (one machine) or postgres://... (several)")
)

/** Runs `f` with a client of the cluster at `url`; a bad URL or an unreachable database prints one line, exit 1. */
export const withClient = <A, E>(
  url: string,
  f: (tasks: ClusterTasks.ClusterTasksShape) => Effect.Effect<A, E>
): Effect.Effect<A | undefined> =>
  Effect.flatMap(ClusterTasks.ClusterTasks, f).pipe(
    Effect.provide(ClusterTasks.layer({ db: url })),
    Effect.catch((error: unknown) =>
      Effect.sync(() => {
        const message = error instanceof Error ? error.message : String(error)
        process.stderr.write(`tasks cluster: ${message}\n`)
        process.exitCode = 1
        return undefined
      })
    )
  )

const firstLine = (text: string | undefined): string => text === undefined ? "" : text.split("\n")[0]!

/** The table `tasks cluster ls` prints. */
export const renderTasks = (tasks: ReadonlyArray<ClusterTask.ClusterTask>, maxWidth?: number): Array<string> =>
  Table.render(
    [
      { header: "ID", align: "right" },
      { header: "NAME", shrink: true },
      { header: "STATE" },
      { header: "ATTEMPT", align: "right" },
      { header: "RUNNER" },
      { header: "ERROR", shrink: true }
    ],
    tasks.map((task) => [
      String(task.id),
      task.name,
      task.state,
      `${task.attempt}/${task.maxAttempts}`,
      task.runner ?? "-",
      firstLine(task.error)
    ]),
    { maxWidth }
  )
