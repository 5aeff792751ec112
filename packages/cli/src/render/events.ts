/**
 * Task events as a readable log, one line per happening: `  1.02s  #4 stubborn    revoking (user)`.
 * Output chunks are cut into lines per task and stream; lifecycle events get a short sentence.
 *
 * @since 0.1.0
 */
import { TaskEvent } from "@effect-tasks/core"
import * as Duration from "../duration.js"
import * as Lines from "../lines.js"
import * as Color from "./color.js"
import * as Tasks from "./tasks.js"

/** Options of an event log. */
export interface EventLogOptions {
  readonly palette: Color.Palette
  /** Epoch millis the elapsed times count from. */
  readonly start: number
  /** Width the task names are padded to. */
  readonly nameWidth?: number | undefined
}

/** Turns events into log lines; keeps the names and half-received lines it needs between calls. */
export interface EventLog {
  /** The lines an event produces (often none, sometimes several); `now` stamps events without a time. */
  readonly lines: (event: TaskEvent.TaskEvent, now: number) => Array<string>
  /** A line for something the caller itself did, in the same layout. */
  readonly note: (text: string, now: number) => string
}

const signalText = (signal: string | undefined, exitCode: number | undefined) =>
  signal !== undefined ? `killed by ${signal}` : `exit ${exitCode ?? "?"}`

/** A new event log. */
export const make = (options: EventLogOptions): EventLog => {
  const p = options.palette
  const width = options.nameWidth ?? 12
  const names = new Map<number, string>()
  const queued = new Set<number>()
  const buffers = Lines.keyed()

  // Output carries no time of its own and is stamped on arrival; keep the stamps in order.
  let latest = options.start
  const stamp = (at: number) => {
    latest = Math.max(latest, at)
    return p.dim(`${Duration.format(latest - options.start).padStart(7)} `)
  }
  const line = (id: number, at: number, text: string) =>
    `${stamp(at)} ${p.bold(`#${id}`.padEnd(3))} ${Color.pad(names.get(id) ?? "", width)} ${text}`

  return {
    note: (text, now) => `${stamp(now)} ${p.magenta(`>>> ${text}`)}`,
    lines: (event, now) => {
      switch (event._tag) {
        case "TaskSubmitted":
          names.set(event.id, event.name)
          if (event.state !== "QUEUED") return []
          queued.add(event.id)
          return [line(event.id, event.at, p.gray(`QUEUED (mode "${event.mode}" is at its concurrency limit)`))]
        case "TaskStarted":
          if (!queued.delete(event.id)) return []
          return [line(event.id, event.at, p.cyan("RUNNING (a slot freed up)"))]
        case "ProcessStarted":
          return [line(event.id, event.at, p.dim(`pid ${event.pid} started`))]
        case "TaskOutput": {
          const style = event.stream === "stderr" ? p.red : (text: string) => text
          return buffers.push(`${event.id}/${event.pid}/${event.stream}`, event.text)
            .map((text) => line(event.id, now, `${p.dim("│")} ${style(text)}`))
        }
        case "TaskRevoking": {
          const how = event.revocation.graceful ? "SIGTERM, then SIGKILL after the grace period" : "SIGKILL at once"
          return [line(event.id, event.at, p.yellow(`revoking (${event.revocation.reason}): ${how}`))]
        }
        case "ProcessExited": {
          const rest = buffers.flush(`${event.id}/${event.pid}/`).map((text) =>
            line(event.id, event.at, `${p.dim("│")} ${text}`)
          )
          return [
            ...rest,
            line(event.id, event.at, p.dim(`pid ${event.pid} ${signalText(event.signal, event.exitCode)}`))
          ]
        }
        case "ProcessesStopped": {
          const said = [
            ...(event.stopped.length > 0 ? [Tasks.leftoversText(event.stopped)] : []),
            ...(event.escalated ? [Tasks.escalatedText] : [])
          ]
          return said.length === 0 ? [] : [line(event.id, event.at, p.dim(said.join("; ")))]
        }
        case "TaskFinished": {
          queued.delete(event.id)
          const style = Color.forState(p, event.state)
          const why = event.revocation !== undefined
            ? ` (${event.revocation.reason})`
            : event.error !== undefined
            ? ` (${event.error.split("\n")[0]!.replace(/^CommandFailed: /, "")})`
            : ""
          return [line(event.id, event.at, style(`${event.state}${why}`))]
        }
        case "EventsDropped":
          return [`${stamp(now)} ${p.yellow(`(${event.count} events dropped: the log fell behind)`)}`]
      }
    }
  }
}
