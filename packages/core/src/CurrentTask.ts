/**
 * The id of the task the current fiber runs in. `TaskManager.submit` provides it, so it never
 * appears in a submitted effect's requirements; fibers a task forks inherit it.
 *
 * ```ts
 * import { CurrentTask, TaskManager } from "@effect-tasks/core"
 * import { Console, Effect } from "effect"
 *
 * const job = Effect.gen(function*() {
 *   const id = yield* CurrentTask.CurrentTask
 *   yield* Console.log(`task ${id} at work`)
 * })
 *
 * const program = Effect.gen(function*() {
 *   const tm = yield* TaskManager.TaskManager
 *   yield* tm.run(job)
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type { TaskId } from "./TaskId.js"

/**
 * The id of the task the current fiber runs in: `const id = yield* CurrentTask.CurrentTask`.
 *
 * @since 0.1.0
 * @category services
 */
export class CurrentTask extends Context.Service<CurrentTask, TaskId>()("@effect-tasks/core/CurrentTask") {}
