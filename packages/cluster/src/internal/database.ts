/**
 * The database a cluster shares: the URL parser, the SQL client for each dialect, our own tables, and the
 * change feed that wakes every process of the cluster within milliseconds of a commit anywhere (inotify on
 * the SQLite file's directory, LISTEN/NOTIFY on Postgres), with a slow poll underneath in case a wake-up
 * is lost.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { mkdirSync, watch } from "node:fs"
import { basename, dirname, resolve } from "node:path"
import * as SqliteClient from "../SqliteClient.js"

/** Where a cluster keeps its state: `sqlite:<path>` or `postgres://...`. */
export type DatabaseUrl =
  | { readonly _tag: "sqlite"; readonly filename: string }
  | { readonly _tag: "pg"; readonly url: string }

/** Parses a database URL; `undefined` for anything that is neither form. */
export const parseUrl = (url: string): DatabaseUrl | undefined => {
  if (url.startsWith("sqlite:")) {
    const rest = url.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "")
    return rest.length === 0 ? undefined : { _tag: "sqlite", filename: rest === ":memory:" ? rest : resolve(rest) }
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) return { _tag: "pg", url }
  return undefined
}

/** The shared database: its client, dialect and the few statements that differ per dialect. */
export interface Database {
  readonly sql: SqlClient.SqlClient
  readonly dialect: "sqlite" | "pg"
  /** The database's clock in epoch milliseconds, as an SQL expression (one clock for every machine). */
  readonly now: string
  /** Runs `effect` as a write transaction. */
  readonly write: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | SqlError, R>
  /**
   * Appends an event (JSON) inside the current write. Events become visible in sequence order, and the commit
   * wakes every process's change feed.
   */
  readonly appendEvent: (taskId: number | null, json: string) => Effect.Effect<void, SqlError>
  /** Wakes every process's change feed once the current write commits (where appending an event does not). */
  readonly notify: Effect.Effect<void, SqlError>
  /** Wakes this process's own change feed (after its own commit). */
  readonly wakeLocal: () => void
  /**
   * A wake-up subscription for one reader: the effect it returns completes at the next change anywhere in the
   * cluster after the previous call (or after the poll interval). Changes between two calls are one wake-up.
   */
  readonly subscribe: Effect.Effect<Effect.Effect<void>, never, Scope.Scope>
}

/** The database service. */
export class DatabaseService extends Context.Service<DatabaseService, Database>()("@effect-tasks/cluster/Database") {}

const CHANNEL = "effect_tasks"
// Any 64-bit constant: the lock that puts event-writing transactions of Postgres in commit order.
const EVENTS_LOCK = 7_171_203_115

const schema = (dialect: "sqlite" | "pg"): ReadonlyArray<string> => {
  const serial = dialect === "pg" ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT"
  return [
    `CREATE TABLE IF NOT EXISTS effect_tasks_tasks (
      id ${serial},
      name TEXT,
      job TEXT NOT NULL,
      payload TEXT NOT NULL,
      state TEXT NOT NULL,
      attempt INTEGER NOT NULL DEFAULT 0,
      max_attempts INTEGER NOT NULL DEFAULT 1,
      runner TEXT,
      incarnation TEXT,
      idempotency_key TEXT UNIQUE,
      submitted_at BIGINT NOT NULL,
      started_at BIGINT,
      finished_at BIGINT,
      timeout_ms BIGINT,
      grace_ms BIGINT,
      revocation TEXT,
      outcome TEXT,
      error TEXT,
      processes TEXT NOT NULL DEFAULT '[]',
      output TEXT
    )`,
    `CREATE INDEX IF NOT EXISTS effect_tasks_tasks_state ON effect_tasks_tasks (state, id)`,
    `CREATE INDEX IF NOT EXISTS effect_tasks_tasks_incarnation ON effect_tasks_tasks (incarnation, state)`,
    `CREATE TABLE IF NOT EXISTS effect_tasks_attempts (
      task_id BIGINT NOT NULL,
      attempt INTEGER NOT NULL,
      runner TEXT NOT NULL,
      started_at BIGINT NOT NULL,
      finished_at BIGINT,
      state TEXT,
      error TEXT,
      PRIMARY KEY (task_id, attempt)
    )`,
    `CREATE TABLE IF NOT EXISTS effect_tasks_events (
      seq ${serial},
      task_id BIGINT,
      event TEXT NOT NULL
    )`,
    `CREATE TABLE IF NOT EXISTS effect_tasks_runners (
      address TEXT PRIMARY KEY,
      incarnation TEXT NOT NULL,
      state TEXT NOT NULL,
      pid INTEGER,
      hostname TEXT,
      started_at BIGINT NOT NULL,
      heartbeat_at BIGINT NOT NULL
    )`
  ]
}

const migrate = (sql: SqlClient.SqlClient, dialect: "sqlite" | "pg") =>
  Effect.gen(function*() {
    // Several processes may start at once: Postgres's CREATE ... IF NOT EXISTS races on its catalog without
    // a lock, and SQLite's BEGIN IMMEDIATE serializes the writers anyway.
    if (dialect === "pg") yield* sql.unsafe(`SELECT pg_advisory_xact_lock(${EVENTS_LOCK + 1})`)
    for (const statement of schema(dialect)) yield* sql.unsafe(statement)
  }).pipe(sql.withTransaction)

