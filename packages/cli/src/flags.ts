/**
 * Flags shared by several commands.
 *
 * @since 0.1.0
 */
import { Flag } from "effect/cli"
import type * as EffectDuration from "effect/Duration"
import * as Duration from "./duration.js"

/** A duration flag (`500ms`, `5s`, `1m30s`) with a default. */
export const duration = (name: string, fallback: string, description: string): Flag.Flag<EffectDuration.Duration> =>
  Flag.String(name).pipe(
    Flag.withDefault(fallback),
    Flag.filterMap(Duration.parse, Duration.invalidMessage),
    Flag.withMetavar("duration"),
    Flag.withDescription(description)
  )

/** `--grace`: how long processes get between SIGTERM and SIGKILL when revoked. */
export const grace: Flag.Flag<EffectDuration.Duration> = duration(
  "grace",
  "5s",
  "time between SIGTERM and SIGKILL when a task is revoked (default 5s)"
)

/** `--json`: print the final summary as JSON on stdout instead of a table. */
export const json: Flag.Flag<boolean> = Flag.Boolean("json").pipe(
  Flag.withDefault(false),
  Flag.withDescription("print the final summary as JSON on stdout (everything else goes to stderr)")
)
