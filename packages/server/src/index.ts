/**
 * effect-tasks server: watch and control a running app's tasks from outside, over HTTP.
 *
 * @since 0.1.0
 */
export * as TaskApi from "./TaskApi.js"
export * as TaskClient from "./TaskClient.js"
export * as TaskServer from "./TaskServer.js"
