/**
 * effect-tasks for Node: processes that never outlive their task.
 *
 * @since 0.1.0
 */

/**
 * How a manager contains its tasks' processes: cgroups where the machine allows it, `/proc` elsewhere; limits.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Containment from "./Containment.js"

/**
 * A helper process per manager that kills what the tasks still own when the host dies without shutting down.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Guardian from "./Guardian.js"

/**
 * SIGINT, SIGTERM and SIGHUP shut the task manager down gracefully; a second signal forces it.
 *
 * @since 0.1.0
 * @category modules
 */
export * as HostSignals from "./HostSignals.js"

/**
 * A journal of live task processes in a state directory, and `reap` for the leftovers of dead instances.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Journal from "./Journal.js"

/**
 * The task manager for Node: every process a task starts belongs to the task and never outlives it.
 *
 * @since 0.1.0
 * @category modules
 */
export * as NodeTaskManager from "./NodeTaskManager.js"

/**
 * The signal that killed a process, from the error `handle.exitCode` fails with.
 *
 * @since 0.1.0
 * @category modules
 */
export * as ProcessExit from "./ProcessExit.js"

/**
 * A process by pid and start time, so that a recycled pid is never mistaken for it.
 *
 * @since 0.1.0
 * @category modules
 */
export * as ProcessIdentity from "./ProcessIdentity.js"

/**
 * The environment cookie every task process carries, and the live processes that carry one.
 *
 * @since 0.1.0
 * @category modules
 */
export * as TaskCookie from "./TaskCookie.js"

/**
 * A command as a task's work: a non-zero exit or a killing signal fails the task with `CommandFailed`.
 *
 * @since 0.1.0
 * @category modules
 */
export * as TaskCommand from "./TaskCommand.js"