/** Wake-ups fanned out to every reader: each has a sliding queue of one, so a burst of changes is one wake-up. */
const makeSignal = (poll: Duration.Input) => {
  const readers = new Set<Queue.Queue<void>>()
  const wake = () => {
    for (const queue of readers) Queue.offerUnsafe(queue, undefined)
  }
  const subscribe = Effect.acquireRelease(
    Effect.tap(Queue.sliding<void>(1), (queue) => Effect.sync(() => readers.add(queue))),
    (queue) => Effect.sync(() => readers.delete(queue))
  ).pipe(Effect.map((queue) => Effect.raceFirst(Queue.take(queue), Effect.sleep(poll))))
  return { wake, subscribe }
}

const sqlite = (filename: string, poll: Duration.Input): Layer.Layer<DatabaseService, SqlError> =>
  Layer.effect(
    DatabaseService,
    Effect.gen(function*() {
      if (filename !== ":memory:") mkdirSync(dirname(filename), { recursive: true })
      const sql = yield* SqliteClient.make({ filename })
      yield* migrate(sql, "sqlite")
      const signal = makeSignal(poll)
      if (filename !== ":memory:") {
        // Every commit of any process writes the `-wal` file; inotify on the directory sees that within
        // microseconds, and keeps working when SQLite deletes and recreates the file.
        const base = basename(filename)
        yield* Effect.acquireRelease(
          Effect.sync(() =>
            watch(dirname(filename), { persistent: false }, (_event, name) => {
              if (name === null || String(name).startsWith(base)) signal.wake()
            })
          ),
          (watcher) => Effect.sync(() => watcher.close())
        )
      }
      return {
        sql,
        dialect: "sqlite" as const,
        now: "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
        write: sql.withTransaction,
        // SQLite has one writer at a time, so sequence order is commit order; the commit itself wakes the feed.
        appendEvent: (taskId, json) =>
          Effect.asVoid(sql`INSERT INTO effect_tasks_events (task_id, event) VALUES (${taskId}, ${json})`),
        notify: Effect.void,
        wakeLocal: signal.wake,
        subscribe: signal.subscribe
      }
    })
  ).pipe(Layer.provide(Reactivity.layer))

const postgres = (
  url: string,
  poll: Duration.Input
): Layer.Layer<DatabaseService | SqlClient.SqlClient, SqlError> =>
  Layer.effect(
    DatabaseService,
    Effect.gen(function*() {
      const pg = yield* PgClient.PgClient
      const sql = yield* SqlClient.SqlClient
      yield* migrate(sql, "pg")
      const signal = makeSignal(poll)
      // One connection listens; when Postgres restarts the listener fails and is set up again, and the poll
      // underneath covers the gap.
      yield* Effect.scoped(
        Effect.flatMap(pg.listen(CHANNEL), (queue) => Effect.forever(Effect.map(Queue.take(queue), signal.wake)))
      ).pipe(
        Effect.catchCause(() => Effect.sync(signal.wake)),
        Effect.repeat(Schedule.spaced(Duration.millis(250))),
        Effect.forkScoped
      )
      return {
        sql,
        dialect: "pg" as const,
        now: "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT",
        write: sql.withTransaction,
        // One statement: the lock that puts event-writing transactions in commit order (held from here to the
        // commit, so it serializes only the tail of each write), the notification, and the insert.
        appendEvent: (taskId, json) =>
          Effect.asVoid(sql`
            WITH l AS (SELECT pg_advisory_xact_lock(${sql.literal(String(EVENTS_LOCK))})),
              n AS (SELECT pg_notify('${sql.literal(CHANNEL)}', ''))
            INSERT INTO effect_tasks_events (task_id, event)
            SELECT ${taskId}::BIGINT, ${json}::TEXT FROM l, n`),
        notify: Effect.asVoid(sql.unsafe(`SELECT pg_notify('${CHANNEL}', '')`)),
        wakeLocal: signal.wake,
        subscribe: signal.subscribe
      }
    })
  ).pipe(
    Layer.provideMerge(
      PgClient.layer({
        url: Redacted.make(url),
        maxConnections: 8,
        connectTimeout: Duration.seconds(5),
        applicationName: "effect-tasks-cluster"
      })
    )
  )

/** The database of a URL, migrated, with its change feed. `poll` bounds a lost wake-up. */
export const layer = (
  url: DatabaseUrl,
  options: { readonly poll?: Duration.Input | undefined } = {}
): Layer.Layer<DatabaseService | SqlClient.SqlClient, SqlError> => {
  const poll = options.poll ?? Duration.seconds(1)
  if (url._tag === "pg") return postgres(url.url, poll)
  const db = sqlite(url.filename, poll)
  return Layer.effect(SqlClient.SqlClient, Effect.map(DatabaseService, (d) => d.sql)).pipe(Layer.provideMerge(db))
}
