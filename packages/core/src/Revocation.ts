/**
 * Why and how a task is being stopped. A revocation is recorded the moment a revoke (or a timeout,
 * or shutdown) lands, while the task is still RUNNING, so a UI can show "stopping" honestly.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * Why a task was revoked. The manager's own reasons are `"user"` (a revoke without a reason of its own),
 * `"timeout"` (the task's timeout) and `"shutdown"` (the manager's shutdown); a caller may give its own
 * word instead (`tm.revoke(id, { reason: "kill-others" })`), any non-empty string.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RevocationReason = Schema.Union([Schema.Literals(["user", "timeout", "shutdown"]), Schema.NonEmptyString])

/**
 * Why a task was revoked: `"user"`, `"timeout"`, `"shutdown"`, or a caller's own reason.
 *
 * @since 0.1.0
 * @category models
 */
export type RevocationReason = typeof RevocationReason.Type

/**
 * The schema of a revocation.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Revocation = Schema.Struct({
  reason: RevocationReason,
  graceful: Schema.Boolean
})

/**
 * A recorded revocation. `graceful: true` means processes get SIGTERM and a grace period before
 * SIGKILL; `false` means SIGKILL at once. A later non-graceful revoke upgrades a graceful one.
 *
 * @since 0.1.0
 * @category models
 */
export type Revocation = typeof Revocation.Type
