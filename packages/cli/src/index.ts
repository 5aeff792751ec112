/**
 * `@effect-tasks/cli`: the `tasks` command line (`demo`, `shell`, `run`), built on
 * `@effect-tasks/node`. The modules are exported for reuse and tests; the executable is `bin.js`.
 *
 * @since 0.1.0
 */
export * as Cli from "./cli.js"
export * as Demo from "./commands/demo.js"
export * as Run from "./commands/run.js"
export * as Shell from "./commands/shell.js"
export * as Duration from "./duration.js"
export * as Lines from "./lines.js"
export * as Color from "./render/color.js"
export * as EventLog from "./render/events.js"
export * as Live from "./render/live.js"
export * as Table from "./render/table.js"
export * as Tasks from "./render/tasks.js"
export * as ShellTask from "./shellTask.js"
export * as Survivors from "./survivors.js"
