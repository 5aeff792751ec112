/**
 * A model-based property test: random sequences of submit (a task that succeeds, fails, dies,
 * hangs, sleeps, or stops like a process that ignores SIGTERM), revoke with or without grace,
 * revokeAll, await, clock ticks and shutdown, checked after every step against what the manager
 * must guarantee.
 */
import { CurrentTask, TaskErrors, TaskEvent, TaskId, TaskManager, TrackedTask } from "@effect-tasks/core"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import { disarmTestClock, drain, type StopMode, stubborn, taskId } from "./helpers.js"

const GRACE_MILLIS = 30
const LIMITS = { a: 1, b: 2 } as const

// succeed, fail and die end at once; hang and sleep wait; stubborn stops like a process that ignores
// SIGTERM (it uses the grace period unless forced); brittle's finalizer dies when it is stopped.
const Kind = Schema.Literals(["succeed", "fail", "die", "hang", "sleep", "stubborn", "brittle"])
const Millis = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 60 }))
const Target = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 30 }))

const Submit = Schema.TaggedStruct("Submit", {
  kind: Kind,
  mode: Schema.Literals(["a", "b"]),
  sleep: Millis,
  timeout: Schema.optionalKey(Millis)
})
const Revoke = Schema.TaggedStruct("Revoke", { target: Target, graceful: Schema.Boolean })
const RevokeAll = Schema.TaggedStruct("RevokeAll", { graceful: Schema.Boolean })
const Await = Schema.TaggedStruct("Await", { target: Target })
const Tick = Schema.TaggedStruct("Tick", { millis: Millis })
const Shutdown = Schema.TaggedStruct("Shutdown", {})

// Generation picks a union member uniformly, so members are repeated to weight them: mostly submits
// and ticks, now and then a revoke. Shutdown ends the interesting part of a run, so it is placed by
// `shutdownAt` instead (and every run ends with one more, which also checks it is idempotent).
const Command = Schema.Union([
  Submit,
  Submit,
  Submit,
  Submit,
  Submit,
  Revoke,
  Revoke,
  RevokeAll,
  Await,
  Await,
  Tick,
  Tick,
  Tick
])
type Command = typeof Command.Type | typeof Shutdown.Type

const Commands = Schema.Array(Command).check(Schema.isBetweenLength(1, 60))
const ShutdownAt = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 80 }))

type Kind = typeof Kind.Type
type Event = TaskEvent.TaskEvent

interface Known {
  readonly id: number
  readonly kind: Kind
  readonly mode: "a" | "b"
  readonly timeout: number | undefined
  /** The first terminal record seen: the task must keep it, identical, for ever. */
  terminal: TrackedTask.TrackedTask | undefined
  /** The task's events so far, in order. */
  readonly events: Array<Event>
}

const isTerminal = (state: string) => state === "SUCCESS" || state === "FAILURE" || state === "REVOKED"

/** Checks that `events` are a prefix of a task's life: submitted, started, revoking at most twice, finished. */
const checkLife = (known: Known) => {
  const tags = known.events.map((e) => e._tag)
  const submitted = known.events[0]
  if (submitted === undefined) return
  expect(submitted._tag).toBe("TaskSubmitted")
  const rest = tags.slice(1).join(" ")
  const pattern = submitted._tag === "TaskSubmitted" && submitted.state === "QUEUED"
    ? /^(TaskFinished|TaskStarted( TaskRevoking){0,2}( TaskFinished)?)?$/
    : /^(TaskStarted( TaskRevoking){0,2}( TaskFinished)?)?$/
  expect(rest, `events of task ${known.id}`).toMatch(pattern)
}

/** The state a task's events say it is in. */
const stateFromEvents = (events: ReadonlyArray<Event>): string | undefined => {
  let state: string | undefined
  for (const e of events) {
    if (e._tag === "TaskSubmitted" || e._tag === "TaskFinished") state = e.state
    else if (e._tag === "TaskStarted") state = "RUNNING"
  }
  return state
}

/** Joins a fiber that must already be done or about to be; a hang fails the property instead of the test timing out. */
const settled = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Fiber.join(fiber).pipe(Effect.timeout("5 seconds"), TestClock.withLive, Effect.orDie)

