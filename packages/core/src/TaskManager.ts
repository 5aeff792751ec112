/**
 * The task manager: runs submitted effects as tracked fibers and tells the truth about them.
 *
 * Every task's state comes from its fiber's `Exit` (success is SUCCESS, a cause with an
 * interruption is REVOKED, anything else is FAILURE), and a task is terminal only once its fiber
 * has fully ended, finalizers included. Records live in a `Ref<HashMap<TaskId, TrackedTask>>`;
 * bookkeeping runs synchronously in the fiber's exit observer, so no task needs a helper fiber.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import { CurrentTask, type OutputStream, TaskContext, type TaskContextShape, TaskServices } from "./CurrentTask.js"
import * as EventHub from "./EventHub.js"
import * as OutputTail from "./OutputTail.js"
import type { ProcessInfo } from "./ProcessInfo.js"
import type { Revocation } from "./Revocation.js"
import { type RevocationReason, TaskManagerClosed, TaskNotFound, TaskRevoked } from "./TaskErrors.js"
import type { TaskEvent } from "./TaskEvent.js"
import * as TaskId from "./TaskId.js"
import type { TaskState } from "./TaskState.js"
import { isTerminal } from "./TaskState.js"
import { Completion, renderError, type TrackedTask } from "./TrackedTask.js"

/** Settings of a manager; every field has a default. */
export interface TaskManagerConfig {
  /** How many finished tasks to keep (newest first); older ones are dropped. Default 1000. */
  readonly retain?: number | undefined
  /** The default grace period of a graceful revoke (SIGTERM to SIGKILL for processes). Default 5 seconds. */
  readonly grace?: Duration.Input | undefined
  /**
   * How many tasks may run at once: one number for all tasks, or a limit per mode (modes not
   * listed are unlimited). Excess tasks wait QUEUED in submission order. Default unlimited.
   */
  readonly concurrency?: number | { readonly [mode: string]: number } | undefined
  /** Characters of output kept per task and stream (stdout, stderr). Default 65536. */
  readonly outputTail?: number | undefined
  /** Events buffered per subscriber before it starts dropping (and counting) them. Default 4096. */
  readonly eventBuffer?: number | undefined
  /**
   * When each task gets its own span. `"auto"` (the default): when the submitter's context has a tracer
   * that records spans (an OpenTelemetry layer, `Effect.withTracer`, a test tracer); with Effect's default
   * native tracer, which exports nothing, the span would cost about a third of a task's overhead and be seen
   * by nobody. `"always"` and `"never"` say what they mean.
   */
  readonly spans?: "auto" | "always" | "never" | undefined
}

/** Options of one submitted task. */
export interface SubmitOptions {
  /** A name for tables and spans; defaults to `task-<id>`. */
  readonly name?: string | undefined
  /** The task's mode: a free label, used by per-mode concurrency limits. Default `"default"`. */
  readonly mode?: string | undefined
  /** Revoke the task gracefully (reason `"timeout"`) once it has run this long. */
  readonly timeout?: Duration.Input | undefined
  /** This task's grace period, instead of the manager's. */
  readonly grace?: Duration.Input | undefined
}

/** Options of a revoke. */
export interface RevokeOptions {
  /** Graceful (the default) gives processes SIGTERM and the grace period; `false` kills at once. */
  readonly graceful?: boolean | undefined
  /**
   * Why, in the caller's words (`"kill-others"`, `"deploy"`): recorded in the task's `revocation`, its
   * `TaskRevoking` and `TaskFinished` events and `join`'s `TaskRevoked`. Default (and for a blank string)
   * `"user"`. A revoke that upgrades one under way keeps the first reason.
   */
  readonly reason?: string | undefined
}

/** The reason a revoke records: the caller's, or `"user"` when it gives none (or a blank one). */
const reasonOf = (options: RevokeOptions | undefined): RevocationReason => {
  const reason = options?.reason?.trim()
  return reason === undefined || reason === "" ? "user" : reason
}

