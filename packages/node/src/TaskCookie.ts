/**
 * The environment cookie every process a task starts carries, and every descendant inherits however it
 * detaches (`setsid`, a double fork, reparenting to init): `EFFECT_TASKS_COOKIE=<instance>/<task>/<spawn>/`,
 * where `<instance>` (`<pid>-<random>`) names the Node process whose tasks started it. It is how the kill finds
 * daemons, and how an application can check for itself that nothing its tasks started is left (Linux only: other
 * systems do not show other processes' environments).
 *
 * ```ts
 * import { TaskCookie } from "@effect-tasks/node"
 *
 * // After the manager has shut down: nothing may carry this process's cookie any more.
 * const left = TaskCookie.carriers(TaskCookie.instancePrefix)
 * if (left.length > 0) console.error(`left behind: ${left.map((p) => p.command).join(", ")}`)
 * ```
 *
 * @since 0.1.0
 */
import { isDeadState, readCommandLine } from "./internal/ProcessIdentity.js"
import { COOKIE_VARIABLE, readEnvironCookie, readProcessTable } from "./internal/ProcessTable.js"
import { instancePrefix as prefix } from "./internal/TaskProcesses.js"

/**
 * The name of the environment variable: `EFFECT_TASKS_COOKIE`.
 *
 * @since 0.1.0
 * @category constants
 */
export const variable: string = COOKIE_VARIABLE

/**
 * The start of the cookie of every process the tasks of this Node process start (`<pid>-<random>/`).
 *
 * @since 0.1.0
 * @category constants
 */
export const instancePrefix: string = prefix

/**
 * A live process that carries a cookie: its pid, its start time (see `ProcessIdentity`), its command line and
 * its cookie.
 *
 * @since 0.1.0
 * @category models
 */
export interface Carrier {
  readonly pid: number
  readonly startTime: number
  readonly command: string
  readonly cookie: string
}

/**
 * The cookie process `pid` carries, or `undefined` (none, gone, or not readable: another user's process, or no
 * `/proc`).
 *
 * @since 0.1.0
 * @category getters
 */
export const of = (pid: number): string | undefined => readEnvironCookie(pid, COOKIE_VARIABLE)

/**
 * Every live process (zombies excluded, this process excluded) whose cookie starts with `prefix`, from one walk
 * of `/proc`, in pid order. Empty where `/proc` does not exist.
 *
 * @since 0.1.0
 * @category getters
 */
export const carriers = (prefix: string): Array<Carrier> => {
  const found: Array<Carrier> = []
  for (const stat of readProcessTable().values()) {
    if (stat.pid === process.pid || isDeadState(stat.state)) continue
    const cookie = of(stat.pid)
    if (cookie === undefined || !cookie.startsWith(prefix)) continue
    found.push({ pid: stat.pid, startTime: stat.startTime, command: readCommandLine(stat.pid), cookie })
  }
  return found.toSorted((a, b) => a.pid - b.pid)
}
