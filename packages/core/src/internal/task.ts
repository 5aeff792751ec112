/**
 * The live part of a task, what the manager keeps while the task is active, and the rule that turns
 * its fiber's end into a state.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Effectable from "effect/Effectable"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import type { ProcessInfo } from "../ProcessInfo.js"
import type { Revocation } from "../Revocation.js"
import type { TaskState, TerminalState } from "../TaskState.js"
import { isTerminal } from "../TaskState.js"
import { Completion, type TrackedTask } from "../TrackedTask.js"
import type * as Follow from "./follow.js"
import type * as Pool from "./pool.js"

/**
 * A task while the manager tracks it; dropped from the live set as soon as it is terminal. A task is itself the
 * effect that waits for its final record (every record of it carries that effect under `Completion`), so a
 * task costs no extra effect and closure for it.
 *
 * @internal
 */
export interface Task extends Effect.Effect<TrackedTask<any, any>> {
  /** The current snapshot; replaced (never mutated) on every change. */
  record: TrackedTask<any, any>
  /** The body and its submitter's context, until the task starts (then dropped: a finished task holds neither). */
  effect: Effect.Effect<unknown, unknown, any> | undefined
  context: Context.Context<any> | undefined
  readonly timeout: Duration.Duration | undefined
  readonly grace: Duration.Duration
  readonly pool: Pool.Pool<Task> | undefined
  /** Created on first wait: most tasks are never awaited, revoked or forced. */
  completion: Deferred.Deferred<TrackedTask<any, any>> | undefined
  revoked: Deferred.Deferred<void> | undefined
  forced: Deferred.Deferred<void> | undefined
  fiber: Fiber.Fiber<unknown, unknown> | undefined
  /** A revoke landed while the task's first steps ran, before its fiber was handed back (see `startUnsafe`). */
  interruptPending: boolean
  /** The body's own exit, set when the submitted effect has completed, before the task's scope closes. */
  bodyExit: Exit.Exit<unknown, unknown> | undefined
  /** Whether the manager's records (and its set of live tasks) hold this task yet (see `submit`). */
  stored: boolean
  /** The record `submit` returned, until the task finishes (see `settle`). */
  submitted: TrackedTask<any, any> | undefined
  /** How many of its records were queued for the records map, and where the last one is in the queue. */
  writes: number
  pendingAt: number
  /** While `submit` starts this task: the task whose own start submitted it, if any. */
  outer: Task | undefined
  /** The followers of the task's output, created by the first `follow`. */
  followers: Follow.Followers | undefined
}

const TaskProto = Effectable.Prototype<Task>({
  label: "effect-tasks/TaskCompletion",
  evaluate() {
    return awaitFinal(this)
  }
})

// A constructor rather than `Object.create` plus assignments: V8 then keeps every field inside the object.
const TaskImpl = function(
  this: { -readonly [K in keyof Task]: Task[K] },
  effect: Effect.Effect<unknown, unknown, any>,
  context: Context.Context<any>,
  timeout: Duration.Duration | undefined,
  grace: Duration.Duration,
  pool: Pool.Pool<Task> | undefined
) {
  this.record = undefined as unknown as TrackedTask
  this.effect = effect
  this.context = context
  this.timeout = timeout
  this.grace = grace
  this.pool = pool
  this.completion = undefined
  this.revoked = undefined
  this.forced = undefined
  this.fiber = undefined
  this.interruptPending = false
  this.bodyExit = undefined
  this.stored = false
  this.submitted = undefined
  this.writes = 0
  this.pendingAt = -1
  this.outer = undefined
  this.followers = undefined
} as unknown as new(
  effect: Effect.Effect<unknown, unknown, any>,
  context: Context.Context<any>,
  timeout: Duration.Duration | undefined,
  grace: Duration.Duration,
  pool: Pool.Pool<Task> | undefined
) => Task
TaskImpl.prototype = TaskProto

/** A new task, to be filled in by `TaskManager.submit`. @internal */
export const make = (
  effect: Effect.Effect<unknown, unknown, any>,
  context: Context.Context<any>,
  timeout: Duration.Duration | undefined,
  grace: Duration.Duration,
  pool: Pool.Pool<Task> | undefined
): Task => new TaskImpl(effect, context, timeout, grace, pool)

/** The final record of the task behind a record's `Completion`, if it is over (undefined if unknown). @internal */
export const finalRecord = (completion: unknown): TrackedTask<any, any> | undefined => {
  if (Object.getPrototypeOf(completion) === TaskProto) {
    return isLive(completion as Task) ? undefined : (completion as Task).record
  }
  return Exit.isExit(completion) && Exit.isSuccess(completion) ? completion.value as TrackedTask : undefined
}

/** True until the task is terminal: the manager still acts on it and accepts reports about it. @internal */
export const isLive = (task: Task): boolean => !isTerminal(task.record.state)

/** True while a task is QUEUED and waiting for a slot (not revoked meanwhile). @internal */
export const isWaiting = (task: Task): boolean => task.record.state === "QUEUED"

/**
 * The exit that decides a task's state. It is the fiber's own, except when the body completed before a
 * revoke reached it: then the interruption only hurried the cleanup (gotcha: interrupting a fiber while it
 * runs the finalizers after a completed body gives an interrupted exit for the whole fiber), so the body's
 * result is kept, together with whatever else went wrong in the cleanup.
 *
 * @internal
 */
