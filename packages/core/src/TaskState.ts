/**
 * The five states of a task and the one question asked about them everywhere: is it over?
 *
 * ```
 * QUEUED ──start──▶ RUNNING ──Exit──▶ SUCCESS | FAILURE | REVOKED
 *    └────────────revoke────────────▶ REVOKED
 * ```
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The schema of a task state, for events and snapshots on the wire.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TaskState = Schema.Literals(["QUEUED", "RUNNING", "SUCCESS", "FAILURE", "REVOKED"])

/**
 * Where a task is in its life: waiting for a slot, running, or one of three terminal outcomes.
 *
 * @since 0.1.0
 * @category models
 */
export type TaskState = typeof TaskState.Type

/**
 * The states a task never leaves.
 *
 * @since 0.1.0
 * @category models
 */
export type TerminalState = Extract<TaskState, "SUCCESS" | "FAILURE" | "REVOKED">

/**
 * True for SUCCESS, FAILURE and REVOKED: the task's fiber has ended, finalizers included.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isTerminal = (state: TaskState): state is TerminalState =>
  state === "SUCCESS" || state === "FAILURE" || state === "REVOKED"

/**
 * True for QUEUED and RUNNING: the task still holds (or waits for) resources.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isActive = (state: TaskState): state is "QUEUED" | "RUNNING" => !isTerminal(state)
