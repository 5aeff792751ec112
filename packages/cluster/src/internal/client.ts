/**
 * The cluster client behind `ClusterTasks`: SQL through the store, waits and subscriptions through the process's
 * one reader of the events table.
 */
import { TaskErrors, TaskId, TaskManager, TaskState } from "@effect-tasks/core"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { SqlError } from "effect/sql/SqlError"
import * as Stream from "effect/Stream"
import { IdempotencyConflict, InvalidDatabaseUrl, InvalidSubmit, RunnerLost, StorageError } from "../ClusterError.js"
import type { ClusterEvent } from "../ClusterEvent.js"
import type { ClusterTask } from "../ClusterTask.js"
import type { ClusterTasksShape, SubmitOptions, TaskOutputTail } from "../ClusterTasks.js"
import type * as Job from "../Job.js"
import * as Database from "./database.js"
import * as Store from "./store.js"
import * as Tail from "./tail.js"

const storage = (operation: string) => (error: SqlError) => new StorageError({ operation, cause: error })

const encodeJson = <S extends Job.JsonSchema>(schema: S, value: unknown) =>
  Effect.map(Schema.encodeUnknownEffect(Schema.toCodecJson(schema))(value), (json) => JSON.stringify(json))

const decodeJson = <S extends Job.JsonSchema>(schema: S, json: unknown) =>
  Schema.decodeUnknownEffect(Schema.toCodecJson(schema))(json) as Effect.Effect<S["Type"], Schema.SchemaError>

/** The payload of a submit, checked and encoded by the job's schema. */
export const encodePayload = <J extends Job.Any>(job: J, payload: unknown): Effect.Effect<string, InvalidSubmit> =>
  encodeJson(job.payload, payload).pipe(
    Effect.mapError((error) => new InvalidSubmit({ job: job.name, reason: error.message }))
  )

