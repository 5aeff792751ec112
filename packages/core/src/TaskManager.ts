/**
 * The task manager: runs submitted effects as tracked fibers and tells the truth about them.
 *
 * Every task's state comes from an `Exit`: success is SUCCESS, a cause with an interruption is REVOKED,
 * anything else is FAILURE. Once the submitted effect (the task's body) has completed, its own `Exit`
 * decides; a revoke that lands after that only hurries the cleanup. A task is terminal only once its fiber
 * has fully ended, finalizers included. Bookkeeping runs synchronously in the fiber's exit observer, so no
 * task needs a helper fiber.
 *
 * ```ts
 * import { TaskManager } from "@effect-tasks/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const tm = yield* TaskManager.TaskManager
 *   const task = yield* tm.submit(Effect.sleep("10 seconds"), { name: "nap" })
 *   const stopped = yield* tm.revoke(task.id) // waits until the fiber has really ended
 *   return stopped.state // "REVOKED"
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(TaskManager.layer)))
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as MutableRef from "effect/MutableRef"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import { CurrentTask } from "./CurrentTask.js"
import * as EventHub from "./internal/eventHub.js"
import * as Follow from "./internal/follow.js"
import * as Metrics from "./internal/metrics.js"
import * as OutputTail from "./internal/outputTail.js"
import * as Pool from "./internal/pool.js"
import * as Retention from "./internal/retention.js"
import * as Task from "./internal/task.js"
import * as TaskContextImpl from "./internal/taskContext.js"
import * as TaskScope from "./internal/taskScope.js"
import type { OutputChunk } from "./OutputChunk.js"
import type { ProcessInfo } from "./ProcessInfo.js"
import type { Revocation, RevocationReason } from "./Revocation.js"
import { TaskContext, TaskServices } from "./TaskContext.js"
import { TaskManagerClosed, TaskNotFound, TaskRevoked } from "./TaskErrors.js"
import type { TaskEvent } from "./TaskEvent.js"
import type { TaskId } from "./TaskId.js"
import { isTerminal } from "./TaskState.js"
import { Completion, renderError, type TrackedTask } from "./TrackedTask.js"

/**
 * Settings of a manager; every field has a default.
 *
 * @since 0.1.0
 * @category models
 */
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
   * Characters of `TaskOutput` text buffered per subscriber before it starts dropping (and counting) them, so
   * a subscriber that never reads cannot hold an output flood. Default 16 MiB.
   */
  readonly eventBufferBytes?: number | undefined
  /**
   * Characters of output buffered per follower (`follow`) before the task's writers wait for it, as a process
   * waits on a full pipe. Default 65536.
   */
  readonly followBuffer?: number | undefined
  /**
   * When each task gets its own span. `"auto"` (the default): when the submitter's context has a tracer
   * that records spans (an OpenTelemetry layer, `Effect.withTracer`, a test tracer); with Effect's default
   * native tracer, which exports nothing, the span would be the largest single cost of a task and be seen
   * by nobody. `"always"` and `"never"` say what they mean.
   */
  readonly spans?: "auto" | "always" | "never" | undefined
}

/**
 * Options of one submitted task.
 *
 * @since 0.1.0
 * @category models
 */
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

/**
 * Options of a revoke.
 *
 * @since 0.1.0
 * @category models
 */
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

/**
 * Options of a shutdown with a deadline.
 *
 * @since 0.1.0
 * @category models
 */
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

/**
 * What a shutdown with a deadline achieved: the tasks it stopped, and those still stopping when it returned.
 *
 * @since 0.1.0
 * @category models
 */
export interface ShutdownReport {
  readonly stopped: ReadonlyArray<TrackedTask>
  /** Tasks whose own code did not let go in time (their revoke goes on; the manager stays closed). */
  readonly stuck: ReadonlyArray<TrackedTask>
}

/**
 * The kept tail of a task's output, per stream, with how many characters were dropped before it.
 *
 * @since 0.1.0
 * @category models
 */
