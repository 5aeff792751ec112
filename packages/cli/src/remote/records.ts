/**
 * Task records that came over the wire, made renderable by the same table code as local tasks. A record in
 * JSON form has no `Exit`; the failure the table shows is rebuilt from what the record does say: the code or
 * signal of its first process (a command's failure, exactly as the local renderer words it), or else the
 * error text the server rendered.
 *
 * @since 0.1.0
 */
import { TrackedTask } from "@effect-tasks/core"
import { TaskCommand } from "@effect-tasks/node"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Tasks from "../render/tasks.js"

/** A failure known only by the text the server rendered (`TrackedTask.renderError`): it renders as that text again. */
class RemoteFailure extends Error {
  constructor(text: string) {
    super(text.split("\n")[0] ?? text)
    this.name = "RemoteFailure"
    this.stack = text
  }
}

const exitOf = (json: TrackedTask.TrackedTaskJson): Exit.Exit<unknown, unknown> | undefined => {
  switch (json.state) {
    case "SUCCESS":
      return Exit.void
    case "REVOKED":
      return Exit.interrupt()
    case "FAILURE": {
      const root = json.processes[0]
      if (root?.exitCode !== undefined && root.exitCode !== 0) {
        return Exit.fail(new TaskCommand.CommandFailed({ command: json.name, exitCode: root.exitCode, stderr: "" }))
      }
      if (root?.signal !== undefined) {
        return Exit.fail(new TaskCommand.CommandFailed({ command: json.name, signal: root.signal, stderr: "" }))
      }
      return Exit.fail(new RemoteFailure(json.error ?? "failed"))
    }
    default:
      return undefined
  }
}

/** A record from the API as a `TrackedTask`, for the table renderer. */
export const fromJson = (json: TrackedTask.TrackedTaskJson): TrackedTask.TrackedTask => {
  const exit = exitOf(json)
  const task: TrackedTask.TrackedTask = {
    id: json.id,
    name: json.name,
    mode: json.mode,
    state: json.state,
    submittedAt: json.submittedAt,
    ...(json.startedAt === undefined ? {} : { startedAt: json.startedAt }),
    ...(json.finishedAt === undefined ? {} : { finishedAt: json.finishedAt }),
    ...(json.revocation === undefined ? {} : { revocation: json.revocation }),
    ...(exit === undefined ? {} : { exit }),
    processes: json.processes,
    [TrackedTask.Completion]: Effect.suspend(() => Effect.succeed(task))
  }
  return task
}

/**
 * The exit code a task stands for, as `tasks` reports it: 0 for SUCCESS, the command's code (or 128 + the
 * signal) for a FAILURE, and for a REVOKED task 128 + the signal that stopped its first process (1 when
 * none did, as for a task revoked while QUEUED). Undefined while active.
 */
export const exitCode = (task: TrackedTask.TrackedTask): number | undefined => {
  if (task.state !== "REVOKED") return Tasks.exitCode(task)
  const signal = task.processes[0]?.signal
  return signal === undefined ? 1 : Tasks.signalExitCode(signal)
}

/** The JSON a remote command prints for a task: its record as the server gave it, and the exit code it stands for. */
export const toJson = (json: TrackedTask.TrackedTaskJson) => ({
  ...json,
  exitCode: Tasks.exitCode(fromJson(json)) ?? null
})
