/**
 * Why and how a task is being stopped. A revocation is recorded the moment a revoke (or a timeout,
 * or shutdown) lands, while the task is still RUNNING, so a UI can show "stopping" honestly.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { RevocationReason } from "./TaskErrors.js"

/** The schema of a revocation. */
export const Revocation = Schema.Struct({
  reason: RevocationReason,
  graceful: Schema.Boolean
})

/**
 * A recorded revocation. `graceful: true` means processes get SIGTERM and a grace period before
 * SIGKILL; `false` means SIGKILL at once. A later non-graceful revoke upgrades a graceful one.
 */
export type Revocation = typeof Revocation.Type
