/**
 * Identity of an operating-system process: a pid plus the time the process started.
 *
 * A pid alone is not an identity: once a process is reaped its pid can be handed to an unrelated process (with
 * the common `pid_max` of 32768, reuse within a long task is realistic). Pairing the pid with the kernel's start
 * time makes "is this still the process I mean?" a question with a reliable answer. Every signal this package
 * sends is guarded by that question; use these functions to ask it too.
 *
 * ```ts
 * import { ProcessIdentity } from "@effect-tasks/node"
 *
 * const since = ProcessIdentity.startTimeNow()
 * const me = ProcessIdentity.readIdentity(process.pid)
 * if (me !== undefined && ProcessIdentity.isAlive(me) && me.startTime <= since) console.log("still me")
 * ```
 *
 * @since 0.1.0
 */
import * as internal from "./internal/ProcessIdentity.js"

/**
 * A process as this package remembers it: the pid and the start time that tells it apart from any later
 * process given the same pid. On Linux `startTime` is in clock ticks since boot (field 22 of
 * `/proc/<pid>/stat`); on other POSIX systems it is whole seconds since the epoch (from `ps -o lstart`).
 * Only compare start times read on the same machine by this module.
 *
 * @since 0.1.0
 * @category models
 */
export type ProcessIdentity = internal.ProcessIdentity

/**
 * The identity of a live process (or a zombie not yet reaped), or `undefined` if there is no process with
 * this pid.
 *
 * @since 0.1.0
 * @category constructors
 */
export const readIdentity: (pid: number) => ProcessIdentity | undefined = internal.readIdentity

/**
 * True only while the process exists with the same start time and is not a zombie: a reused pid or a zombie
 * both answer `false`.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isAlive: (identity: ProcessIdentity) => boolean = internal.isAlive

/**
 * The current time in the unit of `ProcessIdentity.startTime`: a process that started before this reading has
 * `startTime <= startTimeNow()`. Take it when a run begins to tell the processes born since from older ones.
 *
 * @since 0.1.0
 * @category getters
 */
export const startTimeNow: () => number = internal.startTimeNow
