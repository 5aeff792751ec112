/**
 * How a task reads in a table: its state, how long it ran, how it ended (exit code, signal or
 * revocation reason) and its processes. Shared by `demo`, `run`'s summary and the shell's `jobs`.
 *
 * @since 0.1.0
 */
import { ProcessInfo, TrackedTask } from "@effect-tasks/core"
import { TaskCommand } from "@effect-tasks/node"
import * as Cause from "effect/Cause"
import * as EffectDuration from "effect/Duration"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Duration from "../duration.js"
import * as Color from "./color.js"
import * as Table from "./table.js"

/** The columns a task table can show. */
export type Field = "id" | "name" | "mode" | "command" | "state" | "duration" | "result" | "processes"

/** What the renderers need besides the tasks. */
export interface TaskTableContext {
  readonly palette: Color.Palette
  /** The time running tasks' durations are measured to (epoch millis). */
  readonly now: number
  readonly maxWidth?: number | undefined
  /** The command behind a task, for the `command` column. */
  readonly command?: ((task: TrackedTask.TrackedTask) => string) | undefined
}

const signals: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGPIPE: 13 }

/** The shell convention for a death by signal: 128 + the signal's number. */
export const signalExitCode = (signal: string): number => 128 + (signals[signal] ?? 0)

/** The typed `CommandFailed` of a failed task, if that is how it failed. */
export const commandFailure = (task: TrackedTask.TrackedTask): TaskCommand.CommandFailed | undefined => {
  if (task.exit === undefined || Exit.isSuccess(task.exit)) return undefined
  const error = Cause.findErrorOption(task.exit.cause)
  return Option.isSome(error) && error.value instanceof TaskCommand.CommandFailed ? error.value : undefined
}

/**
 * The exit code a task stands for: 0 for SUCCESS, the command's code (or 128 + signal) for a
 * FAILURE, 1 for a failure that is not a command's; undefined while active or when REVOKED.
 */
export const exitCode = (task: TrackedTask.TrackedTask): number | undefined => {
  if (task.state === "SUCCESS") return 0
  if (task.state !== "FAILURE") return undefined
  const failure = commandFailure(task)
  if (failure?.exitCode !== undefined) return failure.exitCode
  if (failure?.signal !== undefined) return signalExitCode(failure.signal)
  return 1
}

/** One line saying how a task ended (or what it is doing): `exit 0`, `killed by SIGKILL`, `revoked: timeout`. */
export const result = (task: TrackedTask.TrackedTask): string => {
  switch (task.state) {
    case "QUEUED":
      return "waiting for a slot"
    case "RUNNING":
      return task.revocation === undefined
        ? ""
        : `stopping: ${task.revocation.reason}${task.revocation.graceful ? "" : " (kill -9)"}`
    case "SUCCESS":
      return task.processes.length > 0 ? "exit 0" : "ok"
    case "FAILURE": {
      const failure = commandFailure(task)
      if (failure !== undefined) return failure.message
      const error = TrackedTask.renderError(task.exit)
      return (error ?? "failed").split("\n")[0]!
    }
    case "REVOKED": {
      const reason = task.revocation?.reason ?? "user"
      const forced = task.revocation?.graceful === false ? ", kill -9" : ""
      return `revoked: ${reason}${forced}${task.startedAt === undefined ? ", never started" : ""}`
    }
  }
}

/**
 * A failed task's error as one readable line: `CommandFailed: exit 3`, or the first line of anything else
 * (`Error: boom`), never a stack trace.
 */
export const errorLine = (task: TrackedTask.TrackedTask): string | undefined => {
  if (task.state !== "FAILURE") return undefined
  const failure = commandFailure(task)
  if (failure !== undefined) return `${failure._tag}: ${failure.message}`
  const rendered = TrackedTask.renderError(task.exit) ?? "failed"
  return rendered.split("\n").map((line) => line.trim()).find((line) => line.length > 0) ?? "failed"
}

/** `TrackedTask.toJson`, with the error (if any) as one line (`errorLine`) for `--json` output. */
export const toJson = (task: TrackedTask.TrackedTask) => {
  const json = TrackedTask.toJson(task)
  const error = errorLine(task)
  return error === undefined ? json : { ...json, error }
}

/** A process's pid and how it ended: `4242 exit 0`, `4243 SIGKILL`, `4244 running`. */
export const processCell = (process: ProcessInfo.ProcessInfo): string => {
  if (process.endedAt === undefined) return `${process.pid} running`
  if (process.signal !== undefined) return `${process.pid} ${process.signal}`
  return `${process.pid} exit ${process.exitCode ?? "?"}`
}

