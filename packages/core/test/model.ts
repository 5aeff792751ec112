/**
 * A pure model of the task manager, on a virtual clock: what every task's state, revocation, start and
 * finish must be after any sequence of submits, revokes, revokeAlls, clock ticks and shutdown. The model
 * test (`model.test.ts`) runs the same sequence against a real manager under `TestClock` and compares the
 * two after every step.
 *
 * The model knows what the task bodies the test submits do:
 * - `succeed`, `fail`, `die` end as soon as they start;
 * - `hang` never ends by itself; `brittle` neither, and its finalizer dies when it is stopped;
 * - `sleep` ends (SUCCESS) `sleep` ms after it starts;
 * - `stubborn` stops like a process that ignores SIGTERM: a graceful revoke ends it after its grace period,
 *   a forced revoke (or an upgrade to one) at once;
 * - `lingering` returns after `sleep` ms, then its scope's finalizer takes `cleanup` ms. A revoke during the
 *   body interrupts it (REVOKED once the finalizer is done); a revoke during the cleanup is recorded, and the
 *   task still ends SUCCESS.
 *
 * Generated durations keep apart the timers of one task whose order would matter (sleeps and cleanup-ends
 * fall on odd times after the start, timeouts on even ones), so the model never depends on which of two
 * timers due at the same instant fires first.
 */

/** What a submitted body does. */
export type Kind = "succeed" | "fail" | "die" | "hang" | "sleep" | "stubborn" | "brittle" | "lingering"

/** The outcome of a revoke, as recorded on a task. */
export interface Revocation {
  readonly reason: "user" | "timeout" | "shutdown"
  readonly graceful: boolean
}

/** One task as the model sees it. */
export interface ModelTask {
  readonly id: number
  readonly kind: Kind
  readonly mode: string
  readonly sleep: number
  readonly cleanup: number
  readonly timeout: number | undefined
  readonly grace: number
  readonly pool: ModelPool | undefined
  readonly submittedAt: number
  state: "QUEUED" | "RUNNING" | "SUCCESS" | "FAILURE" | "REVOKED"
  startedAt: number | undefined
  finishedAt: number | undefined
  revocation: Revocation | undefined
  /** How many `TaskRevoking` events the task must have published: the first revoke, then an upgrade. */
  revokings: number
  /** Where a running task is: in its body, or closing its scope after the body (interrupted or not). */
  phase: "body" | "cleanup" | "stopping"
  bodyInterrupted: boolean
}

/** A concurrency pool: `limit` running at once, the rest waiting in submission order. */
export interface ModelPool {
  readonly name: string
  readonly limit: number
  running: number
  readonly waiting: Array<ModelTask>
  /** The ids of the pool's tasks in the order they started. */
  readonly started: Array<number>
}

type TimerKind = "bodyEnd" | "timeout" | "graceEnd" | "cleanupEnd"

interface Timer {
  readonly at: number
  readonly seq: number
  readonly task: ModelTask
  readonly kind: TimerKind
}

/** The manager's settings the model follows. */
export interface ModelConfig {
  /** A number limits all tasks together; a record limits the listed modes. */
  readonly concurrency: number | Readonly<Record<string, number>>
  readonly grace: number
  readonly retain: number
}

export interface SubmitSpec {
  readonly kind: Kind
  readonly mode: string
  readonly sleep: number
  readonly cleanup: number
  readonly timeout: number | undefined
  readonly grace: number | undefined
}

export class Model {
  now = 0
  closed = false
  readonly tasks = new Map<number, ModelTask>()
  /** Every task that finished, in the order the model finished them. */
  readonly finished: Array<ModelTask> = []
  private nextId = 1
  private seq = 0
  private timers: Array<Timer> = []
  private readonly globalPool: ModelPool | undefined
  private readonly modePools = new Map<string, ModelPool>()