/** Options of a shutdown with a deadline. */
export interface ShutdownOptions {
  /**
   * How long the graceful phase may last. When it elapses, every task still stopping is revoked at once
   * (`graceful: false`: processes get SIGKILL), and the call waits at most `forceTimeout` more.
   * Without a deadline, shutdown waits for every task.
   */
  readonly deadline?: Duration.Input | undefined
  /** After the deadline, how long to wait for the forced revokes. Default 1 second. */
  readonly forceTimeout?: Duration.Input | undefined
  /** Start with a graceful revoke (the default) or kill at once. */
  readonly graceful?: boolean | undefined
}

/** What a shutdown with a deadline achieved: the tasks it stopped, and those still stopping when it returned. */
export interface ShutdownReport {
  readonly stopped: ReadonlyArray<TrackedTask>
  /** Tasks whose own code did not let go in time (their revoke goes on; the manager stays closed). */
  readonly stuck: ReadonlyArray<TrackedTask>
}

/** The kept tail of a task's output, per stream, with how many characters were dropped before it. */
export interface TaskOutputTail {
  readonly stdout: string
  readonly stderr: string
  readonly droppedStdout: number
  readonly droppedStderr: number
}

/** The services a task gets from the manager; they never show in `submit`'s requirements. */
export type Provided = CurrentTask | TaskContext | Scope.Scope

/** The operations of a task manager. Every one is an Effect; nothing throws. */
export interface TaskManagerShape {
  /**
   * Starts `effect` as a task and returns its record at once: RUNNING, or QUEUED behind a
   * concurrency limit. The fiber starts immediately, so a revoke in the same instant is safe.
   */
  readonly submit: <A, E = never, R = never>(
    effect: Effect.Effect<A, E, R>,
    options?: SubmitOptions
  ) => Effect.Effect<TrackedTask<A, E>, TaskManagerClosed, Exclude<R, Provided>>
  /** The current record of a task. */
  readonly get: (id: number) => Effect.Effect<TrackedTask, TaskNotFound>
  /** Waits until the task is terminal and returns its final record. */
  readonly await: (id: number) => Effect.Effect<TrackedTask, TaskNotFound>
  /** Waits for a task and gives its typed result; a revoked task fails with `TaskRevoked`. */
  readonly join: <A, E>(task: TrackedTask<A, E>) => Effect.Effect<A, E | TaskRevoked>
  /** Submits and joins; interrupting the caller revokes the task (and waits until it has stopped). */
  readonly run: <A, E = never, R = never>(
    effect: Effect.Effect<A, E, R>,
    options?: SubmitOptions
  ) => Effect.Effect<A, E | TaskRevoked | TaskManagerClosed, Exclude<R, Provided>>
  /**
   * Revokes a task and waits until it is terminal. A QUEUED task is REVOKED without starting; a
   * terminal task is returned unchanged; a non-graceful revoke upgrades a graceful one under way.
   */
  readonly revoke: (id: number, options?: RevokeOptions) => Effect.Effect<TrackedTask, TaskNotFound>
  /** Revokes every non-terminal task concurrently and returns their terminal records. */
  readonly revokeAll: (options?: RevokeOptions) => Effect.Effect<ReadonlyArray<TrackedTask>>
  /** QUEUED and RUNNING tasks, ascending id. */
  readonly active: Effect.Effect<ReadonlyArray<TrackedTask>>
  /** Every retained task, ascending id. */
  readonly list: Effect.Effect<ReadonlyArray<TrackedTask>>
  /** The stream of task events from the moment it is run; see `subscribe` to subscribe eagerly. */
  readonly events: Stream.Stream<TaskEvent>
  /** Subscribes now and returns the stream of every event published from here on, for the scope's life. */
  readonly subscribe: Effect.Effect<Stream.Stream<TaskEvent>, never, Scope.Scope>
  /** The kept tail of a task's process output. */
  readonly output: (id: number) => Effect.Effect<TaskOutputTail, TaskNotFound>
  /**
   * Stops accepting tasks, revokes everything gracefully (reason `"shutdown"`), and returns when
   * every task is terminal. Idempotent; closing the layer runs it.
   */
  readonly shutdown: Effect.Effect<void>
  /**
   * Like `shutdown`, but returns by a deadline: graceful until `deadline`, then a forced revoke of what is
   * left, then at most `forceTimeout` more; reports what stopped and what is still stuck.
   */
  readonly shutdownWith: (options: ShutdownOptions) => Effect.Effect<ShutdownReport>
  /** The task records themselves, for callers who want to derive their own views. */
  readonly tasks: Ref.Ref<HashMap.HashMap<TaskId.TaskId, TrackedTask>>
}

