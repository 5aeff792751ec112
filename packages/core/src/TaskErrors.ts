/**
 * The typed errors of the task manager. Every bad request gets one of these instead of a
 * silent no-op, so a caller always learns why nothing happened.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { TaskId } from "./TaskId.js"

/** No task has this id: it was never handed out, or it finished and was dropped by retention. */
export class TaskNotFound extends Schema.TaggedError<TaskNotFound>()("TaskNotFound", {
  id: Schema.Number
}) {
  override get message(): string {
    return `no task with id ${this.id} (never submitted, or dropped from the retained history)`
  }
}

/** The manager is shutting down or shut down, so it accepts no new work. */
export class TaskManagerClosed extends Schema.TaggedError<TaskManagerClosed>()("TaskManagerClosed", {}) {
  override get message(): string {
    return "the task manager is shut down and accepts no new tasks"
  }
}

/**
 * Why a task was revoked. The manager's own reasons are `"user"` (a revoke without a reason of its own),
 * `"timeout"` (the task's timeout) and `"shutdown"` (the manager's shutdown); a caller may give its own
 * word instead (`tm.revoke(id, { reason: "kill-others" })`), any non-empty string.
 */
export const RevocationReason = Schema.Union([Schema.Literals(["user", "timeout", "shutdown"]), Schema.NonEmptyString])

/** Why a task was revoked: `"user"`, `"timeout"`, `"shutdown"`, or a caller's own reason. */
export type RevocationReason = typeof RevocationReason.Type

/** The failure `TaskManager.join` gives for a task that was revoked instead of finishing. */
export class TaskRevoked extends Schema.TaggedError<TaskRevoked>()("TaskRevoked", {
  id: TaskId,
  reason: RevocationReason
}) {
  override get message(): string {
    return `task ${this.id} was revoked (${this.reason})`
  }
}