  constructor(readonly config: ModelConfig) {
    this.globalPool = typeof config.concurrency === "number"
      ? { name: "all", limit: config.concurrency, running: 0, waiting: [], started: [] }
      : undefined
  }

  /** Every pool the model has created, for comparing start orders. */
  pools(): ReadonlyArray<ModelPool> {
    return this.globalPool === undefined ? [...this.modePools.values()] : [this.globalPool]
  }

  private poolFor(mode: string): ModelPool | undefined {
    if (this.globalPool !== undefined) return this.globalPool
    const limit = (this.config.concurrency as Readonly<Record<string, number>>)[mode]
    if (limit === undefined) return undefined
    let pool = this.modePools.get(mode)
    if (pool === undefined) {
      pool = { name: mode, limit, running: 0, waiting: [], started: [] }
      this.modePools.set(mode, pool)
    }
    return pool
  }

  /** A submit: the new task, or undefined once the manager is closed. */
  submit(spec: SubmitSpec): ModelTask | undefined {
    if (this.closed) return undefined
    const pool = this.poolFor(spec.mode)
    const task: ModelTask = {
      id: this.nextId++,
      kind: spec.kind,
      mode: spec.mode,
      sleep: spec.sleep,
      cleanup: spec.cleanup,
      timeout: spec.timeout,
      grace: spec.grace ?? this.config.grace,
      pool,
      submittedAt: this.now,
      state: "QUEUED",
      startedAt: undefined,
      finishedAt: undefined,
      revocation: undefined,
      revokings: 0,
      phase: "body",
      bodyInterrupted: false
    }
    this.tasks.set(task.id, task)
    if (pool !== undefined && pool.running >= pool.limit) pool.waiting.push(task)
    else this.start(task)
    return task
  }

  /** A revoke of a known task (a caller's, `revokeAll`'s or shutdown's). */
  revoke(id: number, revocation: Revocation): void {
    const task = this.tasks.get(id)
    if (task === undefined || isTerminal(task.state)) return
    if (task.state === "QUEUED") {
      task.revocation = revocation
      task.pool!.waiting.splice(task.pool!.waiting.indexOf(task), 1)
      this.finish(task, "REVOKED")
      return
    }
    const previous = task.revocation
    if (previous === undefined) {
      task.revocation = revocation
      task.revokings++
      this.interrupt(task)
    } else if (previous.graceful && !revocation.graceful) {
      task.revocation = { reason: previous.reason, graceful: false }
      task.revokings++
      if (task.kind === "stubborn" && task.phase === "stopping") this.finish(task, "REVOKED")
    }
  }

  /** `revokeAll` and shutdown: queued tasks first, then running ones, each in submission order. */
  revokeEvery(revocation: Revocation): void {
    const active = [...this.tasks.values()].filter((t) => !isTerminal(t.state))
    for (const task of active) if (task.state === "QUEUED") this.revoke(task.id, revocation)
    for (const task of active) this.revoke(task.id, revocation)
  }

  shutdown(graceful = true): void {
    this.closed = true
    this.revokeEvery({ reason: "shutdown", graceful })
  }

  /** Moves the clock forward, firing every timer due on the way, earliest first. */
  tick(millis: number): void {
    const target = this.now + millis
    for (;;) {
      let next: Timer | undefined
      for (const timer of this.timers) {
        if (
          timer.at <= target &&
          (next === undefined || timer.at < next.at || (timer.at === next.at && timer.seq < next.seq))
        ) {
          next = timer
        }
      }
      if (next === undefined) break
      this.timers.splice(this.timers.indexOf(next), 1)
      this.now = next.at
      this.fire(next)
    }
    this.now = target
  }

  /** When the last pending timer fires, if any. */
  lastDeadline(): number | undefined {
    return this.timers.length === 0 ? undefined : Math.max(...this.timers.map((t) => t.at))
  }