/**
 * A concurrency slot pool: tasks beyond `limit` wait in FIFO order. The waiting line is a doubly
 * linked list through the entries, so taking the oldest and removing a revoked one are both O(1)
 * (an array's `shift`/`indexOf` made a long line quadratic).
 */
interface Pool {
  readonly limit: number
  running: number
  first: Entry | undefined
  last: Entry | undefined
}

const enqueue = (pool: Pool, entry: Entry): void => {
  entry.prev = pool.last
  entry.next = undefined
  if (pool.last === undefined) pool.first = entry
  else pool.last.next = entry
  pool.last = entry
}

const unlink = (pool: Pool, entry: Entry): void => {
  if (entry.prev === undefined ? pool.first !== entry : entry.prev.next !== entry) return
  if (entry.prev === undefined) pool.first = entry.next
  else entry.prev.next = entry.next
  if (entry.next === undefined) pool.last = entry.prev
  else entry.next.prev = entry.prev
  entry.prev = undefined
  entry.next = undefined
}

/** The live part of a non-terminal task; dropped as soon as the task is terminal. */
interface Entry {
  record: TrackedTask<any, any>
  readonly effect: Effect.Effect<unknown, unknown, any>
  readonly context: Context.Context<any>
  readonly timeout: Duration.Duration | undefined
  readonly grace: Duration.Duration
  readonly pool: Pool | undefined
  /** Created on first wait: most tasks are never awaited, revoked or forced. */
  completion: Deferred.Deferred<TrackedTask<any, any>> | undefined
  revoked: Deferred.Deferred<void> | undefined
  forced: Deferred.Deferred<void> | undefined
  fiber: Fiber.Fiber<unknown, unknown> | undefined
  /** Neighbours in the pool's waiting line while QUEUED. */
  prev: Entry | undefined
  next: Entry | undefined
}

interface Tails {
  readonly stdout: OutputTail.OutputTail
  readonly stderr: OutputTail.OutputTail
}

const tasksSubmitted = Metric.counter("effect_tasks_submitted_total", {
  description: "Tasks submitted to a task manager",
  incremental: true
})
const tasksFinished = (state: TaskState) =>
  Metric.counter("effect_tasks_finished_total", {
    description: "Tasks that reached a terminal state, by state",
    incremental: true,
    attributes: { state }
  })
const finishedByState = {
  SUCCESS: tasksFinished("SUCCESS"),
  FAILURE: tasksFinished("FAILURE"),
  REVOKED: tasksFinished("REVOKED")
}
const tasksRunning = Metric.gauge("effect_tasks_running", { description: "Tasks running now" })

const stateOf = (exit: Exit.Exit<unknown, unknown>): "SUCCESS" | "FAILURE" | "REVOKED" =>
  Exit.isSuccess(exit) ? "SUCCESS" : Cause.hasInterrupts(exit.cause) ? "REVOKED" : "FAILURE"

const byId = (a: TrackedTask, b: TrackedTask) => a.id - b.id

/** Whether a task submitted from `context` gets a span (see `TaskManagerConfig.spans`). */
const wantsSpan = (mode: "auto" | "always" | "never", context: Context.Context<never>): boolean => {
  if (mode !== "auto") return mode === "always"
  // A raw lookup: a tracer the context does not hold reads as absent, not as the native default.
  const tracer = Context.getOrUndefined(context, Tracer.Tracer)
  return tracer !== undefined && tracer !== Tracer.nativeTracer
}

/** Waits for the task's final record; the Deferred exists only once somebody waits. */
const awaitFinal = (entry: Entry): Effect.Effect<TrackedTask<any, any>> => {
  if (isTerminal(entry.record.state)) return Effect.succeed(entry.record)
  entry.completion ??= Deferred.makeUnsafe()
  return Deferred.await(entry.completion)
}

