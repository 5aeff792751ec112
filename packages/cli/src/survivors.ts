/**
 * Counting the processes a run left behind, honestly: by reading `/proc`, not by trusting our own
 * records. A survivor is a live (non-zombie) process that either carries this process's
 * `EFFECT_TASKS_COOKIE` (every process a task starts inherits it, however it daemonizes) or has a
 * pid a task recorded and started after the run began.
 *
 * @since 0.1.0
 */
import { ProcessIdentity, TaskCookie } from "@effect-tasks/node"
import { readFileSync } from "node:fs"

/** A process still alive, with its command line and how it was recognised. */
export interface Survivor {
  readonly pid: number
  readonly command: string
  readonly via: "cookie" | "pid"
}

/** The cookie prefix of every task process this Node process starts (`<pid>-<random>/`). */
export const cookiePrefix = (): string => TaskCookie.instancePrefix

/** The command line of a process (`/proc/<pid>/cmdline`, NULs as spaces), or "?" if unreadable. */
export const commandLine = (pid: number): string => {
  try {
    const text = readFileSync(`/proc/${pid}/cmdline`, "latin1").replace(/\0+$/, "").replaceAll("\0", " ")
    return text.length > 0 ? text : "?"
  } catch {
    return "?"
  }
}

/** Options of `find`. */
export interface FindOptions {
  /** Pids the tasks recorded (`TrackedTask.processes`). */
  readonly pids: Iterable<number>
  /** The cookie prefix to look for (default: this process's). */
  readonly prefix?: string | undefined
  /** `ProcessIdentity.startTimeNow()` taken when the run began: older processes are not ours. */
  readonly since: number
}

/** Every live process of the run: the carriers of the cookie (one walk of /proc), then the recorded pids. */
export const find = (options: FindOptions): Array<Survivor> => {
  const prefix = options.prefix ?? cookiePrefix()
  const found = new Map<number, Survivor>()
  for (const carrier of TaskCookie.carriers(prefix)) {
    found.set(carrier.pid, { pid: carrier.pid, command: commandLine(carrier.pid), via: "cookie" })
  }
  for (const pid of options.pids) {
    if (found.has(pid) || pid === process.pid) continue
    const identity = ProcessIdentity.readIdentity(pid)
    if (identity === undefined || !ProcessIdentity.isAlive(identity)) continue
    // A recorded pid with someone else's cookie, or older than the run, was reused: not ours.
    if (TaskCookie.of(pid) === undefined && identity.startTime >= options.since) {
      found.set(pid, { pid, command: commandLine(pid), via: "pid" })
    }
  }
  return [...found.values()].toSorted((a, b) => a.pid - b.pid)
}
