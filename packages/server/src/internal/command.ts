/**
 * The body of a task submitted over HTTP: one command run by `TaskCommand.run` (its output drained into the task,
 * its stdin at end-of-file, a non-zero exit or a killing signal a typed `CommandFailed`), so the record says
 * FAILURE with the code.
 */
import { TaskCommand } from "@effect-tasks/node"
import * as ChildProcess from "effect/process/ChildProcess"
import type { SubmitRequest } from "../TaskApi.js"

/** The program and arguments a submit runs: `sh -c <command>` without `args`, the program itself with them. */
export const argv = (request: SubmitRequest): { readonly command: string; readonly args: ReadonlyArray<string> } =>
  request.args === undefined
    ? { command: "sh", args: ["-c", request.command] }
    : { command: request.command, args: request.args }

/** The default name of a submitted task: its command line. */
export const displayName = (request: SubmitRequest): string =>
  request.args === undefined ? request.command : [request.command, ...request.args].join(" ")

/** Runs the command of a submit in the current task; succeeds when it exits with 0 (`TaskCommand.run`). */
export const run = (request: SubmitRequest) => {
  const { args, command } = argv(request)
  return TaskCommand.run(ChildProcess.make(command, args))
}