/** Completes when a revoke has landed on the task. */
const awaitRevoked = (entry: Entry): Effect.Effect<void> => {
  if (entry.record.revocation !== undefined || isTerminal(entry.record.state)) return Effect.void
  entry.revoked ??= Deferred.makeUnsafe()
  return Deferred.await(entry.revoked)
}

/** Completes when the task must stop at once (a non-graceful revoke, or an upgrade to one). */
const awaitForced = (entry: Entry): Effect.Effect<void> => {
  if (entry.record.revocation?.graceful === false) return Effect.void
  entry.forced ??= Deferred.makeUnsafe()
  return Deferred.await(entry.forced)
}

const signal = (deferred: Deferred.Deferred<any> | undefined, value: Exit.Exit<any>) => {
  if (deferred !== undefined) Deferred.doneUnsafe(deferred, value)
}

/**
 * The TaskContext of a task: one small object per task over a shared prototype, rather than a
 * closure per hook per task.
 */
interface TaskContextImpl extends TaskContextShape {
  readonly entry: Entry
  readonly hooks: ContextHooks
}

interface ContextHooks {
  readonly addProcess: (entry: Entry, process: Pick<ProcessInfo, "pid" | "command" | "args">) => void
  readonly endProcess: (
    entry: Entry,
    pid: number,
    outcome: { readonly exitCode?: number | undefined; readonly signal?: string | undefined }
  ) => void
  readonly output: (entry: Entry, pid: number, stream: OutputStream, text: string) => void
}

const TaskContextProto: ThisType<TaskContextImpl> & Partial<TaskContextShape> = {
  get name() {
    return this.entry.record.name
  },
  get mode() {
    return this.entry.record.mode
  },
  get grace() {
    return this.entry.grace
  },
  get revoked() {
    return awaitRevoked(this.entry)
  },
  get forced() {
    return awaitForced(this.entry)
  },
  revocationUnsafe() {
    return this.entry.record.revocation
  },
  addProcessUnsafe(process) {
    this.hooks.addProcess(this.entry, process)
  },
  endProcessUnsafe(pid, outcome) {
    this.hooks.endProcess(this.entry, pid, outcome)
  },
  outputUnsafe(pid, stream, text) {
    this.hooks.output(this.entry, pid, stream, text)
  }
}

const makeTaskContext = (entry: Entry, hooks: ContextHooks, scope: Scope.Scope): TaskContextShape =>
  Object.assign(Object.create(TaskContextProto), { id: entry.record.id, scope, entry, hooks })

/** Waits for a task (even one retention already dropped) and gives its typed result. */
const join = <A, E>(task: TrackedTask<A, E>): Effect.Effect<A, E | TaskRevoked> =>
  Effect.flatMap(task[Completion], (done): Effect.Effect<A, E | TaskRevoked> => {
    const exit = done.exit!
    if (done.state === "REVOKED") {
      return Effect.fail(new TaskRevoked({ id: done.id, reason: done.revocation?.reason ?? "user" }))
    }
    return exit
  })

/**
 * Builds a manager in the current scope; closing the scope shuts it down. Prefer the layers
 * (`TaskManager.layer`, `TaskManager.layerWith`) unless you manage scopes yourself.
 */