export interface TaskOutputTail {
  readonly stdout: string
  readonly stderr: string
  readonly droppedStdout: number
  readonly droppedStderr: number
}

/**
 * The services a task gets from the manager; they never show in `submit`'s requirements.
 *
 * @since 0.1.0
 * @category models
 */
export type Provided = CurrentTask | TaskContext | Scope.Scope

/**
 * The operations of a task manager. Every one is an Effect; nothing throws.
 *
 * @since 0.1.0
 * @category models
 */
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
  readonly get: (id: TaskId) => Effect.Effect<TrackedTask, TaskNotFound>
  /** Waits until the task is terminal and returns its final record. */
  readonly await: (id: TaskId) => Effect.Effect<TrackedTask, TaskNotFound>
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
   * A revoke that lands after the task's body has completed is recorded and hurries its cleanup, but
   * the body's own outcome (SUCCESS or FAILURE) stands.
   */
  readonly revoke: (id: TaskId, options?: RevokeOptions) => Effect.Effect<TrackedTask, TaskNotFound>
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
  readonly output: (id: TaskId) => Effect.Effect<TaskOutputTail, TaskNotFound>
  /**
   * Follows a task's process output without losing any of it: every chunk, stdout and stderr interleaved in
   * the order they arrived, until the task is terminal (its processes' pipes are closed by then). A follower
   * that starts late first gets the kept tail (`output`), interleaved the same way, preceded by an
   * `OutputSkipped` when the tail no longer holds everything; a task that already ended gives just that.
   *
   * A follower reads at its own pace: while it holds `followBuffer` characters unread, the task's processes
   * wait (their pipes fill up and they block, as under a shell pipe); nothing is dropped and nothing grows
   * without bound. A follower that goes away (its stream ends or is interrupted) never holds them back again.
   * Fails with `TaskNotFound` for an unknown id. To get every byte from the very first, use `submitFollowed`.
   */
  readonly follow: (id: TaskId) => Stream.Stream<OutputChunk, TaskNotFound>
  /**
   * `submit`, with a follower attached in the same step, before the task can write anything: its stream has
   * every chunk the task's processes write, as `follow` describes, and no `OutputSkipped`. The stream is read
   * once. The follower lives until the stream ends or the scope closes, whichever comes first: until then a
   * follower that is not read holds the task's processes back once its buffer is full.
   */
  readonly submitFollowed: <A, E = never, R = never>(
    effect: Effect.Effect<A, E, R>,
    options?: SubmitOptions
  ) => Effect.Effect<
    readonly [task: TrackedTask<A, E>, output: Stream.Stream<OutputChunk>],
    TaskManagerClosed,
    Exclude<R, Provided> | Scope.Scope
  >
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
}

interface Tails {
  readonly stdout: OutputTail.OutputTail
  readonly stderr: OutputTail.OutputTail
}

const byId = (a: TrackedTask, b: TrackedTask) => a.id - b.id

/** Whether `context` has a tracer that records spans, for `spans: "auto"`. */
const hasRecordingTracer = (context: Context.Context<never>): boolean => {
  // A raw lookup: a tracer the context does not hold reads as absent, not as the native default.
  const tracer = Context.getOrUndefined(context, Tracer.Tracer)
  return tracer !== undefined && tracer !== Tracer.nativeTracer
}

/** The typed result of a final record: its value or error, or `TaskRevoked`. */
const resultOf = (done: TrackedTask<any, any>): Effect.Effect<any, any> =>
  done.state === "REVOKED"
    ? Effect.fail(new TaskRevoked({ id: done.id, reason: done.revocation?.reason ?? "user" }))
    : done.exit!

/**
 * Waits for a task (even one retention already dropped) and gives its typed result. A task already over when
 * `join` is called has its result at once: it can never change.
 */
const join = <A, E>(task: TrackedTask<A, E>): Effect.Effect<A, E | TaskRevoked> => {
  const final = Task.finalRecord(task[Completion])
  return final === undefined ? Effect.flatMap(task[Completion], resultOf) : resultOf(final)
}