/** How long a task ran, as `1.2s` (`-` if it never started). */
export const durationText = (task: TrackedTask.TrackedTask, now?: number): string => {
  const millis = TrackedTask.durationMillis(task, now)
  return millis === undefined ? "-" : Duration.format(millis)
}

/** A grace period as text: `5.0s`, `500ms`. */
export const formatGrace = (grace: EffectDuration.Duration): string => Duration.format(EffectDuration.toMillis(grace))

/** A sentence for a task that just ended: `exited with code 0`, `killed by SIGKILL`, `revoked: timeout`. */
export const finishedText = (task: TrackedTask.TrackedTask): string => {
  switch (task.state) {
    case "SUCCESS":
      return "exited with code 0"
    case "FAILURE": {
      const failure = commandFailure(task)
      if (failure?.exitCode !== undefined) return `exited with code ${failure.exitCode}`
      return failure !== undefined ? failure.message : `failed: ${result(task)}`
    }
    case "REVOKED": {
      const signal = task.processes[0]?.signal
      return signal === undefined ? result(task) : `${result(task)} → killed by ${signal}`
    }
    default:
      return result(task)
  }
}

/** The processes a kill stopped besides the one it was aimed at, as a line says them (at most three named). */
export const leftoversText = (stopped: ReadonlyArray<ProcessInfo.StoppedProcess>): string => {
  const n = stopped.length
  const named = stopped.slice(0, 3).map((process) => {
    const command = Color.truncate(Color.oneLine(process.command), 40)
    return process.signal === "SIGKILL" ? `${command} (SIGKILL)` : command
  })
  const more = n > named.length ? ` and ${n - named.length} more` : ""
  return `stopped ${n} leftover${n === 1 ? "" : "s"}: ${named.join(", ")}${more}`
}

/** What a kill that had to finish with SIGKILL says. */
export const escalatedText = "escalated to SIGKILL after the grace period"

/**
 * What cleanup did at a task's end, to say after it: the leftovers its kills stopped (`sleep 500 & sleep 1`
 * leaves `sleep 500`), and whether a kill had to escalate to SIGKILL once the grace period was over. Undefined
 * when there is nothing to say.
 */
export const cleanupText = (task: TrackedTask.TrackedTask): string | undefined => {
  const stopped = task.processes.flatMap((process) => process.stopped ?? [])
  const parts: Array<string> = []
  if (stopped.length > 0) parts.push(leftoversText(stopped))
  // Who got SIGKILL shows already: the end line's signal, and the `(SIGKILL)` of a leftover.
  if (task.processes.some((process) => process.escalated === true)) parts.push(escalatedText)
  return parts.length === 0 ? undefined : parts.join("; ")
}

const headers: Record<Field, Table.Column> = {
  id: { header: "ID", align: "right" },
  name: { header: "NAME", shrink: true },
  mode: { header: "MODE" },
  command: { header: "COMMAND", shrink: true },
  state: { header: "STATE" },
  duration: { header: "DURATION", align: "right" },
  result: { header: "EXIT / REASON", shrink: true },
  processes: { header: "PROCESSES", shrink: true }
}

/** The cell of one field of one task. */
export const cell = (task: TrackedTask.TrackedTask, field: Field, context: TaskTableContext): string => {
  const p = context.palette
  switch (field) {
    case "id":
      return String(task.id)
    case "name":
      return Color.oneLine(task.name)
    case "mode":
      return task.mode
    case "command":
      return Color.oneLine(context.command?.(task) ?? task.name)
    case "state":
      return Color.forState(p, task.state)(task.state)
    case "duration":
      return durationText(task, context.now)
    case "result": {
      const text = result(task)
      return task.state === "FAILURE" ? p.red(text) : task.state === "REVOKED" ? p.yellow(text) : text
    }
    case "processes":
      return task.processes.length === 0 ? "-" : task.processes.map(processCell).join(", ")
  }
}

/** Renders tasks as a table with the given columns, one string per line. */
export const table = (
  tasks: ReadonlyArray<TrackedTask.TrackedTask>,
  fields: ReadonlyArray<Field>,
  context: TaskTableContext
): Array<string> =>
  Table.render(
    fields.map((field) => headers[field]),
    tasks.map((task) => fields.map((field) => cell(task, field, context))),
    { maxWidth: context.maxWidth, header: context.palette.bold }
  )

/** The fields of the demo's and the shell's tables. */
export const defaultFields: ReadonlyArray<Field> = ["id", "name", "mode", "state", "duration", "result", "processes"]
