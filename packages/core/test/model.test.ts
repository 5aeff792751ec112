/**
 * The model check: random sequences of submits (of every kind of body in `model.ts`, with per-mode or global
 * limits, timeouts and grace periods), revokes with and without grace, revokeAll, awaits, clock ticks and
 * shutdown run against a real manager under `TestClock` and against the pure model in `model.ts`. After every
 * step the two must agree exactly on every task: its state, its revocation, when it was submitted, started and
 * finished, how many `TaskRevoking` events it published, the order in which each pool started its tasks, and
 * which tasks retention keeps. At the end the clock passes every deadline the model knows (liveness: nothing
 * the model says has ended may still run), then the manager shuts down.
 *
 * `scripts/model-mutants.mjs` applies four deliberate bugs to the manager one at a time and checks that this
 * test fails on each.
 */
import { CurrentTask, TaskContext, TaskErrors, TaskEvent, TaskId, TaskManager, TrackedTask } from "@effect-tasks/core"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import { disarmTestClock, drain, taskId } from "./helpers.js"
import { type Kind, Model, type ModelConfig, type SubmitSpec } from "./model.js"

const GRACE_MILLIS = 30
const MODE_LIMITS = { a: 1, b: 2 } as const
const GLOBAL_LIMIT = 2

const KindSchema = Schema.Literals(["succeed", "fail", "die", "hang", "sleep", "stubborn", "brittle", "lingering"])
const between = (minimum: number, maximum: number) => Schema.Int.check(Schema.isBetween({ minimum, maximum }))

// Durations are generated as halves: sleeps become odd (2n+1), cleanups, timeouts and graces even (2n), so the
// timers of one task never fall due at the same instant (see model.ts).
const Submit = Schema.TaggedStruct("Submit", {
  kind: KindSchema,
  mode: Schema.Literals(["a", "b", "c"]),
  sleep: between(0, 29),
  cleanup: between(1, 20),
  timeout: Schema.optionalKey(between(0, 30)),
  grace: Schema.optionalKey(between(1, 20))
})
const Revoke = Schema.TaggedStruct("Revoke", { target: between(0, 30), graceful: Schema.Boolean })
const RevokeAll = Schema.TaggedStruct("RevokeAll", { graceful: Schema.Boolean })
const Await = Schema.TaggedStruct("Await", { target: between(0, 30) })
const Tick = Schema.TaggedStruct("Tick", { millis: between(0, 60) })
type Shutdown = { readonly _tag: "Shutdown" }

// Generation picks a union member uniformly, so members are repeated to weight them: mostly submits and
// ticks, now and then a revoke. Shutdown ends the interesting part of a run, so `shutdownAt` places it.
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
  Tick,
  Tick,
  Tick
])
type Command = typeof Command.Type | Shutdown

const Commands = Schema.Array(Command).check(Schema.isBetweenLength(1, 60))
const ShutdownAt = between(0, 80)
const Config = Schema.Struct({ global: Schema.Boolean, retain: between(0, 8) })

type Event = TaskEvent.TaskEvent

/** Joins a fiber that must be done or about to be; a hang fails the property instead of timing the test out. */
const settled = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Fiber.await(fiber).pipe(Effect.timeout("30 seconds"), TestClock.withLive, Effect.orDie)

const specOf = (command: typeof Submit.Type): SubmitSpec => ({
  kind: command.kind,
  mode: command.mode,
  sleep: 2 * command.sleep + 1,
  cleanup: 2 * command.cleanup,
  timeout: command.timeout === undefined ? undefined : 2 * command.timeout,
  grace: command.grace === undefined ? undefined : 2 * command.grace
})