export const make = Effect.fnUntraced(function*(config: TaskManagerConfig = {}) {
  const retain = Math.max(0, config.retain ?? 1000)
  const defaultGrace = Duration.fromInputUnsafe(config.grace ?? "5 seconds")
  const tailCapacity = config.outputTail ?? 65_536
  const spans = config.spans ?? "auto"
  const clock = yield* Clock.Clock
  const metricContext = yield* Effect.context<never>()
  // Applied after the submitter's context: the integration's services win over the caller's.
  const taskServices = yield* TaskServices
  const overrideServices = taskServices.mapUnsafe.size > 0
  const hub = EventHub.make(config.eventBuffer ?? 4096)

  const tasks = yield* Ref.make(HashMap.empty<TaskId.TaskId, TrackedTask>())
  const entries = new Map<TaskId.TaskId, Entry>()
  const tails = new Map<TaskId.TaskId, Tails>()
  const finishedOrder: Array<TaskId.TaskId> = []
  let finishedHead = 0
  let nextId = 1
  let closed = false

  const globalPool: Pool | undefined = typeof config.concurrency === "number"
    ? { limit: Math.max(1, config.concurrency), running: 0, first: undefined, last: undefined }
    : undefined
  const modePools = new Map<string, Pool>()
  const poolFor = (mode: string): Pool | undefined => {
    if (globalPool !== undefined) return globalPool
    const limit = typeof config.concurrency === "object" ? config.concurrency[mode] : undefined
    if (limit === undefined) return undefined
    let pool = modePools.get(mode)
    if (pool === undefined) {
      pool = { limit: Math.max(1, limit), running: 0, first: undefined, last: undefined }
      modePools.set(mode, pool)
    }
    return pool
  }

  const now = () => clock.currentTimeMillisUnsafe()
  const publish = (event: TaskEvent) => EventHub.publishUnsafe(hub, event)
  // Events are built only when somebody listens: most tasks in a busy app have no subscriber.
  const listening = () => hub.subscribers.size > 0
  const store = (entry: Entry, record: TrackedTask<any, any>) => {
    entry.record = record
    tasks.ref.current = HashMap.set(tasks.ref.current, record.id, record)
  }

  const retainUnsafe = (id: TaskId.TaskId) => {
    finishedOrder.push(id)
    while (finishedOrder.length - finishedHead > retain) {
      const evicted = finishedOrder[finishedHead++]!
      tasks.ref.current = HashMap.remove(tasks.ref.current, evicted)
      tails.delete(evicted)
    }
    // Compact the FIFO now and then so it stays as small as `retain`.
    if (finishedHead > 1024 && finishedHead * 2 > finishedOrder.length) {
      finishedOrder.splice(0, finishedHead)
      finishedHead = 0
    }
  }

  const finishUnsafe = (entry: Entry, exit: Exit.Exit<unknown, unknown>) => {
    if (!entries.has(entry.record.id)) return
    const state = stateOf(exit)
    const wasRunning = entry.record.state === "RUNNING"
    const at = now()
    const record: TrackedTask<any, any> = { ...entry.record, state, finishedAt: at, exit }
    entries.delete(record.id)
    store(entry, record)
    if (listening()) {
      const error = state === "FAILURE" ? renderError(exit) : undefined
      publish({
        _tag: "TaskFinished",
        id: record.id,
        state,
        at,
        ...(record.revocation === undefined ? {} : { revocation: record.revocation }),
        ...(error === undefined ? {} : { error })
      })
    }
    finishedByState[state].updateUnsafe(1, metricContext)
    if (wasRunning) {
      tasksRunning.modifyUnsafe(-1, metricContext)
      if (entry.pool !== undefined) {
        entry.pool.running--
        drainUnsafe(entry.pool)
      }
    }
    retainUnsafe(record.id)
    signal(entry.completion, Exit.succeed(record))
    signal(entry.revoked, Exit.void)
    signal(entry.forced, Exit.void)
  }

  const hooks: ContextHooks = {
    addProcess: (entry, started) => {
      if (!entries.has(entry.record.id)) return
      const process: ProcessInfo = { pid: started.pid, command: started.command, args: started.args, startedAt: now() }
      store(entry, { ...entry.record, processes: [...entry.record.processes, process] })
      publish({
        _tag: "ProcessStarted",
        id: entry.record.id,
        pid: process.pid,
        command: process.command,
        args: process.args,
        at: process.startedAt
      })
    },
    endProcess: (entry, pid, outcome) => {
      if (!entries.has(entry.record.id)) return
      const at = now()
      const ended = {
        endedAt: at,
        ...(outcome.exitCode === undefined ? {} : { exitCode: outcome.exitCode }),
        ...(outcome.signal === undefined ? {} : { signal: outcome.signal })
      }
      store(entry, {
        ...entry.record,
        processes: entry.record.processes.map((p) => p.pid === pid && p.endedAt === undefined ? { ...p, ...ended } : p)
      })
      publish({ _tag: "ProcessExited", id: entry.record.id, pid, ...ended, at })
    },
    output: (entry, pid, stream, text) => {
      // Like the other hooks: a late chunk (a pipe's last `data` after the task ended) must not
      // follow TaskFinished, nor recreate the tail of a task retention already dropped.
      const id = entry.record.id
      if (!entries.has(id)) return
      let tail = tails.get(id)
      if (tail === undefined) {
        tail = { stdout: OutputTail.make(tailCapacity), stderr: OutputTail.make(tailCapacity) }
        tails.set(id, tail)
      }
      OutputTail.append(tail[stream], text)
      if (listening()) publish({ _tag: "TaskOutput", id, pid, stream, text })
    }
  }

  const startUnsafe = (entry: Entry, stored: boolean) => {
    const record = entry.record
    if (!stored) {
      const at = now()
      store(entry, { ...record, state: "RUNNING", startedAt: at })
      if (listening()) publish({ _tag: "TaskStarted", id: record.id, at })
    }
    tasksRunning.modifyUnsafe(1, metricContext)
    let program: Effect.Effect<unknown, unknown, any> = entry.effect
    if (entry.timeout !== undefined) {
      const timeout = entry.timeout
      program = Effect.andThen(
        Effect.forkChild(
          Effect.andThen(
            Effect.sleep(timeout),
            Effect.sync(() => requestRevokeUnsafe(entry, { reason: "timeout", graceful: true }))
          ),
          { startImmediately: true }
        ),
        program
      )
    }
    // The task's services go straight into its fiber's context (one context, no wrapper per
    // service), and its scope is closed inside the fiber, so finalizers finish before the exit.
    const scope = Scope.makeUnsafe()
    const context = Context.add(
      Context.add(
        Context.add(
          overrideServices ? Context.merge(entry.context, taskServices) : entry.context,
          CurrentTask,
          record.id
        ),
        TaskContext,
        makeTaskContext(entry, hooks, scope)
      ),
      Scope.Scope,
      scope
    )
    const scoped = Effect.onExit(program, (exit) => Scope.close(scope, exit))
    const traced = wantsSpan(spans, entry.context)
      ? scoped.pipe(
        // No stack capture: `new Error()` per task cost more than the rest of a submit, and the
        // frame would point into this file, not at the caller.
        Effect.withSpan(record.name, { attributes: { "task.id": record.id, "task.mode": record.mode } }, {
          captureStackTrace: false
        })
      )
      : scoped
    // The fiber is recorded before any of the task's code runs: `runForkWith` runs the fiber
    // synchronously until it first suspends, and a revoke issued in that window (the task revoking
    // itself, calling `shutdown`, or a zero timeout under TestClock) must find a fiber to interrupt.
    const fiber = Effect.runForkWith(context)(Effect.withFiber((self) => {
      entry.fiber = self
      return traced
    }))
    entry.fiber = fiber
    fiber.addObserver((exit) => finishUnsafe(entry, exit))
  }

  // A trampoline: a task that finishes synchronously while being started frees its slot inside
  // `startUnsafe`; the outer loop picks that up instead of recursing once per queued task.
  let draining = false
  const pendingPools = new Set<Pool>()
  const drainUnsafe = (pool: Pool) => {
    pendingPools.add(pool)
    if (draining) return
    draining = true
    try {
      while (pendingPools.size > 0) {
        const next = pendingPools.values().next().value!
        pendingPools.delete(next)
        while (next.running < next.limit && next.first !== undefined) {
          const entry = next.first
          unlink(next, entry)
          if (entry.record.state !== "QUEUED" || !entries.has(entry.record.id)) continue
          next.running++
          startUnsafe(entry, false)
        }
      }
    } finally {
      draining = false
    }
  }

  const requestRevokeUnsafe = (entry: Entry, revocation: Revocation) => {
    if (!entries.has(entry.record.id)) return
    if (entry.record.state === "QUEUED") {
      if (entry.pool !== undefined) {
        unlink(entry.pool, entry)
      }
      store(entry, { ...entry.record, revocation })
      finishUnsafe(entry, Exit.interrupt())
      return
    }
    const previous = entry.record.revocation
    if (previous === undefined) {
      store(entry, { ...entry.record, revocation })
      publish({ _tag: "TaskRevoking", id: entry.record.id, revocation, at: now() })
      signal(entry.revoked, Exit.void)
      if (!revocation.graceful) signal(entry.forced, Exit.void)
      entry.fiber?.interruptUnsafe()
    } else if (previous.graceful && !revocation.graceful) {
      const upgraded = { ...previous, graceful: false }
      store(entry, { ...entry.record, revocation: upgraded })
      publish({ _tag: "TaskRevoking", id: entry.record.id, revocation: upgraded, at: now() })
      signal(entry.forced, Exit.void)
    }
  }

  const lookup = (id: number): Effect.Effect<TrackedTask, TaskNotFound> =>
    Effect.suspend(() => {
      const found = HashMap.get(tasks.ref.current, TaskId.make(id))
      return Option.isSome(found) ? Effect.succeed(found.value) : Effect.fail(new TaskNotFound({ id }))
    })

  const revokeWith = (id: number, reason: RevocationReason, options?: RevokeOptions) =>
    Effect.suspend(() => {
      const entry = entries.get(TaskId.make(id))
      if (entry === undefined) return lookup(id)
      requestRevokeUnsafe(entry, { reason, graceful: options?.graceful ?? true })
      return awaitFinal(entry)
    })

  const revokeEvery = (reason: RevocationReason, options?: RevokeOptions) =>
    Effect.suspend(() => {
      const targets = Array.from(entries.values())
      const revocation = { reason, graceful: options?.graceful ?? true }
      // QUEUED tasks first: stopping a running task can free its slot synchronously, and a queued
      // task must not be started by that only to be revoked a moment later.
      for (const entry of targets) if (entry.record.state === "QUEUED") requestRevokeUnsafe(entry, revocation)
      for (const entry of targets) requestRevokeUnsafe(entry, revocation)
      return Effect.forEach(targets, awaitFinal, { concurrency: "unbounded" })
    })

  const submit = <A, E = never, R = never>(
    effect: Effect.Effect<A, E, R>,
    options?: SubmitOptions
  ): Effect.Effect<TrackedTask<A, E>, TaskManagerClosed, Exclude<R, Provided>> =>
    Effect.contextWith((context: Context.Context<Exclude<R, Provided>>) => {
      if (closed) return Effect.fail(new TaskManagerClosed())
      const id = TaskId.make(nextId++)
      const mode = options?.mode ?? "default"
      const pool = poolFor(mode)
      const queued = pool !== undefined && pool.running >= pool.limit
      const submittedAt = now()
      const entry: Entry = {
        record: undefined as unknown as TrackedTask,
        effect,
        context,
        timeout: options?.timeout === undefined ? undefined : Duration.fromInputUnsafe(options.timeout),
        grace: options?.grace === undefined ? defaultGrace : Duration.fromInputUnsafe(options.grace),
        pool,
        completion: undefined,
        revoked: undefined,
        forced: undefined,
        fiber: undefined,
        prev: undefined,
        next: undefined
      }
      // A task that is not held back is stored once, already RUNNING: submit and start are one step.
      const record: TrackedTask<A, E> = {
        id,
        name: options?.name ?? `task-${id}`,
        mode,
        state: queued ? "QUEUED" : "RUNNING",
        submittedAt,
        ...(queued ? {} : { startedAt: submittedAt }),
        processes: [],
        [Completion]: Effect.suspend(() => awaitFinal(entry))
      }
      entry.record = record
      entries.set(id, entry)
      tasks.ref.current = HashMap.set(tasks.ref.current, id, record)
      tasksSubmitted.updateUnsafe(1, metricContext)
      if (listening()) {
        publish({ _tag: "TaskSubmitted", id, name: record.name, mode, state: record.state, at: submittedAt })
        if (!queued) publish({ _tag: "TaskStarted", id, at: submittedAt })
      }
      if (queued) {
        enqueue(pool, entry)
        return Effect.succeed(record)
      }
      if (pool !== undefined) pool.running++
      startUnsafe(entry, true)
      // The snapshot at start: a task that already finished synchronously still reads RUNNING here,
      // exactly as `submit` promises; `get`/`await` show what happened next.
      return Effect.succeed(record)
    })

  const shutdown = Effect.suspend(() => {
    closed = true
    return revokeEvery("shutdown")
  }).pipe(
    Effect.andThen(Effect.sync(() => EventHub.closeUnsafe(hub))),
    Effect.withSpan("TaskManager.shutdown")
  )

  const shutdownWith = (options: ShutdownOptions): Effect.Effect<ShutdownReport> =>
    Effect.suspend(() => {
      closed = true
      const targets = Array.from(entries.values())
      const everyone = revokeEvery("shutdown", { graceful: options.graceful ?? true })
      const report = Effect.sync((): ShutdownReport => {
        const stopped: Array<TrackedTask> = []
        const stuck: Array<TrackedTask> = []
        for (const entry of targets) (isTerminal(entry.record.state) ? stopped : stuck).push(entry.record)
        if (stuck.length === 0) EventHub.closeUnsafe(hub)
        return { stopped: stopped.toSorted(byId), stuck: stuck.toSorted(byId) }
      })
      if (options.deadline === undefined) return Effect.andThen(everyone, report)
      const forceTimeout = options.forceTimeout ?? "1 second"
      return everyone.pipe(
        Effect.timeoutOption(options.deadline),
        Effect.flatMap((done) =>
          done._tag === "Some"
            ? Effect.void
            : revokeEvery("shutdown", { graceful: false }).pipe(Effect.timeoutOption(forceTimeout))
        ),
        Effect.andThen(report)
      )
    }).pipe(Effect.withSpan("TaskManager.shutdownWith"))

  const subscribe = EventHub.subscribe(hub)

  const service: TaskManagerShape = {
    submit,
    get: lookup,
    await: (id) =>
      Effect.suspend(() => {
        const entry = entries.get(TaskId.make(id))
        return entry === undefined ? lookup(id) : awaitFinal(entry)
      }),
    join,
    run: (effect, options) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(submit(effect, options), (task) =>
          restore(join(task)).pipe(
            Effect.onInterrupt(() => Effect.ignore(revokeWith(task.id, "user")))
          ))
      ),
    revoke: (id, options) => revokeWith(id, reasonOf(options), options).pipe(Effect.withSpan("TaskManager.revoke")),
    revokeAll: (options) =>
      revokeEvery(reasonOf(options), options).pipe(
        Effect.map((records) => records.toSorted(byId)),
        Effect.withSpan("TaskManager.revokeAll")
      ),
    active: Effect.sync(() => Array.from(entries.values(), (entry) => entry.record as TrackedTask).toSorted(byId)),
    list: Effect.sync(() => Array.from(HashMap.values(tasks.ref.current)).toSorted(byId)),
    events: Stream.unwrap(subscribe),
    subscribe,
    output: (id) =>
      Effect.flatMap(lookup(id), (task) => {
        const tail = tails.get(task.id)
        return Effect.succeed({
          stdout: tail === undefined ? "" : OutputTail.text(tail.stdout),
          stderr: tail === undefined ? "" : OutputTail.text(tail.stderr),
          droppedStdout: tail?.stdout.dropped ?? 0,
          droppedStderr: tail?.stderr.dropped ?? 0
        })
      }),
    shutdown,
    shutdownWith,
    tasks
  }
  yield* Effect.addFinalizer(() => shutdown)
  return service
})

/**
 * The task manager service. Get it with `yield* TaskManager`; provide it with `TaskManager.layer`
 * (defaults) or `TaskManager.layerWith(config)`; swap it in tests like any Effect layer.
 */
export class TaskManager extends Context.Service<TaskManager, TaskManagerShape>()("@effect-tasks/core/TaskManager") {
  /** A manager with default settings; closing the layer shuts it down. */
  static readonly layer: Layer.Layer<TaskManager> = Layer.effect(TaskManager, make())

  /** A manager with the given settings; closing the layer shuts it down. */
  static readonly layerWith = (config: TaskManagerConfig): Layer.Layer<TaskManager> =>
    Layer.effect(TaskManager, make(config))
}
