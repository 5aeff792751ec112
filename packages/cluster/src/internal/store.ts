/**
 * Every statement the cluster runs on its own tables. Each state change is a conditional update (it names the
 * state, attempt and runner incarnation it expects) and inserts its event in the same transaction only when
 * it changed a row: two processes racing for one task (a claim and a revoke, a runner's last write and a
 * survivor settling it as lost) can never both win, and the events tell what happened, once, in order.
 */
import { ProcessInfo, Revocation, TaskId, TaskState } from "@effect-tasks/core"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { SqlError } from "effect/sql/SqlError"
import { type ClusterEvent, toJsonString } from "../ClusterEvent.js"
import type { Attempt, ClusterTask, Outcome } from "../ClusterTask.js"
import type { Database } from "./database.js"

interface TaskRow {
  readonly id: number | string
  readonly name: string | null
  readonly job: string
  readonly payload: string
  readonly state: TaskState.TaskState
  readonly attempt: number | string
  readonly max_attempts: number | string
  readonly runner: string | null
  readonly incarnation: string | null
  readonly idempotency_key: string | null
  readonly submitted_at: number | string
  readonly started_at: number | string | null
  readonly finished_at: number | string | null
  readonly timeout_ms: number | string | null
  readonly grace_ms: number | string | null
  readonly revocation: string | null
  readonly outcome: string | null
  readonly error: string | null
  readonly processes: string
  readonly output: string | null
}

interface AttemptRow {
  readonly task_id: number | string
  readonly attempt: number | string
  readonly runner: string
  readonly started_at: number | string
  readonly finished_at: number | string | null
  readonly state: TaskState.TaskState | null
  readonly error: string | null
}

/** Ids come from the database's own sequence. */
const asTaskId = (n: number): TaskId.TaskId => n as TaskId.TaskId

const num = (value: number | string): number => typeof value === "number" ? value : Number(value)
const optNum = (value: number | string | null): number | undefined => value === null ? undefined : num(value)

const toAttempt = (row: AttemptRow): Attempt => ({
  attempt: num(row.attempt),
  runner: row.runner,
  startedAt: num(row.started_at),
  ...(row.finished_at === null ? {} : { finishedAt: num(row.finished_at) }),
  ...(row.state === null ? {} : { state: row.state }),
  ...(row.error === null ? {} : { error: row.error })
})

const toRecord = (row: TaskRow, attempts: ReadonlyArray<Attempt>): ClusterTask => {
  const startedAt = optNum(row.started_at)
  const finishedAt = optNum(row.finished_at)
  return {
    id: asTaskId(num(row.id)),
    name: row.name ?? `task-${num(row.id)}`,
    job: row.job,
    state: row.state,
    attempt: num(row.attempt),
    maxAttempts: num(row.max_attempts),
    ...(row.runner === null ? {} : { runner: row.runner }),
    ...(row.error === null ? {} : { error: row.error }),
    ...(row.outcome === null ? {} : { outcome: JSON.parse(row.outcome) as Outcome }),
    ...(row.idempotency_key === null ? {} : { idempotencyKey: row.idempotency_key }),
    submittedAt: num(row.submitted_at),
    ...(startedAt === undefined ? {} : { startedAt }),
    ...(finishedAt === undefined ? {} : { finishedAt }),
    ...(row.revocation === null ? {} : { revocation: JSON.parse(row.revocation) as Revocation.Revocation }),
    attempts,
    processes: JSON.parse(row.processes) as Array<ProcessInfo.ProcessInfo>
  }
}

/** What a runner needs to start a claimed attempt. */
export interface Claimed {
  readonly id: TaskId.TaskId
  readonly name: string
  readonly job: string
  readonly payload: string
  readonly attempt: number
  readonly maxAttempts: number
  readonly timeoutMillis: number | undefined
  readonly graceMillis: number | undefined
}