const runCommands = (generated: ReadonlyArray<Command>, shutdownAt: number, config: typeof Config.Type) =>
  Effect.gen(function*() {
    yield* disarmTestClock
    const modelConfig: ModelConfig = {
      concurrency: config.global ? GLOBAL_LIMIT : MODE_LIMITS,
      grace: GRACE_MILLIS,
      retain: config.retain
    }
    const model = new Model(modelConfig)
    const scope = yield* Effect.scope
    const layer = TaskManager.layerWith({
      grace: `${GRACE_MILLIS} millis`,
      concurrency: modelConfig.concurrency,
      retain: config.retain,
      eventBuffer: 1_000_000
    })
    const tm = Context.get(yield* Layer.buildWithScope(layer, scope), TaskManager.TaskManager)
    const pull = yield* Stream.toPull(yield* tm.subscribe)

    const commands: ReadonlyArray<Command> = shutdownAt < generated.length
      ? [...generated.slice(0, shutdownAt), { _tag: "Shutdown" }, ...generated.slice(shutdownAt)]
      : generated
    const submitted: Array<TaskId.TaskId> = []
    const events = new Map<number, Array<Event>>()
    const startOrder: Array<number> = []
    const finishOrder: Array<number> = []
    /** The first terminal record seen of each task: the task keeps that very record for ever. */
    const terminal = new Map<number, TrackedTask.TrackedTask>()
    /** Tasks whose body runs now (finalizers not done), and every task whose body ever started. */
    const alive = new Set<number>()
    const bodiesStarted = new Set<number>()
    const waiters: Array<Fiber.Fiber<TrackedTask.TrackedTask, TaskErrors.TaskNotFound>> = []
    const revokeAlls: Array<Fiber.Fiber<ReadonlyArray<TrackedTask.TrackedTask>>> = []
    const shutdowns: Array<Fiber.Fiber<void>> = []

    const body = (kind: Kind, sleep: number, cleanup: number) =>
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
            return yield* Effect.as(Effect.sleep(sleep), "slept")
          case "stubborn":
            return yield* stubborn
          case "brittle":
            return yield* Effect.never.pipe(Effect.ensuring(Effect.die("finalizer broke")))
          case "lingering":
            yield* Effect.addFinalizer(() => Effect.sleep(cleanup))
            return yield* Effect.as(Effect.sleep(sleep), "computed")
        }
      })

    /** Is the task still in the manager's records, by the model's account? */
    const retained = (id: number) => model.retained(finishOrder).includes(id)

    const check = Effect.gen(function*() {
      for (const event of yield* drain(pull)) {
        expect(event._tag).not.toBe("EventsDropped")
        if (event._tag === "EventsDropped") continue
        const list = events.get(event.id) ?? []
        list.push(event)
        events.set(event.id, list)
        if (event._tag === "TaskStarted") startOrder.push(event.id)
        if (event._tag === "TaskFinished") finishOrder.push(event.id)
      }
      // The manager finished exactly the tasks the model finished, in an order the model allows: by finish
      // time (tasks finishing at the same instant may come in any order; retention then follows this order).
      expect(finishOrder.toSorted((a, b) => a - b), "finished tasks").toEqual(
        model.finished.map((t) => t.id).toSorted((a, b) => a - b)
      )
      const finishTimes = finishOrder.map((id) => model.tasks.get(id)!.finishedAt!)
      expect(finishTimes, "finish order").toEqual(finishTimes.toSorted((a, b) => a - b))
      // Each pool started its tasks in exactly the model's order (FIFO), and only those.
      for (const pool of model.pools()) {
        const members = new Set([...model.tasks.values()].filter((t) => t.pool === pool).map((t) => t.id))
        expect(startOrder.filter((id) => members.has(id)), `start order of pool ${pool.name}`).toEqual(pool.started)
      }
      expect((yield* tm.list).map((t) => t.id), "list").toEqual(model.retained(finishOrder))
      expect((yield* tm.active).map((t) => t.id), "active").toEqual(
        [...model.tasks.values()].filter((t) => t.state === "QUEUED" || t.state === "RUNNING").map((t) => t.id)
      )
      for (const expected of model.tasks.values()) {
        const id = expected.id
        const label = `task ${id} (${expected.kind}, mode ${expected.mode})`
        const found = yield* Effect.result(tm.get(taskId(id)))
        if (!retained(id)) {
          expect(found._tag === "Failure" && found.failure instanceof TaskErrors.TaskNotFound, `${label} dropped`)
            .toBe(true)
        } else {
          if (found._tag === "Failure") return expect.unreachable(`${label} is missing`)
          const record = found.success
          expect(
            {
              state: record.state,
              revocation: record.revocation,
              submittedAt: record.submittedAt,
              startedAt: record.startedAt,
              finishedAt: record.finishedAt
            },
            label
          ).toEqual({
            state: expected.state,
            revocation: expected.revocation,
            submittedAt: expected.submittedAt,
            startedAt: expected.startedAt,
            finishedAt: expected.finishedAt
          })
          if (record.state === "SUCCESS") {
            expect(record.exit, label).toEqual(
              Exit.succeed(expected.kind === "sleep" ? "slept" : expected.kind === "succeed" ? "ok" : "computed")
            )
          }
          const seen = terminal.get(id)
          if (seen !== undefined) expect(record, `${label} keeps its terminal record`).toBe(seen)
          else if (record.state !== "QUEUED" && record.state !== "RUNNING") terminal.set(id, record)
        }
        // Its events: in order, complete so far, and saying what the model says.
        const own = events.get(id) ?? []
        const tags = own.map((e) => e._tag).join(" ")
        expect(tags, `events of ${label}`).toMatch(
          /^TaskSubmitted( TaskStarted)?( TaskRevoking){0,2}( TaskFinished)?$/
        )
        expect(own.filter((e) => e._tag === "TaskRevoking").length, `TaskRevoking events of ${label}`).toBe(
          expected.revokings
        )
        const finished = own.find((e) => e._tag === "TaskFinished")
        if (expected.finishedAt === undefined) expect(finished, label).toBeUndefined()
        else {
          expect(finished, label).toEqual({
            _tag: "TaskFinished",
            id,
            state: expected.state,
            at: expected.finishedAt,
            ...(expected.revocation === undefined ? {} : { revocation: expected.revocation }),
            ...(expected.state === "FAILURE" ? { error: expect.any(String) } : {})
          })
        }
        // A body still running (finalizers not done) belongs to a task that is not terminal.
        if (alive.has(id)) expect(expected.state, label).toBe("RUNNING")
        if (expected.startedAt === undefined) expect(bodiesStarted.has(id), label).toBe(false)
      }
      if (shutdowns.some((f) => f.pollUnsafe() !== undefined)) {
        expect(yield* tm.active).toEqual([])
        expect(alive.size).toBe(0)
      }
    })

    const run = (command: Command) =>
      Effect.gen(function*() {
        switch (command._tag) {
          case "Submit": {
            const spec = specOf(command)
            const result = yield* Effect.result(
              tm.submit(body(spec.kind, spec.sleep, spec.cleanup), {
                mode: spec.mode,
                ...(spec.timeout === undefined ? {} : { timeout: spec.timeout }),
                ...(spec.grace === undefined ? {} : { grace: spec.grace })
              })
            )
            const queued = (() => {
              const limit = typeof modelConfig.concurrency === "number"
                ? modelConfig.concurrency
                : (modelConfig.concurrency as Record<string, number>)[spec.mode]
              if (limit === undefined) return false
              const sharing = [...model.tasks.values()].filter((t) =>
                t.state === "RUNNING" && (typeof modelConfig.concurrency === "number" || t.mode === spec.mode)
              )
              return sharing.length >= limit
            })()
            const expected = model.submit(spec)
            if (expected === undefined) {
              expect(result._tag === "Failure" && result.failure instanceof TaskErrors.TaskManagerClosed).toBe(true)
              return
            }
            if (result._tag === "Failure") return expect.unreachable("submit failed before shutdown")
            expect(result.success.id).toBe(expected.id)
            expect(result.success.state).toBe(queued ? "QUEUED" : "RUNNING")
            submitted.push(result.success.id)
            return
          }
          case "Revoke": {
            const id = submitted[command.target]
            if (id === undefined) {
              expect(yield* Effect.flip(tm.revoke(taskId(submitted.length + 1 + command.target)))).toBeInstanceOf(
                TaskErrors.TaskNotFound
              )
              return
            }
            const known = retained(id)
            const fiber = yield* tm.revoke(id, { graceful: command.graceful }).pipe(
              Effect.forkChild({ startImmediately: true })
            )
            if (!known) {
              const exit = yield* settled(fiber)
              expect(Exit.isFailure(exit), `revoke of dropped task ${id}`).toBe(true)
              return
            }
            model.revoke(id, { reason: "user", graceful: command.graceful })
            waiters.push(fiber)
            return
          }
          case "RevokeAll":
            revokeAlls.push(
              yield* tm.revokeAll({ graceful: command.graceful }).pipe(Effect.forkChild({ startImmediately: true }))
            )
            model.revokeEvery({ reason: "user", graceful: command.graceful })
            return
          case "Await": {
            const id = submitted[command.target]
            if (id === undefined) return
            const fiber = yield* tm.await(id).pipe(Effect.forkChild({ startImmediately: true }))
            if (retained(id)) waiters.push(fiber)
            else expect(Exit.isFailure(yield* settled(fiber)), `await of dropped task ${id}`).toBe(true)
            return
          }
          case "Tick":
            model.tick(command.millis)
            return yield* TestClock.adjust(command.millis)
          case "Shutdown":
            shutdowns.push(yield* tm.shutdown.pipe(Effect.forkChild({ startImmediately: true })))
            model.shutdown()
            return
        }
      })

    const step = (command: Command) =>
      Effect.gen(function*() {
        yield* run(command)
        yield* Effect.repeat(Effect.yieldNow, { times: 10 })
        yield* check
      })

    // If a check fails, stop every task at once and let the grace pass, so the run's scope can close and the
    // failure is reported (and shrunk) instead of waiting on a clock no one advances.
    yield* Effect.addFinalizer((exit) =>
      exit._tag === "Success" ? Effect.void : Effect.gen(function*() {
        const stopping = yield* tm.revokeAll({ graceful: false }).pipe(Effect.forkChild({ startImmediately: true }))
        yield* TestClock.adjust("1 second")
        yield* Fiber.await(stopping)
      })
    )

    for (const command of commands) yield* step(command)

    // Liveness: once the clock has passed every deadline the model knows, nothing it says has ended still runs.
    for (let deadline = model.lastDeadline(); deadline !== undefined; deadline = model.lastDeadline()) {
      yield* step({ _tag: "Tick", millis: deadline - model.now })
    }
    // The end: shut down (again: it is idempotent), let every grace period pass, and everything has settled.
    yield* step({ _tag: "Shutdown" })
    for (let deadline = model.lastDeadline(); deadline !== undefined; deadline = model.lastDeadline()) {
      yield* step({ _tag: "Tick", millis: deadline - model.now })
    }
    for (const fiber of shutdowns) yield* settled(fiber)
    for (const task of model.tasks.values()) expect(task.finishedAt, `task ${task.id} finished`).toBeDefined()
    // Every caller got the task's terminal record.
    for (const fiber of waiters) {
      const exit = yield* settled(fiber)
      if (Exit.isFailure(exit)) return expect.unreachable(`a revoke or await failed: ${exit.cause}`)
      const expected = model.tasks.get(exit.value.id)!
      expect([exit.value.state, exit.value.finishedAt]).toEqual([expected.state, expected.finishedAt])
      const seen = terminal.get(exit.value.id)
      if (seen !== undefined) expect(exit.value).toBe(seen)
    }
    for (const fiber of revokeAlls) {
      const exit = yield* settled(fiber)
      if (Exit.isFailure(exit)) return expect.unreachable("revokeAll failed")
      for (const record of exit.value) expect(record.state).toBe(model.tasks.get(record.id)!.state)
    }
    expect(alive.size).toBe(0)
    expect(yield* Effect.flip(tm.submit(Effect.void))).toBeInstanceOf(TaskErrors.TaskManagerClosed)
  })

/** Stops like a process that ignores SIGTERM: waits for the grace period, or less if the stop is forced. */
const stubborn = Effect.gen(function*() {
  const ctx = yield* TaskContext.TaskContext
  yield* Effect.addFinalizer(() =>
    Effect.suspend(() =>
      ctx.revocationUnsafe()?.graceful === false
        ? Effect.void
        : Effect.raceFirst(Effect.sleep(ctx.grace), ctx.forced)
    )
  )
  return yield* Effect.never
})

describe("model", () => {
  it.effect.prop(
    "after every step of any sequence of submits, revokes, ticks and shutdown, the manager is what the model says",
    { commands: Commands, shutdownAt: ShutdownAt, config: Config },
    ({ commands, config, shutdownAt }) => runCommands(commands, shutdownAt, config),
    { timeout: 300_000, arbitrary: { runs: 200, size: 60 } }
  )
})
