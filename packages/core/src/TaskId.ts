/**
 * Task identifiers: positive integers handed out from 1 by one manager and never reused, so a
 * log line, a UI row or a `revoke` call that names an id can never reach a different task.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/** The schema of a task id: a positive integer, branded so it cannot be confused with a pid. */
export const TaskId = Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0)), Schema.brand("TaskId"))

/** A task id, as handed out by `TaskManager.submit`. */
export type TaskId = typeof TaskId.Type

/** Brands a number as a task id without checking it (ids come from the manager's own counter). */
export const make = (n: number): TaskId => n as TaskId
