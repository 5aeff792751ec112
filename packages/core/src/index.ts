/**
 * effect-tasks core: background work as tracked tasks on Effect fibers.
 *
 * @since 0.1.0
 */

/**
 * The id of the task the current fiber runs in.
 *
 * @since 0.1.0
 * @category modules
 */
export * as CurrentTask from "./CurrentTask.js"

/**
 * What following a task's output yields: its chunks, and what a late follower missed.
 *
 * @since 0.1.0
 * @category modules
 */
export * as OutputChunk from "./OutputChunk.js"

/**
 * The record of one operating-system process a task started.
 *
 * @since 0.1.0
 * @category modules
 */
export * as ProcessInfo from "./ProcessInfo.js"

/**
 * Why and how a task is being stopped.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Revocation from "./Revocation.js"

/**
 * The hooks integrations use to plug into a task's life: `TaskContext` and `TaskServices`.
 *
 * @since 0.1.0
 * @category modules
 */
export * as TaskContext from "./TaskContext.js"

/**
 * The typed errors of the task manager.
 *
 * @since 0.1.0
 * @category modules
 */
export * as TaskErrors from "./TaskErrors.js"

/**
 * What happens to tasks, as plain JSON-safe events.
 *
 * @since 0.1.0
 * @category modules
 */
export * as TaskEvent from "./TaskEvent.js"

/**
 * Task identifiers, and the checked way to read one from text.
 *
 * @since 0.1.0
 * @category modules
 */
export * as TaskId from "./TaskId.js"

/**
 * The task manager service and its layers.
 *
 * @since 0.1.0
 * @category modules
 */
export * as TaskManager from "./TaskManager.js"

/**
 * The five states of a task.
 *
 * @since 0.1.0
 * @category modules
 */
export * as TaskState from "./TaskState.js"

/**
 * A task's record and its JSON form.
 *
 * @since 0.1.0
 * @category modules
 */
export * as TrackedTask from "./TrackedTask.js"