const runCommands = (generated: ReadonlyArray<Command>, shutdownAt: number) =>
  Effect.gen(function*() {
    yield* disarmTestClock
    const scope = yield* Effect.scope
    const layer = TaskManager.layerWith({
      grace: `${GRACE_MILLIS} millis`,
      concurrency: LIMITS,
      eventBuffer: 1_000_000
    })
    const tm = Context.get(yield* Layer.buildWithScope(layer, scope), TaskManager.TaskManager)
    const pull = yield* Stream.toPull(yield* tm.subscribe)

    const commands: ReadonlyArray<Command> = shutdownAt < generated.length
      ? [...generated.slice(0, shutdownAt), { _tag: "Shutdown" }, ...generated.slice(shutdownAt)]
      : generated
    const known = new Map<number, Known>()
    const order: Array<TaskId.TaskId> = []
    const alive = new Set<number>()
    const bodiesStarted = new Set<number>()
    const stopLog: Array<StopMode> = []
    const revokes: Array<Fiber.Fiber<TrackedTask.TrackedTask, TaskErrors.TaskNotFound>> = []
    const awaits: Array<Fiber.Fiber<TrackedTask.TrackedTask, TaskErrors.TaskNotFound>> = []
    const revokeAlls: Array<Fiber.Fiber<ReadonlyArray<TrackedTask.TrackedTask>>> = []
    const shutdowns: Array<Fiber.Fiber<void>> = []
    /** Tasks a non-graceful revoke (or revokeAll) reached: they must be terminal by the next check. */
    const forced = new Set<number>()
    let shutdownStarted = false
    let startedAtShutdown = 0
    let lastId = 0

    const body = (kind: Kind, sleep: number) =>
      Effect.gen(function*() {
        const id = yield* CurrentTask.CurrentTask
        yield* Effect.acquireRelease(
          Effect.sync(() => {
            alive.add(id)
            bodiesStarted.add(id)
          }),
          () => Effect.sync(() => alive.delete(id))
        )
        switch (kind) {
          case "succeed":
            return "ok"
          case "fail":
            return yield* Effect.fail("boom")
          case "die":
            return yield* Effect.die("kaput")
          case "hang":
            return yield* Effect.never
          case "sleep":
            return yield* Effect.as(Effect.sleep(`${sleep + 1} millis`), "slept")
          case "stubborn":
            return yield* stubborn(stopLog)
          case "brittle":
            return yield* Effect.never.pipe(Effect.ensuring(Effect.die("finalizer broke")))
        }
      })

    const check = Effect.gen(function*() {
      for (const event of yield* drain(pull)) {
        expect(event._tag).not.toBe("EventsDropped")
        if (event._tag !== "EventsDropped") known.get(event.id)!.events.push(event)
      }
      const list = yield* tm.list
      const active = yield* tm.active
      // Nothing is dropped (retain is larger than any run), and ids are exactly the ones handed out.
      expect(list.map((t) => t.id)).toEqual(order)
      // `active` is exactly the non-terminal tasks.
      expect(active.map((t) => t.id)).toEqual(list.filter((t) => !isTerminal(t.state)).map((t) => t.id))
      const running = { a: 0, b: 0 }
      for (const record of list) {
        const k = known.get(record.id)!
        // Each task reaches exactly one terminal state and keeps it (the very same record).
        if (k.terminal !== undefined) expect(record).toBe(k.terminal)
        else if (isTerminal(record.state)) k.terminal = record
        // Its events are in order, and say exactly what the record says.
        checkLife(k)
        expect(stateFromEvents(k.events), `task ${record.id}`).toBe(record.state)
        const lastRevoking = k.events.findLast((e) => e._tag === "TaskRevoking")
        if (lastRevoking?._tag === "TaskRevoking") expect(record.revocation).toEqual(lastRevoking.revocation)
        // A revoke that lands on a started task is announced (TaskRevoking) before it finishes.
        if (record.revocation !== undefined && k.events.some((e) => e._tag === "TaskStarted")) {
          expect(lastRevoking, `TaskRevoking of task ${record.id}`).toBeDefined()
        }
        // A task whose body is still alive (finalizers not done) is not terminal.
        if (alive.has(record.id)) expect(record.state).toBe("RUNNING")
        if (record.state === "QUEUED") expect(bodiesStarted.has(record.id)).toBe(false)
        if (bodiesStarted.has(record.id)) expect(record.startedAt).toBeDefined()
        if (record.state === "RUNNING") running[k.mode]++
        // The outcome fits the task: only revocation ends a task that does not end by itself.
        if (record.state === "SUCCESS") expect(["succeed", "sleep"]).toContain(k.kind)
        // (A finalizer that dies while a task is revoked still gives REVOKED: the cause has an interruption.)
        if (record.state === "FAILURE") expect(["fail", "die"]).toContain(k.kind)
        if (record.state === "REVOKED") {
          expect(record.revocation).toBeDefined()
          // A task that ends by itself at once is REVOKED only if revoked while QUEUED, or by a zero
          // timeout (under TestClock a zero sleep returns at once, so that timer fires first).
          if ((k.kind === "succeed" || k.kind === "fail" || k.kind === "die") && record.startedAt !== undefined) {
            expect(record.revocation).toEqual({ reason: "timeout", graceful: true })
            expect(k.timeout).toBe(0)
          }
        }
        if (record.revocation?.reason === "timeout") expect(k.timeout).toBeDefined()
        // graceful: false stops a task at once (no time passes here), and upgrades a graceful stop.
        if (forced.has(record.id)) {
          expect(record.state, `task ${record.id} after a forced revoke`).not.toBe("RUNNING")
          if (record.revocation !== undefined) expect(record.revocation.graceful).toBe(false)
        }
        if (record.revocation?.reason === "shutdown") expect(shutdownStarted).toBe(true)
      }
      expect(running.a).toBeLessThanOrEqual(LIMITS.a)
      expect(running.b).toBeLessThanOrEqual(LIMITS.b)
      // After shutdown nothing new runs, and once it has returned nothing runs at all.
      if (shutdownStarted) expect(bodiesStarted.size).toBe(startedAtShutdown)
      if (shutdowns.some((f) => f.pollUnsafe() !== undefined)) {
        expect(active).toEqual([])
        expect(alive.size).toBe(0)
      }
    })

    const run = (command: Command) =>
      Effect.gen(function*() {
        switch (command._tag) {
          case "Submit": {
            const options: TaskManager.SubmitOptions = {
              mode: command.mode,
              ...(command.timeout === undefined ? {} : { timeout: command.timeout })
            }
            const before = yield* tm.active
            const submitted = yield* Effect.result(tm.submit(body(command.kind, command.sleep), options))
            if (shutdownStarted) {
              expect(submitted._tag).toBe("Failure")
              if (submitted._tag === "Failure") expect(submitted.failure).toBeInstanceOf(TaskErrors.TaskManagerClosed)
              return
            }
            if (submitted._tag === "Failure") return expect.unreachable("submit failed before shutdown")
            const task = submitted.success
            // Ids strictly increase.
            expect(task.id).toBeGreaterThan(lastId)
            lastId = task.id
            const full = before.filter((t) =>
              t.mode === command.mode && t.state === "RUNNING"
            ).length >= LIMITS[command.mode]
            expect(task.state).toBe(full ? "QUEUED" : "RUNNING")
            order.push(task.id)
            known.set(task.id, {
              id: task.id,
              kind: command.kind,
              mode: command.mode,
              timeout: command.timeout,
              terminal: undefined,
              events: []
            })
            return
          }
          case "Revoke": {
            const id = order[command.target]
            if (id === undefined) {
              const missing = yield* Effect.flip(tm.revoke(taskId(lastId + 1 + command.target)))
              expect(missing).toBeInstanceOf(TaskErrors.TaskNotFound)
              return
            }
            if (!command.graceful && !isTerminal((yield* tm.get(id)).state)) forced.add(id)
            revokes.push(
              yield* tm.revoke(id, { graceful: command.graceful }).pipe(Effect.forkChild({ startImmediately: true }))
            )
            return
          }
          case "RevokeAll":
            if (!command.graceful) { for (const t of yield* tm.active) forced.add(t.id) }
            revokeAlls.push(
              yield* tm.revokeAll({ graceful: command.graceful }).pipe(Effect.forkChild({ startImmediately: true }))
            )
            return
          case "Await": {
            const id = order[command.target]
            if (id !== undefined) awaits.push(yield* tm.await(id).pipe(Effect.forkChild({ startImmediately: true })))
            return
          }
          case "Tick":
            return yield* TestClock.adjust(`${command.millis} millis`)
          case "Shutdown":
            if (!shutdownStarted) startedAtShutdown = bodiesStarted.size
            shutdownStarted = true
            shutdowns.push(yield* tm.shutdown.pipe(Effect.forkChild({ startImmediately: true })))
            return
        }
      })

    // If a check fails, stop every task at once and let the grace pass, so the run's scope can close
    // and the failure is reported (and shrunk) instead of waiting on a clock no one advances.
    yield* Effect.addFinalizer((exit) =>
      exit._tag === "Success" ? Effect.void : Effect.gen(function*() {
        const stopping = yield* tm.revokeAll({ graceful: false }).pipe(Effect.forkChild({ startImmediately: true }))
        yield* TestClock.adjust(`${GRACE_MILLIS} millis`)
        yield* Fiber.join(stopping)
      })
    )

    for (const command of commands) {
      yield* run(command)
      yield* Effect.repeat(Effect.yieldNow, { times: 10 })
      yield* check
    }

    // The end: shut down (again), let the grace period pass, and everything must have settled.
    yield* run({ _tag: "Shutdown" })
    yield* TestClock.adjust(`${GRACE_MILLIS} millis`)
    for (const fiber of shutdowns) yield* settled(fiber)
    yield* check
    const finalRecord = (id: number) => known.get(id)!.terminal!
    for (const k of known.values()) {
      expect(k.terminal, `task ${k.id} is terminal after shutdown`).toBeDefined()
      expect(k.events.at(-1)?._tag).toBe("TaskFinished")
    }
    // Every caller got the task's one terminal record.
    for (const fiber of [...revokes, ...awaits]) {
      const record = yield* settled(fiber)
      expect(record).toBe(finalRecord(record.id))
    }
    for (const fiber of revokeAlls) {
      for (const record of yield* settled(fiber)) {
        expect(record).toBe(finalRecord(record.id))
        expect(record.state).toBe("REVOKED")
      }
    }
    expect(alive.size).toBe(0)
    expect(yield* Effect.flip(tm.submit(Effect.void))).toBeInstanceOf(TaskErrors.TaskManagerClosed)
    return true
  })

describe("model", () => {
  it.effect.prop(
    "every interleaving of submit, revoke, revokeAll, await, time and shutdown keeps the manager's promises",
    { commands: Commands, shutdownAt: ShutdownAt },
    ({ commands, shutdownAt }) => runCommands(commands, shutdownAt),
    { timeout: 60_000, arbitrary: { runs: 200, size: 60 } }
  )
})