  /** The tasks `list` must show: the active ones and the newest `retain` finished ones of `finishOrder`. */
  retained(finishOrder: ReadonlyArray<number>): Array<number> {
    const kept = this.config.retain === 0 ? [] : finishOrder.slice(-this.config.retain)
    const active = [...this.tasks.values()].filter((t) => !isTerminal(t.state)).map((t) => t.id)
    return [...kept, ...active].toSorted((a, b) => a - b)
  }

  private schedule(task: ModelTask, kind: TimerKind, after: number): void {
    this.timers.push({ at: this.now + after, seq: this.seq++, task, kind })
  }

  private start(task: ModelTask): void {
    task.state = "RUNNING"
    task.startedAt = this.now
    if (task.pool !== undefined) {
      task.pool.running++
      task.pool.started.push(task.id)
    }
    if (task.timeout === 0) {
      // A zero timeout fires while the task's first steps run (a zero sleep returns at once under TestClock):
      // the revoke is recorded at once and reaches the body at its first suspension. A body that completes
      // within its first steps keeps its outcome.
      task.revocation = { reason: "timeout", graceful: true }
      task.revokings++
      if (task.kind === "succeed") return this.finish(task, "SUCCESS")
      if (task.kind === "fail" || task.kind === "die") return this.finish(task, "FAILURE")
      return this.interrupt(task)
    }
    // The timer is forked before the body runs, so it is registered first.
    if (task.timeout !== undefined) this.schedule(task, "timeout", task.timeout)
    switch (task.kind) {
      case "succeed":
        return this.finish(task, "SUCCESS")
      case "fail":
      case "die":
        return this.finish(task, "FAILURE")
      case "sleep":
      case "lingering":
        return this.schedule(task, "bodyEnd", task.sleep)
      case "hang":
      case "stubborn":
      case "brittle":
        return
    }
  }

  /** A revoke reached a running task that had none: what its body and finalizers do about it. */
  private interrupt(task: ModelTask): void {
    if (task.phase !== "body") return // a revoke after the body only hurries a cleanup that ignores it
    this.cancel(task, "bodyEnd")
    switch (task.kind) {
      case "stubborn":
        if (!task.revocation!.graceful) return this.finish(task, "REVOKED")
        task.phase = "stopping"
        return this.schedule(task, "graceEnd", task.grace)
      case "lingering":
        task.phase = "cleanup"
        task.bodyInterrupted = true
        return this.schedule(task, "cleanupEnd", task.cleanup)
      default:
        return this.finish(task, "REVOKED")
    }
  }

  private fire(timer: Timer): void {
    const task = timer.task
    if (isTerminal(task.state)) return
    switch (timer.kind) {
      case "timeout":
        return this.revoke(task.id, { reason: "timeout", graceful: true })
      case "bodyEnd":
        if (task.kind === "sleep") return this.finish(task, "SUCCESS")
        task.phase = "cleanup"
        return this.schedule(task, "cleanupEnd", task.cleanup)
      case "cleanupEnd":
        return this.finish(task, task.bodyInterrupted ? "REVOKED" : "SUCCESS")
      case "graceEnd":
        return this.finish(task, "REVOKED")
    }
  }

  private cancel(task: ModelTask, kind: TimerKind): void {
    this.timers = this.timers.filter((t) => t.task !== task || t.kind !== kind)
  }

  private finish(task: ModelTask, state: "SUCCESS" | "FAILURE" | "REVOKED"): void {
    const wasRunning = task.state === "RUNNING"
    task.state = state
    task.finishedAt = this.now
    this.timers = this.timers.filter((t) => t.task !== task)
    this.finished.push(task)
    if (!wasRunning || task.pool === undefined) return
    const pool = task.pool
    pool.running--
    while (pool.running < pool.limit && pool.waiting.length > 0) this.start(pool.waiting.shift()!)
  }
}

export const isTerminal = (state: string): boolean => state === "SUCCESS" || state === "FAILURE" || state === "REVOKED"
