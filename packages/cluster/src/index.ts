/**
 * effect-tasks on Effect Cluster: tasks across many runner processes and machines, and nothing a task started
 * outlives it, even when its runner dies.
 *
 * @since 0.1.0
 */
export * as ClusterError from "./ClusterError.js"
export * as ClusterEvent from "./ClusterEvent.js"
export * as ClusterRunner from "./ClusterRunner.js"
export * as ClusterTask from "./ClusterTask.js"
export * as ClusterTasks from "./ClusterTasks.js"
export * as CommandJob from "./CommandJob.js"
export * as Job from "./Job.js"
export * as SqliteClient from "./SqliteClient.js"
