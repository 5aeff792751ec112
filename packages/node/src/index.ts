/**
 * effect-tasks for Node: processes that never outlive their task.
 *
 * @since 0.1.0
 */
export * as Guardian from "./Guardian.js"
export * as HostSignals from "./HostSignals.js"
export * as Journal from "./Journal.js"
export * as KillEngine from "./KillEngine.js"
export * as Leftovers from "./Leftovers.js"
export * as NodeTaskManager from "./NodeTaskManager.js"
export * as OutputTee from "./OutputTee.js"
export * as ProcessExit from "./ProcessExit.js"
export * as ProcessIdentity from "./ProcessIdentity.js"
export * as ProcessTable from "./ProcessTable.js"
export * as ProcessTree from "./ProcessTree.js"
export * as TaskProcesses from "./TaskProcesses.js"
export * as TaskSpawner from "./TaskSpawner.js"
export * as TreeKill from "./TreeKill.js"