export const decidingExit = (
  body: Exit.Exit<unknown, unknown> | undefined,
  fiber: Exit.Exit<unknown, unknown>
): Exit.Exit<unknown, unknown> => {
  if (body === undefined || Exit.isSuccess(fiber) || !Cause.hasInterrupts(fiber.cause)) return fiber
  // The revoke interrupted the body itself: REVOKED, whatever its finalizers did.
  if (Exit.isFailure(body) && Cause.hasInterrupts(body.cause)) return fiber
  const cleanup = fiber.cause.reasons.filter((reason) => !Cause.isInterruptReason(reason))
  return cleanup.length === 0 ? body : Exit.failCause(Cause.fromReasons(cleanup))
}

/** Success is SUCCESS; a cause with an interruption is REVOKED; any other failure is FAILURE. @internal */
export const stateOf = (exit: Exit.Exit<unknown, unknown>): TerminalState =>
  Exit.isSuccess(exit) ? "SUCCESS" : Cause.hasInterrupts(exit.cause) ? "REVOKED" : "FAILURE"

/** Waits for the task's final record; the Deferred exists only once somebody waits. @internal */
export const awaitFinal = (task: Task): Effect.Effect<TrackedTask<any, any>> => {
  if (isTerminal(task.record.state)) return Effect.succeed(task.record)
  task.completion ??= Deferred.makeUnsafe()
  return Deferred.await(task.completion)
}

/** Completes when a revoke has landed on the task (or it is over). @internal */
export const awaitRevoked = (task: Task): Effect.Effect<void> => {
  if (task.record.revocation !== undefined || isTerminal(task.record.state)) return Effect.void
  task.revoked ??= Deferred.makeUnsafe()
  return Deferred.await(task.revoked)
}

/** Completes when the task must stop at once (a non-graceful revoke, or an upgrade to one). @internal */
export const awaitForced = (task: Task): Effect.Effect<void> => {
  if (task.record.revocation?.graceful === false) return Effect.void
  task.forced ??= Deferred.makeUnsafe()
  return Deferred.await(task.forced)
}

/** Completes a Deferred if somebody created it by waiting. @internal */
export const signal = (deferred: Deferred.Deferred<any> | undefined, value: Exit.Exit<any>): void => {
  if (deferred !== undefined) Deferred.doneUnsafe(deferred, value)
}

// Records are built field by field: a spread of records of varying shapes (with and without startedAt,
// revocation, ...) fell off V8's fast path and was the largest single cost of a short task.

type MutableRecord = { -readonly [K in keyof TrackedTask<any, any>]: TrackedTask<any, any>[K] }

const copy = (
  from: TrackedTask<any, any>,
  state: TaskState,
  processes: ReadonlyArray<ProcessInfo>
): MutableRecord => {
  const record: MutableRecord = {
    id: from.id,
    name: from.name,
    mode: from.mode,
    state,
    submittedAt: from.submittedAt,
    processes,
    [Completion]: from[Completion]
  }
  if (from.startedAt !== undefined) record.startedAt = from.startedAt
  if (from.finishedAt !== undefined) record.finishedAt = from.finishedAt
  if (from.revocation !== undefined) record.revocation = from.revocation
  if (from.exit !== undefined) record.exit = from.exit
  return record
}

// Shared by every record of a task that started no process.
const noProcesses: ReadonlyArray<ProcessInfo> = Object.freeze([])

/** The first record of a task. @internal */
export const submitted = (
  task: Task,
  id: TrackedTask["id"],
  name: string,
  mode: string,
  state: "QUEUED" | "RUNNING",
  at: number
): TrackedTask<any, any> => {
  // Whole literals, one per shape: a property added after the literal goes to a separate backing store, which
  // every finished task a caller holds would keep (B1).
  return state === "RUNNING"
    ? { id, name, mode, state, submittedAt: at, processes: noProcesses, [Completion]: task, startedAt: at }
    : { id, name, mode, state, submittedAt: at, processes: noProcesses, [Completion]: task }
}

/**
 * Points the final record, and the record `submit` returned, at the final record itself instead of the task:
 * a caller that keeps the records of finished tasks (to `join` them later) then keeps two small records each,
 * not the task with them. @internal
 */
export const settle = (task: Task, final: TrackedTask<any, any>): void => {
  const done = Exit.succeed(final)
  ;(final as MutableRecord)[Completion] = done
  if (task.submitted !== undefined) {
    ;(task.submitted as MutableRecord)[Completion] = done
    task.submitted = undefined
  }
}

/** @internal */
export const started = (from: TrackedTask<any, any>, at: number): TrackedTask<any, any> => {
  const record = copy(from, "RUNNING", from.processes)
  record.startedAt = at
  return record
}

/** @internal */
export const withRevocation = (from: TrackedTask<any, any>, revocation: Revocation): TrackedTask<any, any> => {
  const record = copy(from, from.state, from.processes)
  record.revocation = revocation
  return record
}

/** @internal */
export const withProcesses = (
  from: TrackedTask<any, any>,
  processes: ReadonlyArray<ProcessInfo>
): TrackedTask<any, any> => copy(from, from.state, processes)

/** @internal */
export const finished = (
  from: TrackedTask<any, any>,
  state: TerminalState,
  at: number,
  exit: Exit.Exit<unknown, unknown>
): TrackedTask<any, any> => {
  // The common case (started, never revoked) as one literal, in the key order `copy` gives.
  if (from.startedAt !== undefined && from.revocation === undefined && from.finishedAt === undefined) {
    return {
      id: from.id,
      name: from.name,
      mode: from.mode,
      state,
      submittedAt: from.submittedAt,
      processes: from.processes,
      [Completion]: from[Completion],
      startedAt: from.startedAt,
      finishedAt: at,
      exit
    }
  }
  const record = copy(from, state, from.processes)
  record.finishedAt = at
  record.exit = exit
  return record
}