/** A new task as a submitter describes it. */
export interface NewTask {
  readonly name: string | undefined
  readonly job: string
  readonly payload: string
  readonly maxAttempts: number
  readonly idempotencyKey: string | undefined
  readonly timeoutMillis: number | undefined
  readonly graceMillis: number | undefined
  readonly at: number
}

/** A runner's end of an attempt. */
export interface Finish {
  readonly id: TaskId.TaskId
  readonly attempt: number
  readonly incarnation: string
  readonly runner: string
  readonly state: "SUCCESS" | "FAILURE" | "REVOKED"
  readonly outcome: Outcome
  readonly error: string | undefined
  readonly revocation: Revocation.Revocation | undefined
  readonly at: number
}

/** The statements, bound to one database. */
export const make = (db: Database) => {
  const { sql } = db
  const now = sql.literal(db.now)

  const appendEvent = (taskId: number | null, event: ClusterEvent) => db.appendEvent(taskId, toJsonString(event))

  const attemptsOf = (ids: ReadonlyArray<number>) =>
    ids.length === 0
      ? Effect.succeed(new Map<number, Array<Attempt>>())
      : Effect.map(
        sql<AttemptRow>`SELECT * FROM effect_tasks_attempts WHERE ${sql.in("task_id", ids)} ORDER BY task_id, attempt`,
        (rows) => {
          const map = new Map<number, Array<Attempt>>()
          for (const row of rows) {
            const id = num(row.task_id)
            let list = map.get(id)
            if (list === undefined) map.set(id, list = [])
            list.push(toAttempt(row))
          }
          return map
        }
      )

  const records = (rows: ReadonlyArray<TaskRow>) =>
    Effect.map(
      attemptsOf(rows.filter((row) => num(row.attempt) > 0).map((row) => num(row.id))),
      (attempts) => rows.map((row) => toRecord(row, attempts.get(num(row.id)) ?? []))
    )

  const get = (id: number): Effect.Effect<Option.Option<ClusterTask>, SqlError> =>
    Effect.flatMap(
      sql<TaskRow>`SELECT * FROM effect_tasks_tasks WHERE id = ${id}`,
      (rows) => rows.length === 0 ? Effect.succeed(Option.none()) : Effect.map(records(rows), (r) => Option.some(r[0]!))
    )

  const getMany = (ids: ReadonlyArray<number>): Effect.Effect<ReadonlyArray<ClusterTask>, SqlError> =>
    ids.length === 0
      ? Effect.succeed([])
      : Effect.flatMap(sql<TaskRow>`SELECT * FROM effect_tasks_tasks WHERE ${sql.in("id", ids)} ORDER BY id`, records)

  const list = (activeOnly: boolean): Effect.Effect<ReadonlyArray<ClusterTask>, SqlError> =>
    Effect.flatMap(
      activeOnly
        ? sql<TaskRow>`SELECT * FROM effect_tasks_tasks WHERE state IN ('QUEUED', 'RUNNING') ORDER BY id`
        : sql<TaskRow>`SELECT * FROM effect_tasks_tasks ORDER BY id`,
      records
    )

  /**
   * Inserts a task (or finds the one its idempotency key already names) and its `TaskSubmitted`; returns the new
   * record, or the id, job and payload of the existing task.
   */
  const insert = (task: NewTask): Effect.Effect<
    | { readonly existing: false; readonly record: ClusterTask }
    | { readonly existing: true; readonly id: TaskId.TaskId; readonly job: string; readonly payload: string },
    SqlError
  > =>
    // Two submits with one key may both find it free; the loser's insert breaks the key's uniqueness, and its
    // second try finds the winner's task.
    Effect.catchIf(
      insertOnce(task),
      (error) => task.idempotencyKey !== undefined && error.reason._tag === "UniqueViolation",
      () => insertOnce(task)
    )

  const insertOnce = (task: NewTask) =>
    db.write(Effect.gen(function*() {
      if (task.idempotencyKey !== undefined) {
        const found = yield* sql<{ id: number | string; job: string; payload: string }>`
          SELECT id, job, payload FROM effect_tasks_tasks WHERE idempotency_key = ${task.idempotencyKey}`
        const row = found[0]
        if (row !== undefined) {
          return { existing: true as const, id: asTaskId(num(row.id)), job: row.job, payload: row.payload }
        }
      }
      const rows = yield* sql<TaskRow>`
        INSERT INTO effect_tasks_tasks
          (name, job, payload, state, max_attempts, idempotency_key, submitted_at, timeout_ms, grace_ms)
        VALUES (${task.name ?? null}, ${task.job}, ${task.payload}, 'QUEUED', ${task.maxAttempts},
          ${task.idempotencyKey ?? null}, ${task.at}, ${task.timeoutMillis ?? null}, ${task.graceMillis ?? null})
        RETURNING *`
      const record = toRecord(rows[0]!, [])
      yield* appendEvent(record.id, {
        _tag: "TaskSubmitted",
        id: record.id,
        name: record.name,
        mode: task.job,
        state: "QUEUED",
        at: task.at
      })
      return { existing: false as const, record }
    }))

  /** QUEUED task ids, oldest first. */
  const queued = (limit: number, jobs: ReadonlyArray<string>) =>
    Effect.map(
      sql<{ id: number | string }>`
        SELECT id FROM effect_tasks_tasks WHERE state = 'QUEUED' AND ${sql.in("job", jobs)} ORDER BY id LIMIT ${limit}`,
      (rows) => rows.map((row) => asTaskId(num(row.id)))
    )

  /** Starts the next attempt of each QUEUED task among `ids` on this runner; returns those it won. */
  const claim = (
    ids: ReadonlyArray<TaskId.TaskId>,
    jobs: ReadonlyArray<string>,
    runner: string,
    incarnation: string,
    at: number
  ) =>
    db.write(Effect.gen(function*() {
      const won: Array<Claimed> = []
      for (const id of ids) {
        const rows = yield* sql<TaskRow>`
          UPDATE effect_tasks_tasks
          SET state = 'RUNNING', attempt = attempt + 1, runner = ${runner}, incarnation = ${incarnation},
            started_at = COALESCE(started_at, ${at})
          WHERE id = ${id} AND state = 'QUEUED' AND ${sql.in("job", jobs)}
          RETURNING *`
        const row = rows[0]
        if (row === undefined) continue
        const attempt = num(row.attempt)
        yield* sql`
          INSERT INTO effect_tasks_attempts (task_id, attempt, runner, started_at)
          VALUES (${id}, ${attempt}, ${runner}, ${at})`
        yield* appendEvent(id, { _tag: "TaskStarted", id, at, attempt, runner })
        won.push({
          id,
          name: row.name ?? `task-${id}`,
          job: row.job,
          payload: row.payload,
          attempt,
          maxAttempts: num(row.max_attempts),
          timeoutMillis: optNum(row.timeout_ms),
          graceMillis: optNum(row.grace_ms)
        })
      }
      return won
    }))

  const finishAttempt = (
    id: TaskId.TaskId,
    attempt: number,
    state: TaskState.TaskState,
    error: string | undefined,
    at: number
  ) =>
    sql`
      UPDATE effect_tasks_attempts SET finished_at = ${at}, state = ${state}, error = ${error ?? null}
      WHERE task_id = ${id} AND attempt = ${attempt}`

  /** Ends attempts as their runner saw them end; an attempt settled meanwhile by someone else is left alone. */
  const finish = (finishes: ReadonlyArray<Finish>) =>
    db.write(Effect.gen(function*() {
      for (const f of finishes) {
        const rows = yield* sql<{ id: number | string }>`
          UPDATE effect_tasks_tasks
          SET state = ${f.state}, finished_at = ${f.at}, outcome = ${JSON.stringify(f.outcome)},
            error = ${f.error ?? null}, revocation = ${f.revocation === undefined ? null : JSON.stringify(f.revocation)}
          WHERE id = ${f.id} AND attempt = ${f.attempt} AND incarnation = ${f.incarnation} AND state = 'RUNNING'
          RETURNING id`
        if (rows.length === 0) continue
        yield* finishAttempt(f.id, f.attempt, f.state, f.error, f.at)
        yield* appendEvent(f.id, {
          _tag: "TaskFinished",
          id: f.id,
          state: f.state,
          at: f.at,
          attempt: f.attempt,
          runner: f.runner,
          ...(f.revocation === undefined ? {} : { revocation: f.revocation }),
          ...(f.error === undefined ? {} : { error: f.error })
        })
      }
    }))

  /**
   * Settles an attempt whose runner is gone: QUEUED again for the next attempt when attempts remain (and no
   * revoke asked it to stop), else FAILURE with `RunnerLost` (REVOKED if a revoke was asked for: the attempt's
   * processes died with their runner, which is what the revoke wanted).
   */
  const settleLost = (
    id: TaskId.TaskId,
    attempt: number,
    incarnation: string,
    runner: string,
    reason: "lost" | "drained",
    at: number
  ) =>
    Effect.gen(function*() {
      const rows = yield* sql<TaskRow>`
        SELECT * FROM effect_tasks_tasks
        WHERE id = ${id} AND attempt = ${attempt} AND incarnation = ${incarnation} AND state = 'RUNNING'`
      const row = rows[0]
      if (row === undefined) return false
      const lost = { _tag: "RunnerLost" as const, runner, attempt, reason }
      const error = reason === "drained"
        ? `RunnerLost: runner ${runner} stopped before attempt ${attempt} finished (drain time ran out)`
        : `RunnerLost: runner ${runner} was lost during attempt ${attempt}`
      const revoked = row.revocation !== null
      if (!revoked && attempt < num(row.max_attempts)) {
        yield* sql`
          UPDATE effect_tasks_tasks SET state = 'QUEUED', runner = NULL, incarnation = NULL
          WHERE id = ${id} AND attempt = ${attempt} AND incarnation = ${incarnation} AND state = 'RUNNING'`
        yield* finishAttempt(id, attempt, "FAILURE", error, at)
        yield* appendEvent(id, { _tag: "TaskRetrying", id, attempt, runner, error, at })
        return true
      }
      const state = revoked ? "REVOKED" as const : "FAILURE" as const
      const revocation = revoked ? JSON.parse(row.revocation!) as Revocation.Revocation : undefined
      yield* sql`
        UPDATE effect_tasks_tasks
        SET state = ${state}, finished_at = ${at}, outcome = ${JSON.stringify(revoked ? { _tag: "Revoked" } : lost)},
          error = ${revoked ? null : error}
        WHERE id = ${id} AND attempt = ${attempt} AND incarnation = ${incarnation} AND state = 'RUNNING'`
      yield* finishAttempt(id, attempt, state, error, at)
      yield* appendEvent(id, {
        _tag: "TaskFinished",
        id,
        state,
        at,
        attempt,
        runner,
        ...(revocation === undefined ? {} : { revocation }),
        ...(revoked ? {} : { error })
      })
      return true
    })

  /**
   * Asks a task to stop. A QUEUED task is REVOKED at once; a RUNNING one gets its revocation recorded (its
   * runner sees the `TaskRevoking` and stops it); a non-graceful revoke upgrades a graceful one.
   */
  const revoke = (id: number, revocation: Revocation.Revocation, at: number) =>
    db.write(Effect.gen(function*() {
      const rows = yield* sql<TaskRow>`SELECT * FROM effect_tasks_tasks WHERE id = ${id}`
      const row = rows[0]
      if (row === undefined) return false
      const taskId = asTaskId(num(row.id))
      if (row.state === "QUEUED") {
        yield* sql`
          UPDATE effect_tasks_tasks
          SET state = 'REVOKED', finished_at = ${at}, revocation = ${JSON.stringify(revocation)},
            outcome = ${JSON.stringify({ _tag: "Revoked" })}
          WHERE id = ${id} AND state = 'QUEUED'`
        yield* appendEvent(taskId, {
          _tag: "TaskFinished",
          id: taskId,
          state: "REVOKED",
          at,
          attempt: num(row.attempt),
          revocation
        })
        return true
      }
      if (row.state !== "RUNNING") return true
      const previous = row.revocation === null ? undefined : JSON.parse(row.revocation) as Revocation.Revocation
      const next = previous === undefined
        ? revocation
        : previous.graceful && !revocation.graceful
        ? { ...previous, graceful: false }
        : undefined
      if (next === undefined) return true
      yield* sql`
        UPDATE effect_tasks_tasks SET revocation = ${JSON.stringify(next)} WHERE id = ${id} AND state = 'RUNNING'`
      yield* appendEvent(taskId, { _tag: "TaskRevoking", id: taskId, revocation: next, at })
      return true
    }))

  /** Records a revocation a runner decided itself (a timeout), with its `TaskRevoking`. */
  const revokedLocally = (
    id: TaskId.TaskId,
    attempt: number,
    incarnation: string,
    revocation: Revocation.Revocation,
    at: number
  ) =>
    Effect.gen(function*() {
      const rows = yield* sql<{ id: number | string }>`
        UPDATE effect_tasks_tasks SET revocation = ${JSON.stringify(revocation)}
        WHERE id = ${id} AND attempt = ${attempt} AND incarnation = ${incarnation} AND state = 'RUNNING'
        RETURNING id`
      if (rows.length > 0) yield* appendEvent(id, { _tag: "TaskRevoking", id, revocation, at })
    })

  /** Saves a running attempt's processes, with their events. */
  const processes = (
    id: TaskId.TaskId,
    attempt: number,
    incarnation: string,
    list: ReadonlyArray<ProcessInfo.ProcessInfo>,
    events: ReadonlyArray<ClusterEvent>
  ) =>
    Effect.gen(function*() {
      const rows = yield* sql<{ id: number | string }>`
        UPDATE effect_tasks_tasks SET processes = ${JSON.stringify(list)}
        WHERE id = ${id} AND attempt = ${attempt} AND incarnation = ${incarnation} AND state = 'RUNNING'
        RETURNING id`
      if (rows.length === 0) return
      for (const event of events) yield* appendEvent(id, event)
    })

  /** Saves the output tail of an attempt (plain update: the tail only grows while the attempt runs). */
  const output = (id: TaskId.TaskId, attempt: number, tail: string, events: ReadonlyArray<ClusterEvent>) =>
    Effect.gen(function*() {
      const rows = yield* sql<{ id: number | string }>`
        UPDATE effect_tasks_tasks SET output = ${tail} WHERE id = ${id} AND attempt = ${attempt} RETURNING id`
      if (rows.length === 0) return
      for (const event of events) yield* appendEvent(id, event)
    })

  const outputOf = (id: number) =>
    Effect.map(
      sql<{ output: string | null }>`SELECT output FROM effect_tasks_tasks WHERE id = ${id}`,
      (rows) => rows.length === 0 ? Option.none() : Option.some(rows[0]!.output)
    )

  /** Events after `seq`, in order. */
  const eventsAfter = (seq: number, limit: number) =>
    Effect.map(
      sql<{ seq: number | string; event: string }>`
        SELECT seq, event FROM effect_tasks_events WHERE seq > ${seq} ORDER BY seq LIMIT ${limit}`,
      (rows) => rows.map((row) => ({ seq: num(row.seq), event: row.event }))
    )

  const lastSeq = Effect.map(
    sql<{ seq: number | string | null }>`SELECT MAX(seq) AS seq FROM effect_tasks_events`,
    (rows) => num(rows[0]?.seq ?? 0)
  )

  /** Registers a runner under a new incarnation; a previous incarnation at the same address is dead. */
  const register = (address: string, incarnation: string, hostname: string, at: number) =>
    db.write(Effect.gen(function*() {
      const previous = yield* sql<{ incarnation: string; state: string }>`
        SELECT incarnation, state FROM effect_tasks_runners WHERE address = ${address}`
      // The address is this process's listening socket, so whoever held it before is gone.
      const orphaned = previous[0] !== undefined && previous[0].state !== "stopped"
        ? yield* settleIncarnation(previous[0].incarnation, address, "lost", at)
        : 0
      yield* sql`DELETE FROM effect_tasks_runners WHERE address = ${address}`
      yield* sql`
        INSERT INTO effect_tasks_runners (address, incarnation, state, pid, hostname, started_at, heartbeat_at)
        VALUES (${address}, ${incarnation}, 'active', ${process.pid}, ${hostname}, ${at}, ${now})`
      yield* db.notify
      return orphaned
    }))

  const settleIncarnation = (incarnation: string, runner: string, reason: "lost" | "drained", at: number) =>
    Effect.gen(function*() {
      const running = yield* sql<{ id: number | string; attempt: number | string }>`
        SELECT id, attempt FROM effect_tasks_tasks WHERE incarnation = ${incarnation} AND state = 'RUNNING'`
      let settled = 0
      for (const row of running) {
        if (yield* settleLost(asTaskId(num(row.id)), num(row.attempt), incarnation, runner, reason, at)) settled++
      }
      return settled
    })

  /** Refreshes a runner's heartbeat with the database's clock; `undefined` once it is no longer registered. */
  const heartbeat = (address: string, incarnation: string) =>
    Effect.map(
      sql<{ state: string }>`
        UPDATE effect_tasks_runners SET heartbeat_at = ${now}
        WHERE address = ${address} AND incarnation = ${incarnation} AND state IN ('active', 'draining')
        RETURNING state`,
      (rows) => rows[0]?.state
    )

  const setRunnerState = (address: string, incarnation: string, state: "draining" | "stopped") =>
    Effect.andThen(
      sql`UPDATE effect_tasks_runners SET state = ${state} WHERE address = ${address} AND incarnation = ${incarnation}`,
      db.notify
    )

  /** Declares lost every runner silent for `timeoutMillis` and settles its tasks; returns how many tasks. */
  const reapLost = (timeoutMillis: number, at: number) =>
    Effect.gen(function*() {
      const silent = yield* sql<{ address: string; incarnation: string }>`
        SELECT address, incarnation FROM effect_tasks_runners
        WHERE state IN ('active', 'draining') AND heartbeat_at < ${now} - ${timeoutMillis}`
      let settled = 0
      for (const runner of silent) {
        settled += yield* db.write(Effect.gen(function*() {
          const marked = yield* sql<{ address: string }>`
            UPDATE effect_tasks_runners SET state = 'lost'
            WHERE address = ${runner.address} AND incarnation = ${runner.incarnation}
              AND state IN ('active', 'draining') AND heartbeat_at < ${now} - ${timeoutMillis}
            RETURNING address`
          if (marked.length === 0) return 0
          return yield* settleIncarnation(runner.incarnation, runner.address, "lost", at)
        }))
      }
      // Tasks started by an incarnation that is no longer registered at all (its row was replaced).
      const stray = yield* sql<{ id: number | string; attempt: number | string; incarnation: string; runner: string }>`
        SELECT t.id, t.attempt, t.incarnation, t.runner FROM effect_tasks_tasks t
        WHERE t.state = 'RUNNING' AND NOT EXISTS (
          SELECT 1 FROM effect_tasks_runners r
          WHERE r.incarnation = t.incarnation AND r.state IN ('active', 'draining'))`
      for (const row of stray) {
        const done = yield* db.write(
          settleLost(asTaskId(num(row.id)), num(row.attempt), row.incarnation, row.runner, "lost", at)
        )
        if (done) settled++
      }
      return settled
    })

  /** Revocations recorded for the running attempts of an incarnation. */
  const revocationsOf = (incarnation: string) =>
    Effect.map(
      sql<{ id: number | string; revocation: string }>`
        SELECT id, revocation FROM effect_tasks_tasks
        WHERE incarnation = ${incarnation} AND state = 'RUNNING' AND revocation IS NOT NULL`,
      (rows) =>
        rows.map((row) => ({
          id: asTaskId(num(row.id)),
          revocation: JSON.parse(row.revocation) as Revocation.Revocation
        }))
    )

  /** The running attempts the database gives an incarnation. */
  const runningOf = (incarnation: string) =>
    Effect.map(
      sql<{ id: number | string; attempt: number | string }>`
        SELECT id, attempt FROM effect_tasks_tasks WHERE incarnation = ${incarnation} AND state = 'RUNNING'`,
      (rows) => rows.map((row) => ({ id: asTaskId(num(row.id)), attempt: num(row.attempt) }))
    )

  /**
   * Gives back an attempt its runner claimed but never started (the claim committed, its answer was lost): QUEUED
   * again, the attempt ended as FAILURE with the reason, and a `TaskRetrying` event. The job never ran, so this
   * holds under any delivery policy.
   */
  const releaseUnstarted = (id: TaskId.TaskId, attempt: number, incarnation: string, runner: string, at: number) =>
    db.write(Effect.gen(function*() {
      const rows = yield* sql<{ id: number | string }>`
        UPDATE effect_tasks_tasks SET state = 'QUEUED', runner = NULL, incarnation = NULL
        WHERE id = ${id} AND attempt = ${attempt} AND incarnation = ${incarnation} AND state = 'RUNNING'
        RETURNING id`
      if (rows.length === 0) return false
      const error = `runner ${runner} never started attempt ${attempt} (the answer to its claim was lost)`
      yield* finishAttempt(id, attempt, "FAILURE", error, at)
      yield* appendEvent(id, { _tag: "TaskRetrying", id, attempt, runner, error, at })
      return true
    }))

  /** Drops the oldest terminal tasks beyond `retain`, their attempts, and the events before the oldest kept. */
  const prune = (retain: number) =>
    db.write(Effect.gen(function*() {
      const cut = yield* sql<{ id: number | string }>`
        SELECT id FROM effect_tasks_tasks WHERE state IN ('SUCCESS', 'FAILURE', 'REVOKED')
        ORDER BY id DESC LIMIT 1 OFFSET ${retain}`
      if (cut.length === 0) return 0
      const below = num(cut[0]!.id)
      const gone = yield* sql<{ id: number | string }>`
        DELETE FROM effect_tasks_tasks WHERE id <= ${below} AND state IN ('SUCCESS', 'FAILURE', 'REVOKED')
        RETURNING id`
      yield* sql`DELETE FROM effect_tasks_attempts WHERE task_id <= ${below}
        AND task_id NOT IN (SELECT id FROM effect_tasks_tasks)`
      yield* sql`DELETE FROM effect_tasks_events WHERE task_id <= ${below}
        AND task_id NOT IN (SELECT id FROM effect_tasks_tasks)`
      return gone.length
    }))

  return {
    appendEvent,
    get,
    getMany,
    list,
    insert,
    queued,
    claim,
    finish,
    settleLost,
    settleIncarnation,
    revoke,
    revokedLocally,
    processes,
    output,
    outputOf,
    eventsAfter,
    lastSeq,
    register,
    heartbeat,
    setRunnerState,
    reapLost,
    revocationsOf,
    runningOf,
    releaseUnstarted,
    prune
  }
}

/** The statements of one database. */
export type Store = ReturnType<typeof make>