/**
 * Writes to the records applied in one batch at most (see `pending` in `make`): at least 64, and enough for a
 * task's record to be still pending when retention drops it, in most cases, so neither is applied.
 */
const pendingBatch = (retain: number): number => Math.min(65_536, Math.max(64, 8 * retain))

/**
 * Builds a manager in the current scope; closing the scope shuts it down. Prefer the layers
 * (`TaskManager.layer`, `TaskManager.layerWith`) unless you manage scopes yourself.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function*(config: TaskManagerConfig = {}) {
  const defaultGrace = Duration.fromInputUnsafe(config.grace ?? "5 seconds")
  const tailCapacity = config.outputTail ?? 65_536
  const followBuffer = config.followBuffer ?? 65_536
  const spans = config.spans ?? "auto"
  const clock = yield* Clock.Clock
  const counts = Metrics.make(yield* Effect.context<never>())
  // Applied after the submitter's context: the integration's services win over the caller's.
  const taskServices = yield* TaskServices
  const overrideServices = taskServices.mapUnsafe.size > 0
  // Merging copies the submitter's whole context; tasks come in runs from one submitter, so the last merge is kept.
  let mergedFrom: Context.Context<never> | undefined = undefined
  let merged: Context.Context<never> | undefined = undefined
  const withTaskServices = (submitter: Context.Context<never>): Context.Context<never> => {
    if (!overrideServices) return submitter
    if (submitter !== mergedFrom) {
      mergedFrom = submitter
      merged = Context.merge(submitter, taskServices)
    }
    return merged!
  }
  const hub = EventHub.make(config.eventBuffer ?? 4096, config.eventBufferBytes ?? 16 * 1024 * 1024)
  // Whether a task submitted from `context` gets a span. Tasks come in runs from one submitter, so the answer
  // for the last context is kept.
  let spanContext: Context.Context<never> | undefined = undefined
  let spanAnswer = false
  const wantsSpan = (context: Context.Context<never>): boolean => {
    if (spans !== "auto") return spans === "always"
    if (context !== spanContext) {
      spanContext = context
      spanAnswer = hasRecordingTracer(context)
    }
    return spanAnswer
  }

  // The records: a `Ref<HashMap<TaskId, TrackedTask>>`, the one source of truth for `get`, `list` and
  // `output`, private to the manager. A task's first record is written when `submit` is done with it, so a task
  // that finishes while being submitted (its body never suspends) is written once, when it finishes; until then
  // the manager finds it in `starting`. Written synchronously from fiber observers through the Ref's own
  // `MutableRef` (Effect's public unsafe access), in batches (`pending` below): each batch one new persistent map.
  const records = Ref.makeUnsafe(HashMap.empty<TaskId, TrackedTask>())
  // The tasks still active, with their live parts; and the ones `submit` is starting right now (innermost
  // first, linked by `outer`: a task's first steps may submit another), which join `live` only if they are
  // still active when their `submit` is done. Most short tasks never enter `live` at all.
  const live = new Map<TaskId, Task.Task>()
  let starting: Task.Task | undefined = undefined
  const findActive = (id: TaskId): Task.Task | undefined => {
    const task = live.get(id)
    if (task !== undefined || starting === undefined) return task
    for (let t: Task.Task | undefined = starting; t !== undefined; t = t.outer) {
      if (t.record.id === id && Task.isLive(t)) return t
    }
    return undefined
  }
  const activeTasks = (): Array<Task.Task> => {
    const tasks = Array.from(live.values())
    for (let t = starting; t !== undefined; t = t.outer) if (Task.isLive(t)) tasks.push(t)
    return tasks
  }
  const tails = new Map<TaskId, Tails>()
  // The arrival order of output chunks, so that the tails of stdout and stderr can be replayed interleaved.
  let outputSeq = 0
  const retention = Retention.make<Task.Task>(config.retain ?? 1000)
  const batchLimit = pendingBatch(retention.retain)
  let nextId = 1
  let closed = false

  const globalPool = typeof config.concurrency === "number" ? Pool.make<Task.Task>(config.concurrency) : undefined
  const modePools = new Map<string, Pool.Pool<Task.Task>>()
  const poolFor = (mode: string): Pool.Pool<Task.Task> | undefined => {
    if (globalPool !== undefined) return globalPool
    const limit = typeof config.concurrency === "object" ? config.concurrency[mode] : undefined
    if (limit === undefined) return undefined
    let pool = modePools.get(mode)
    if (pool === undefined) {
      pool = Pool.make(limit)
      modePools.set(mode, pool)
    }
    return pool
  }

  const now = () => clock.currentTimeMillisUnsafe()
  const publish = (event: TaskEvent) => EventHub.publishUnsafe(hub, event)
  // Events are built only when somebody listens: most tasks in a busy app have no subscriber.
  const listening = () => hub.subscribers.size > 0
  // Writes to the records wait in `pending` (in order: a record to set, or an id to forget) and are applied in
  // one batch, a single mutation of the persistent map, before any read of the records and every `batchLimit`
  // writes: every read sees every write, and most writes copy no path of the map of their own. A finished task
  // that retention drops while its only record is still pending is never applied at all: its entry is cleared.
  const pending: Array<TrackedTask<any, any> | TaskId | undefined> = []
  const flush = () => {
    if (pending.length === 0) return
    MutableRef.set(
      records.ref,
      HashMap.mutate(MutableRef.get(records.ref), (map) => {
        for (const entry of pending) {
          if (entry === undefined) continue
          if (typeof entry === "number") HashMap.remove(map, entry)
          else HashMap.set(map, entry.id, entry)
        }
      })
    )
    pending.length = 0
  }
  const push = (entry: TrackedTask<any, any> | TaskId): number => {
    const at = pending.length
    if (pending.push(entry) >= batchLimit) flush()
    return at
  }
  const write = (task: Task.Task) => {
    task.writes++
    task.pendingAt = push(task.record)
  }
  // Drops a finished task from the records: clears its record if that is still pending and was its only write
  // (the map never held it), and otherwise queues its removal.
  const forget = (task: Task.Task) => {
    const record = task.record
    if (pending[task.pendingAt] === record) {
      pending[task.pendingAt] = undefined
      if (task.writes === 1) return
    }
    push(record.id)
  }
  const recordsNow = () => {
    flush()
    return Ref.getUnsafe(records)
  }
  const store = (task: Task.Task, record: TrackedTask<any, any>) => {
    task.record = record
    if (task.stored) write(task)
  }

  const finishUnsafe = (task: Task.Task, fiberExit: Exit.Exit<unknown, unknown>) => {
    if (!Task.isLive(task)) return
    const exit = Task.decidingExit(task.bodyExit, fiberExit)
    const state = Task.stateOf(exit)
    const wasRunning = task.record.state === "RUNNING"
    const at = now()
    const record = Task.finished(task.record, state, at, exit)
    // A task that finishes while its `submit` starts it never entered `live` nor the records.
    if (task.stored) live.delete(record.id)
    task.record = record
    Task.settle(task, record)
    task.stored = true
    write(task)
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
    if (state === "SUCCESS") counts.success++
    else if (state === "FAILURE") counts.failure++
    else counts.revoked++
    // Retained before the freed slot starts the next task: the history keeps tasks in the order they finished.
    const evicted = Retention.add(retention, task)
    if (evicted !== undefined) {
      forget(evicted)
      tails.delete(evicted.record.id)
    }
    if (wasRunning) {
      counts.running--
      if (task.pool !== undefined) {
        Pool.release(task.pool)
        drainUnsafe(task.pool)
      }
    }
    if (task.followers !== undefined) {
      Follow.end(task.followers)
      task.followers = undefined
    }
    Task.signal(task.completion, Exit.succeed(record))
    Task.signal(task.revoked, Exit.void)
    Task.signal(task.forced, Exit.void)
    // A finished task is kept alive by every record of it that a caller holds (to `join` it): let go of the
    // fiber, and with it the task's context and stack.
    task.fiber = undefined
    task.bodyExit = undefined
  }

  const hooks: TaskContextImpl.Hooks = {
    addProcess: (task, started) => {
      if (!Task.isLive(task)) return
      const process: ProcessInfo = { pid: started.pid, command: started.command, args: started.args, startedAt: now() }
      store(task, Task.withProcesses(task.record, [...task.record.processes, process]))
      publish({
        _tag: "ProcessStarted",
        id: task.record.id,
        pid: process.pid,
        command: process.command,
        args: process.args,
        at: process.startedAt
      })
    },
    endProcess: (task, pid, outcome) => {
      if (!Task.isLive(task)) return
      const at = now()
      const ended = {
        endedAt: at,
        ...(outcome.exitCode === undefined ? {} : { exitCode: outcome.exitCode }),
        ...(outcome.signal === undefined ? {} : { signal: outcome.signal })
      }
      store(
        task,
        Task.withProcesses(
          task.record,
          task.record.processes.map((p) => p.pid === pid && p.endedAt === undefined ? { ...p, ...ended } : p)
        )
      )
      publish({ _tag: "ProcessExited", id: task.record.id, pid, ...ended, at })
    },
    processesStopped: (task, pid, report) => {
      if (!Task.isLive(task) || (report.stopped.length === 0 && !report.escalated)) return
      const processes = task.record.processes
      let index = -1
      for (let i = processes.length - 1; i >= 0 && index < 0; i--) if (processes[i]!.pid === pid) index = i
      if (index >= 0) {
        const process = processes[index]!
        const recorded: ProcessInfo = {
          ...process,
          stopped: [...(process.stopped ?? []), ...report.stopped],
          escalated: process.escalated === true || report.escalated
        }
        store(task, Task.withProcesses(task.record, processes.map((p, i) => i === index ? recorded : p)))
      }
      if (listening()) {
        publish({
          _tag: "ProcessesStopped",
          id: task.record.id,
          pid,
          stopped: report.stopped,
          escalated: report.escalated,
          at: now()
        })
      }
    },
    output: (task, pid, stream, text) => {
      // Like the other hooks: a late chunk (a pipe's last `data` after the task ended) must not
      // follow TaskFinished, nor recreate the tail of a task retention already dropped.
      if (!Task.isLive(task)) return undefined
      const id = task.record.id
      let tail = tails.get(id)
      if (tail === undefined) {
        tail = { stdout: OutputTail.make(tailCapacity), stderr: OutputTail.make(tailCapacity) }
        tails.set(id, tail)
      }
      OutputTail.append(tail[stream], text, pid, outputSeq++)
      const followers = task.followers
      const followed = followers !== undefined && followers.members.size > 0
      if (!followed && !listening()) return undefined
      // One object for the event and every follower.
      const chunk: TaskEvent & OutputChunk = { _tag: "TaskOutput", id, pid, stream, text }
      if (listening()) publish(chunk)
      return followed ? Follow.offer(followers, chunk) : undefined
    }
  }

  const startUnsafe = (task: Task.Task, stored: boolean) => {
    const record = task.record
    if (!stored) {
      const at = now()
      store(task, Task.started(record, at))
      if (listening()) publish({ _tag: "TaskStarted", id: record.id, at })
    }
    counts.running++
    const submitter = task.context!
    let body: Effect.Effect<unknown, unknown, any> = task.effect!
    task.effect = undefined
    task.context = undefined
    if (task.timeout !== undefined) {
      const timeout = task.timeout
      body = Effect.andThen(
        Effect.forkChild(
          Effect.andThen(
            Effect.sleep(timeout),
            Effect.sync(() => requestRevokeUnsafe(task, { reason: "timeout", graceful: true }))
          ),
          { startImmediately: true }
        ),
        body
      )
    }
    // The task's services go straight into its fiber's context (one context, no wrapper per
    // service), and its scope is closed inside the fiber, so finalizers finish before the exit.
    const scope = TaskScope.make()
    const context = Context.add(
      Context.add(
        Context.add(
          withTaskServices(submitter),
          CurrentTask,
          record.id
        ),
        TaskContext,
        TaskContextImpl.make(task, hooks, scope)
      ),
      Scope.Scope,
      scope
    )
    // The body's own exit is kept before the scope closes: it decides the state if a revoke lands later. The
    // scope's finalizers run uninterruptibly, as `closeUnsafe` requires; most tasks add none, and then there is
    // nothing to run at all.
    const scoped = Effect.onExitPrimitive(body, (exit) => {
      task.bodyExit = exit
      return Scope.closeUnsafe(scope, exit)
    })
    const traced = wantsSpan(submitter)
      ? scoped.pipe(
        // No stack capture: `new Error()` per task cost more than the rest of a submit, and the
        // frame would point into this file, not at the caller.
        Effect.withSpan(record.name, { attributes: { "task.id": record.id, "task.mode": record.mode } }, {
          captureStackTrace: false
        })
      )
      : scoped
    // `runForkWith` runs the fiber synchronously until it first suspends (or ends). A revoke issued in that
    // window (the task revoking itself or shutting its manager down, a zero timeout under TestClock) finds no
    // fiber yet: it is recorded at once, and the fiber is interrupted as soon as it is handed back, at its first
    // suspension. A body that completes within those first steps keeps its outcome, like any completed body.
    const fiber = Effect.runForkWith(context)(traced)
    task.fiber = fiber
    fiber.addObserver((exit) => finishUnsafe(task, exit))
    if (task.interruptPending) fiber.interruptUnsafe()
  }

  // A trampoline: a task that finishes synchronously while being started frees its slot inside
  // `startUnsafe`; the outer loop picks that up instead of recursing once per queued task.
  let draining = false
  const pendingPools = new Set<Pool.Pool<Task.Task>>()
  const drainUnsafe = (pool: Pool.Pool<Task.Task>) => {
    pendingPools.add(pool)
    if (draining) return
    draining = true
    try {
      while (pendingPools.size > 0) {
        const next = pendingPools.values().next().value!
        pendingPools.delete(next)
        for (let task = Pool.next(next, Task.isWaiting); task !== undefined; task = Pool.next(next, Task.isWaiting)) {
          startUnsafe(task, false)
        }
      }
    } finally {
      draining = false
    }
  }

  const requestRevokeUnsafe = (task: Task.Task, revocation: Revocation) => {
    if (!Task.isLive(task)) return
    if (task.record.state === "QUEUED") {
      store(task, Task.withRevocation(task.record, revocation))
      finishUnsafe(task, Exit.interrupt())
      if (task.pool !== undefined) Pool.leave(task.pool, Task.isWaiting)
      if (task.writes === 1) return
    }
    const previous = task.record.revocation
    if (previous === undefined) {
      store(task, Task.withRevocation(task.record, revocation))
      publish({ _tag: "TaskRevoking", id: task.record.id, revocation, at: now() })
      Task.signal(task.revoked, Exit.void)
      if (!revocation.graceful) Task.signal(task.forced, Exit.void)
      if (task.fiber === undefined) task.interruptPending = true
      else task.fiber.interruptUnsafe()
    } else if (previous.graceful && !revocation.graceful) {
      const upgraded = { ...previous, graceful: false }
      store(task, Task.withRevocation(task.record, upgraded))
      publish({ _tag: "TaskRevoking", id: task.record.id, revocation: upgraded, at: now() })
      Task.signal(task.forced, Exit.void)
    }
  }

  const lookup = (id: TaskId): Effect.Effect<TrackedTask, TaskNotFound> =>
    Effect.suspend(() => {
      const task = findActive(id)
      if (task !== undefined) return Effect.succeed(task.record)
      const found = HashMap.get(recordsNow(), id)
      return Option.isSome(found)
        ? Effect.succeed(found.value)
        // Unchecked: the id is typed, but a caller may have cast it, and a lookup must not throw.
        : Effect.fail(new TaskNotFound({ id }, { disableChecks: true }))
    })

  const revokeWith = (id: TaskId, reason: RevocationReason, options?: RevokeOptions) =>
    Effect.suspend(() => {
      const task = findActive(id)
      if (task === undefined) return lookup(id)
      requestRevokeUnsafe(task, { reason, graceful: options?.graceful ?? true })
      return Task.awaitFinal(task)
    })

  const revokeEvery = (reason: RevocationReason, options?: RevokeOptions) =>
    Effect.suspend(() => {
      const targets = activeTasks()
      const revocation = { reason, graceful: options?.graceful ?? true }
      // QUEUED tasks first: stopping a running task can free its slot synchronously, and a queued
      // task must not be started by that only to be revoked a moment later.
      for (const task of targets) if (task.record.state === "QUEUED") requestRevokeUnsafe(task, revocation)
      for (const task of targets) requestRevokeUnsafe(task, revocation)
      return Effect.forEach(targets, Task.awaitFinal, { concurrency: "unbounded" })
    })

  // `submit`'s one step; `created` sees the task before it can run (`submitFollowed` attaches its follower there).
  // Undefined when the manager is closed.
  const submitUnsafe = (
    effect: Effect.Effect<unknown, unknown, any>,
    context: Context.Context<any>,
    options: SubmitOptions | undefined,
    created?: (task: Task.Task) => void
  ): TrackedTask<any, any> | undefined => {
    if (closed) return undefined
    const id = nextId++ as TaskId
    const mode = options?.mode ?? "default"
    const pool = poolFor(mode)
    const queued = pool !== undefined && Pool.isFull(pool)
    const submittedAt = now()
    const task = Task.make(
      effect,
      context,
      options?.timeout === undefined ? undefined : Duration.fromInputUnsafe(options.timeout),
      options?.grace === undefined ? defaultGrace : Duration.fromInputUnsafe(options.grace),
      pool
    )
    // A task that is not held back is stored once, already RUNNING: submit and start are one step.
    const record: TrackedTask<any, any> = Task.submitted(
      task,
      id,
      options?.name ?? `task-${id}`,
      mode,
      queued ? "QUEUED" : "RUNNING",
      submittedAt
    )
    task.record = record
    task.submitted = record
    if (created !== undefined) created(task)
    counts.submitted++
    if (listening()) {
      publish({ _tag: "TaskSubmitted", id, name: record.name, mode, state: record.state, at: submittedAt })
      if (!queued) publish({ _tag: "TaskStarted", id, at: submittedAt })
    }
    if (queued) {
      Pool.wait(pool, task)
      live.set(id, task)
      task.stored = true
      write(task)
      return record
    }
    if (pool !== undefined) Pool.acquire(pool)
    task.outer = starting
    starting = task
    try {
      startUnsafe(task, true)
    } finally {
      starting = task.outer
      task.outer = undefined
    }
    if (!task.stored) {
      live.set(id, task)
      task.stored = true
      write(task)
    }
    // The snapshot at start: a task that already finished synchronously still reads RUNNING here,
    // exactly as `submit` promises; `get`/`await` show what happened next.
    return record
  }

  const submit = <A, E = never, R = never>(
    effect: Effect.Effect<A, E, R>,
    options?: SubmitOptions
  ): Effect.Effect<TrackedTask<A, E>, TaskManagerClosed, Exclude<R, Provided>> =>
    Effect.contextWith((context: Context.Context<Exclude<R, Provided>>) => {
      const record = submitUnsafe(effect, context, options)
      return record === undefined ? Effect.fail(new TaskManagerClosed()) : Effect.succeed(record)
    })

  // What a task wrote before a follower came: its kept tails, interleaved as they arrived.
  const replayOf = (id: TaskId): Array<OutputChunk> => {
    const tail = tails.get(id)
    if (tail === undefined) return []
    const chunks: Array<OutputChunk> = []
    if (tail.stdout.dropped > 0 || tail.stderr.dropped > 0) {
      chunks.push({ _tag: "OutputSkipped", id, stdout: tail.stdout.dropped, stderr: tail.stderr.dropped })
    }
    OutputTail.interleave([tail.stdout, tail.stderr], (piece, index) => {
      chunks.push({
        _tag: "TaskOutput",
        id,
        pid: piece.pid,
        stream: index === 0 ? "stdout" : "stderr",
        text: piece.text
      })
    })
    return chunks
  }

  const attachFollower = (id: TaskId): Effect.Effect<Follow.Follower, TaskNotFound> =>
    Effect.suspend(() => {
      const task = findActive(id)
      if (task !== undefined) {
        task.followers ??= Follow.make(followBuffer)
        return Effect.succeed(Follow.attach(task.followers, replayOf(id)))
      }
      return Effect.map(lookup(id), (record) => Follow.attachEnded(replayOf(record.id)))
    })

  const follow = (id: TaskId): Stream.Stream<OutputChunk, TaskNotFound> =>
    Stream.unwrap(
      Effect.acquireRelease(attachFollower(id), (follower) => Effect.sync(() => Follow.detach(follower))).pipe(
        Effect.map(Follow.stream)
      )
    )

  const submitFollowed = <A, E = never, R = never>(
    effect: Effect.Effect<A, E, R>,
    options?: SubmitOptions
  ): Effect.Effect<
    readonly [task: TrackedTask<A, E>, output: Stream.Stream<OutputChunk>],
    TaskManagerClosed,
    Exclude<R, Provided> | Scope.Scope
  > =>
    Effect.acquireRelease(
      Effect.contextWith((context: Context.Context<Exclude<R, Provided>>) => {
        let follower: Follow.Follower | undefined
        const record = submitUnsafe(effect, context, options, (task) => {
          task.followers = Follow.make(followBuffer)
          follower = Follow.attach(task.followers, [])
        })
        return record === undefined
          ? Effect.fail(new TaskManagerClosed())
          : Effect.succeed([record as TrackedTask<A, E>, follower!] as const)
      }),
      ([, follower]) => Effect.sync(() => Follow.detach(follower))
    ).pipe(Effect.map(([task, follower]) => [task, Follow.stream(follower)] as const))

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
      const targets = activeTasks()
      const everyone = revokeEvery("shutdown", { graceful: options.graceful ?? true })
      const report = Effect.sync((): ShutdownReport => {
        const stopped: Array<TrackedTask> = []
        const stuck: Array<TrackedTask> = []
        for (const task of targets) (isTerminal(task.record.state) ? stopped : stuck).push(task.record)
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
    submitFollowed,
    follow,
    get: lookup,
    await: (id) =>
      Effect.suspend(() => {
        const task = findActive(id)
        return task === undefined ? lookup(id) : Task.awaitFinal(task)
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
    active: Effect.sync(() => activeTasks().map((task) => task.record as TrackedTask).toSorted(byId)),
    list: Effect.sync(() => {
      const all: Array<TrackedTask> = Array.from(HashMap.values(recordsNow()))
      for (let t = starting; t !== undefined; t = t.outer) if (!t.stored) all.push(t.record)
      return all.toSorted(byId)
    }),
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
    shutdownWith
  }
  yield* Effect.addFinalizer(() => shutdown)
  return service
})

/**
 * The task manager service. Get it with `yield* TaskManager.TaskManager`; provide it with
 * `TaskManager.layer` (defaults) or `TaskManager.layerWith(config)`; swap it in tests like any Effect layer.
 *
 * @since 0.1.0
 * @category services
 */
export class TaskManager extends Context.Service<TaskManager, TaskManagerShape>()("@effect-tasks/core/TaskManager") {}

/**
 * A manager with the given settings; closing the layer shuts it down.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (config: TaskManagerConfig): Layer.Layer<TaskManager> =>
  Layer.effect(TaskManager, make(config))

/**
 * A manager with default settings; closing the layer shuts it down.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<TaskManager> = layerWith({})