/** Builds the client over the database service; `onShutdown` is what `shutdown` adds (a runner's drain). */
export const make = (options: {
  readonly eventBuffer?: number | undefined
  readonly onShutdown?: Effect.Effect<void> | undefined
} = {}): Effect.Effect<ClusterTasksShape, never, Database.DatabaseService | Scope.Scope> =>
  Effect.gen(function*() {
    const db = yield* Database.DatabaseService
    const store = Store.make(db)
    const tail = yield* Tail.make(db, store)
    const eventBuffer = Math.max(2, options.eventBuffer ?? 4096)
    let closed = false

    // Waiters of `await`, woken by the TaskFinished of their task.
    const finishWaiters = new Map<number, Set<() => void>>()
    yield* tail.listen((batch) => {
      for (const { event } of batch) {
        if (event._tag !== "TaskFinished") continue
        const waiters = finishWaiters.get(event.id)
        if (waiters === undefined) continue
        finishWaiters.delete(event.id)
        for (const wake of waiters) wake()
      }
    })

    const get = (id: TaskId.TaskId) =>
      store.get(id).pipe(
        Effect.mapError(storage("get")),
        Effect.flatMap(Option.match({
          onNone: () => Effect.fail(new TaskErrors.TaskNotFound({ id })),
          onSome: Effect.succeed
        }))
      )

    const awaitTask = (id: TaskId.TaskId): Effect.Effect<ClusterTask, TaskErrors.TaskNotFound | StorageError> =>
      Effect.gen(function*() {
        while (true) {
          // Registered before reading, so a finish committed after the read still wakes us.
          const finished = yield* Deferred.make<void>()
          const wake = () => Deferred.doneUnsafe(finished, Effect.void)
          let waiters = finishWaiters.get(id)
          if (waiters === undefined) finishWaiters.set(id, waiters = new Set())
          waiters.add(wake)
          const current = yield* get(id).pipe(Effect.onError(() => Effect.sync(() => waiters.delete(wake))))
          if (TaskState.isTerminal(current.state)) {
            waiters.delete(wake)
            return current
          }
          yield* Deferred.await(finished).pipe(Effect.onInterrupt(() => Effect.sync(() => waiters.delete(wake))))
        }
      })

    const submit = <J extends Job.Any>(job: J, payload: Job.Payload<J>, submitOptions?: SubmitOptions) =>
      Effect.gen(function*() {
        if (closed) return yield* new TaskErrors.TaskManagerClosed()
        const encoded = yield* encodePayload(job, payload)
        const maxAttempts = submitOptions?.retry?.maxAttempts ?? 1
        if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
          return yield* new InvalidSubmit({ job: job.name, reason: `retry.maxAttempts must be an integer >= 1` })
        }
        const millis = (input: Duration.Input | undefined, what: string) => {
          if (input === undefined) return Effect.succeed(undefined)
          const duration = Duration.fromInput(input)
          return Option.isSome(duration) && Duration.isFinite(duration.value)
            ? Effect.succeed(Duration.toMillis(duration.value))
            : Effect.fail(new InvalidSubmit({ job: job.name, reason: `invalid ${what}` }))
        }
        const timeoutMillis = yield* millis(submitOptions?.timeout, "timeout")
        const graceMillis = yield* millis(submitOptions?.grace, "grace")
        const at = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
        const inserted = yield* store.insert({
          name: submitOptions?.name,
          job: job.name,
          payload: encoded,
          maxAttempts,
          idempotencyKey: submitOptions?.idempotencyKey,
          timeoutMillis,
          graceMillis,
          at
        }).pipe(Effect.mapError(storage("submit")))
        if (!inserted.existing) {
          db.wakeLocal()
          return inserted.record as ClusterTask<Job.Success<J>, Job.Error<J>>
        }
        if (inserted.job !== job.name || inserted.payload !== encoded) {
          return yield* new IdempotencyConflict({ key: submitOptions!.idempotencyKey!, id: inserted.id })
        }
        return (yield* get(inserted.id).pipe(
          Effect.catchTag("TaskNotFound", (e) => Effect.die(e))
        )) as ClusterTask<Job.Success<J>, Job.Error<J>>
      })

    const join = <J extends Job.Any>(job: J, task: { readonly id: TaskId.TaskId }) =>
      Effect.flatMap(awaitTask(task.id), (record): Effect.Effect<
        Job.Success<J>,
        Job.Error<J> | TaskErrors.TaskRevoked | RunnerLost | StorageError
      > => {
        const outcome = record.outcome
        if (outcome === undefined) return Effect.die(new Error(`task ${record.id} ended without an outcome`))
        switch (outcome._tag) {
          case "Success":
            return Effect.orDie(decodeJson(job.success, outcome.value))
          case "Failure":
            return Effect.flatMap(Effect.orDie(decodeJson(job.error, outcome.error)), Effect.fail)
          case "Defect":
            return Effect.die(new Error(outcome.message))
          case "Revoked":
            return Effect.fail(
              new TaskErrors.TaskRevoked({ id: record.id, reason: record.revocation?.reason ?? "user" })
            )
          case "RunnerLost":
            return Effect.fail(
              new RunnerLost({ runner: outcome.runner, attempt: outcome.attempt, reason: outcome.reason })
            )
        }
      })

    const revoke = (id: TaskId.TaskId, revokeOptions?: TaskManager.RevokeOptions) =>
      Effect.gen(function*() {
        const at = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
        const found = yield* store.revoke(
          id,
          { reason: revokeOptions?.reason?.trim() || "user", graceful: revokeOptions?.graceful ?? true },
          at
        ).pipe(
          Effect.mapError(storage("revoke"))
        )
        if (!found) return yield* new TaskErrors.TaskNotFound({ id })
        db.wakeLocal()
        return yield* awaitTask(id)
      }).pipe(Effect.withSpan("ClusterTasks.revoke"))

    const list = (activeOnly: boolean) =>
      Effect.mapError(store.list(activeOnly), storage(activeOnly ? "active" : "list"))

    const subscribe = Effect.gen(function*() {
      const from = yield* Effect.mapError(store.lastSeq, storage("subscribe"))
      const queue = yield* Effect.acquireRelease(Queue.make<ClusterEvent>(), (queue) => Queue.shutdown(queue))
      let dropped = 0
      yield* tail.listen((batch) => {
        for (const { event, seq } of batch) {
          if (seq <= from) continue
          if (Queue.sizeUnsafe(queue) >= eventBuffer) {
            dropped++
            continue
          }
          if (dropped > 0) {
            Queue.offerUnsafe(queue, { _tag: "EventsDropped", count: dropped })
            dropped = 0
          }
          Queue.offerUnsafe(queue, event)
        }
      })
      return Stream.fromQueue(queue)
    })

    const service: ClusterTasksShape = {
      submit: (job, payload, submitOptions) =>
        submit(job, payload, submitOptions).pipe(Effect.withSpan("ClusterTasks.submit")),
      get,
      await: awaitTask,
      join,
      run: (job, payload, runOptions) =>
        Effect.uninterruptibleMask((restore) =>
          Effect.flatMap(
            submit(job, payload, runOptions),
            (task) => restore(join(job, task)).pipe(Effect.onInterrupt(() => Effect.ignore(revoke(task.id))))
          )
        ),
      revoke,
      revokeAll: (revokeOptions) =>
        Effect.flatMap(
          list(true),
          (tasks) =>
            Effect.forEach(tasks, (task) => revoke(task.id, revokeOptions).pipe(Effect.option), {
              concurrency: "unbounded"
            })
        ).pipe(
          Effect.map((records) =>
            records.flatMap((r) => Option.isSome(r) ? [r.value] : []).toSorted((a, b) => a.id - b.id)
          )
        ),
      active: list(true),
      list: list(false),
      events: Stream.unwrap(subscribe),
      subscribe,
      output: (id) =>
        store.outputOf(id).pipe(
          Effect.mapError(storage("output")),
          Effect.flatMap(Option.match({
            onNone: () => Effect.fail(new TaskErrors.TaskNotFound({ id })),
            onSome: (json) =>
              Effect.succeed(
                json === null
                  ? { stdout: "", stderr: "", droppedStdout: 0, droppedStderr: 0 }
                  : JSON.parse(json) as TaskOutputTail
              )
          }))
        ),
      shutdown: Effect.suspend(() => {
        closed = true
        return options.onShutdown ?? Effect.void
      })
    }
    return service
  })

/** Parses a database URL. */
export const parseDatabaseUrl = (url: string): Effect.Effect<Database.DatabaseUrl, InvalidDatabaseUrl> => {
  const parsed = Database.parseUrl(url)
  return parsed === undefined ? Effect.fail(new InvalidDatabaseUrl({ url })) : Effect.succeed(parsed)
}

/** The database of a URL as a layer (migrated, with its change feed). */
export const databaseLayer = (url: string): Layer.Layer<Database.DatabaseService, InvalidDatabaseUrl | StorageError> =>
  Layer.unwrap(Effect.map(parseDatabaseUrl(url), (parsed) =>
    Database.layer(parsed).pipe(
      Layer.catchTag(
        "SqlError",
        (error) => Layer.effect(Database.DatabaseService, Effect.fail(storage("connect")(error)))
      )
    )))
