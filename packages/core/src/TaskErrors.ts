/**
 * The typed errors of the task manager. Every bad request gets one of these instead of a
 * silent no-op, so a caller always learns why nothing happened. (An id that is not even a
 * positive integer is `TaskId.InvalidTaskId`.)
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { RevocationReason } from "./Revocation.js"
import { TaskId } from "./TaskId.js"

/**
 * No task has this id: it was never handed out, or it finished and was dropped by retention.
 *
 * @since 0.1.0
 * @category errors
 */
export class TaskNotFound extends Schema.TaggedError<TaskNotFound>()("TaskNotFound", {
  id: TaskId
}) {
  override get message(): string {
    return `no task with id ${this.id} (never submitted, or dropped from the retained history)`
  }
}

/**
 * The manager is shutting down or shut down, so it accepts no new work.
 *
 * @since 0.1.0
 * @category errors
 */
export class TaskManagerClosed extends Schema.TaggedError<TaskManagerClosed>()("TaskManagerClosed", {}) {
  override get message(): string {
    return "the task manager is shut down and accepts no new tasks"
  }
}

/**
 * The failure `TaskManager.join` gives for a task that was revoked instead of finishing.
 *
 * @since 0.1.0
 * @category errors
 */
export class TaskRevoked extends Schema.TaggedError<TaskRevoked>()("TaskRevoked", {
  id: TaskId,
  reason: RevocationReason
}) {
  override get message(): string {
    return `task ${this.id} was revoked (${this.reason})`
  }
}
