/**
 * `tasks cluster runner --db URL --port N [--host H]`: runs a runner of the cluster until SIGTERM (or SIGINT),
 * which drains it: it takes no new tasks, lets running ones finish within `--drain`, then settles the rest by
 * their delivery policy.
 *
 * @since 0.1.0
 */
import { ClusterRunner } from "@effect-tasks/cluster"
import { Command, Flag } from "effect/cli"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Flags from "../../flags.js"
import { db } from "./shared.js"

/** The `cluster runner` command. */
export const command = Command.make(
  "runner",
  {
    db,
    port: Flag.Int("port").pipe(
      Flag.filter((n) => n > 0 && n < 65536, () => "a port number (1 to 65535)"),
      Flag.withMetavar("N"),
      Flag.withDescription("the port other runners reach this one on")
    ),
    host: Flag.String("host").pipe(
      Flag.withDefault("localhost"),
      Flag.withMetavar("H"),
      Flag.withDescription("the host other runners reach this one on (default localhost)")
    ),
    drain: Flags.duration("drain", "30s", "on SIGTERM, how long running tasks may finish (default 30s)"),
    grace: Flags.grace
  },
  (config) =>
    Effect.gen(function*() {
      process.stderr.write(`runner ${config.host}:${config.port} starting on ${config.db}\n`)
      yield* Layer.launch(
        ClusterRunner.layer({
          db: config.db,
          port: config.port,
          host: config.host,
          drain: config.drain,
          grace: config.grace
        })
      )
    }).pipe(
      Effect.catch((error: unknown) =>
        Effect.sync(() => {
          process.stderr.write(`tasks cluster runner: ${error instanceof Error ? error.message : String(error)}\n`)
          process.exitCode = 1
        })
      )
    )
).pipe(Command.withDescription("Run a runner of the cluster until SIGTERM, which drains it"))
