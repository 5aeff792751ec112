/**
 * effect-tasks core: background work as tracked tasks on Effect fibers.
 *
 * @since 0.1.0
 */
export { CurrentTask, type OutputStream, TaskContext, type TaskContextShape, TaskServices } from "./CurrentTask.js"
export * as EventHub from "./EventHub.js"
export * as OutputTail from "./OutputTail.js"
export * as ProcessInfo from "./ProcessInfo.js"
export { Revocation } from "./Revocation.js"
export { RevocationReason, TaskManagerClosed, TaskNotFound, TaskRevoked } from "./TaskErrors.js"
export * as TaskEvent from "./TaskEvent.js"
export { TaskId } from "./TaskId.js"
export {
  type Provided,
  type RevokeOptions,
  type ShutdownOptions,
  type ShutdownReport,
  type SubmitOptions,
  TaskManager,
  type TaskManagerConfig,
  type TaskManagerShape,
  type TaskOutputTail
} from "./TaskManager.js"
export * as TaskState from "./TaskState.js"
export * as TrackedTask from "./TrackedTask.js"
