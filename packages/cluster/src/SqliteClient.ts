/**
 * An Effect `SqlClient` over Node 24's built-in `node:sqlite`, correct for several processes sharing one
 * database file: `busy_timeout` is set before the switch to WAL (so a second process opening the file waits
 * for the first one's switch instead of failing), and every transaction starts with `BEGIN IMMEDIATE`, which
 * takes the write lock up front (a deferred transaction that reads first and writes later can fail with
 * SQLITE_BUSY half-way, which no busy timeout can fix).
 *
 * One process holds one connection. Statements and transactions of the process take turns on it (a
 * semaphore), so a statement of one fiber never lands inside another fiber's open transaction.
 *
 * Written for effect-tasks because no released Effect SQLite driver loads with effect 4.1; replace it with
 * the upstream driver once one ships.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as SqlClient from "effect/sql/SqlClient"
import type * as SqlConnection from "effect/sql/SqlConnection"
import { ConnectionError, SqlError, UniqueViolation, UnknownError } from "effect/sql/SqlError"
import * as Statement from "effect/sql/Statement"
import * as Stream from "effect/Stream"
import { DatabaseSync, type StatementSync } from "node:sqlite"

/**
 * Settings of a SQLite client.
 *
 * @since 0.1.0
 * @category models
 */
export interface SqliteClientConfig {
  /** The database file (created if missing), or `":memory:"`. */
  readonly filename: string
  /**
   * How long SQLite itself waits, blocking, for another process's lock before returning SQLITE_BUSY. Kept short
   * (default 20 ms) because `node:sqlite` is synchronous: a long wait would stall the whole event loop (timers,
   * sockets, heartbeats). Opening the file and the switch to WAL use at least 5 s.
   */
  readonly busyTimeoutMillis?: number | undefined
  /**
   * How long a statement that found the database locked keeps retrying, asynchronously, with a short backoff,
   * before failing with a retryable `SqlError`. Default 10000 ms.
   */
  readonly lockTimeoutMillis?: number | undefined
  /** Prepared statements kept per connection. Default 200. */
  readonly statementCacheSize?: number | undefined
}

const sqlError = (cause: unknown, operation: string): SqlError => {
  const message = cause instanceof Error ? cause.message : String(cause)
  const code = (cause as { errcode?: number } | undefined)?.errcode
  // 2067 SQLITE_CONSTRAINT_UNIQUE, 1555 SQLITE_CONSTRAINT_PRIMARYKEY; 5 BUSY and 6 LOCKED are retryable.
  if (code === 2067 || code === 1555) {
    return new SqlError({ reason: new UniqueViolation({ cause, message, operation, constraint: message }) })
  }
  if (code === 5 || code === 6 || (code !== undefined && (code & 0xff) === 5)) {
    return new SqlError({ reason: new ConnectionError({ cause, message, operation }) })
  }
  return new SqlError({ reason: new UnknownError({ cause, message, operation }) })
}

/** SQLite binds null, numbers, bigints, strings and bytes; everything else is converted here. */
const bindable = (value: unknown): null | number | bigint | string | Uint8Array => {
  switch (typeof value) {
    case "undefined":
      return null
    case "boolean":
      return value ? 1 : 0
    case "number":
    case "bigint":
    case "string":
      return value
    default:
      if (value === null || value instanceof Uint8Array) return value
      if (value instanceof Date) return value.toISOString()
      return JSON.stringify(value)
  }
}

const openDatabase = (config: SqliteClientConfig): DatabaseSync => {
  const db = new DatabaseSync(config.filename)
  const busy = Math.max(0, Math.floor(config.busyTimeoutMillis ?? 20))
  // Order matters: without a busy timeout, a second process opening the file while the first one switches
  // to WAL gets SQLITE_BUSY at once.
  db.exec(`PRAGMA busy_timeout = ${Math.max(busy, 5000)}`)
  if (config.filename !== ":memory:") db.exec("PRAGMA journal_mode = WAL")
  db.exec("PRAGMA synchronous = NORMAL")
  db.exec(`PRAGMA busy_timeout = ${busy}`)
  return db
}

const isBusy = (error: SqlError): boolean => {
  const code = (error.reason.cause as { errcode?: number } | undefined)?.errcode
  return code !== undefined && ((code & 0xff) === 5 || (code & 0xff) === 6)
}

/**
 * Retries a statement that found the database locked, asynchronously, so the event loop stays free while
 * another process holds the lock. Safe: a statement that got SQLITE_BUSY did nothing (a write transaction
 * takes its lock at `BEGIN IMMEDIATE`, before any of its statements).
 */
const retryBusy = (lockTimeoutMillis: number) => <A>(attempt: Effect.Effect<A, SqlError>): Effect.Effect<A, SqlError> =>
  Effect.suspend(() => {
    const deadline = Date.now() + lockTimeoutMillis
    const loop = (round: number): Effect.Effect<A, SqlError> =>
      Effect.catchIf(
        attempt,
        (error) => isBusy(error) && Date.now() < deadline,
        () => Effect.flatMap(Effect.sleep(Math.min(50, 1 + round * 2) * (0.5 + Math.random())), () => loop(round + 1))
      )
    return loop(0)
  })

const withTransform = (
  effect: Effect.Effect<ReadonlyArray<any>, SqlError>,
  transformRows: (<A extends object>(row: ReadonlyArray<A>) => ReadonlyArray<A>) | undefined
) => transformRows === undefined ? effect : Effect.map(effect, transformRows)

const makeConnection = (
  db: DatabaseSync,
  cacheSize: number,
  lockTimeoutMillis: number
): SqlConnection.Connection => {
  const retry = retryBusy(lockTimeoutMillis)
  const cache = new Map<string, StatementSync>()
  const prepare = (sql: string): StatementSync => {
    let statement = cache.get(sql)
    if (statement !== undefined) {
      // Re-insert so the map's order is least recently used first.
      cache.delete(sql)
      cache.set(sql, statement)
      return statement
    }
    statement = db.prepare(sql)
    cache.set(sql, statement)
    if (cache.size > cacheSize) cache.delete(cache.keys().next().value!)
    return statement
  }
  const rows = (sql: string, params: ReadonlyArray<unknown>, arrays: boolean, prepared: boolean) =>
    retry(Effect.try({
      try: () => {
        const statement = prepared ? prepare(sql) : db.prepare(sql)
        const args = params.map(bindable)
        if (statement.columns().length === 0) {
          statement.run(...args)
          return [] as Array<any>
        }
        statement.setReturnArrays(arrays)
        return statement.all(...args) as Array<any>
      },
      catch: (cause) => sqlError(cause, "execute")
    }))
  return {
    execute: (sql, params, transformRows) => withTransform(rows(sql, params, false, true), transformRows),
    executeRaw: (sql, params) => rows(sql, params, false, true),
    executeValues: (sql, params) => rows(sql, params, true, true),
    executeValuesUnprepared: (sql, params) => rows(sql, params, true, false),
    executeUnprepared: (sql, params, transformRows) => {
      if (params.length === 0 && !/^\s*(select|with|pragma|values)\b/i.test(sql) && !/\breturning\b/i.test(sql)) {
        // Several statements at once (migrations, transaction control) go through `exec`.
        return retry(Effect.try({
          try: () => {
            db.exec(sql)
            return [] as Array<any>
          },
          catch: (cause) => sqlError(cause, "execute")
        }))
      }
      return withTransform(rows(sql, params, false, false), transformRows)
    },
    executeStream: (sql, params, transformRows) =>
      Stream.fromIterableEffect(withTransform(rows(sql, params, false, true), transformRows))
  }
}

/**
 * Opens the database and builds the client; the connection closes with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  config: SqliteClientConfig
): Effect.Effect<SqlClient.SqlClient, SqlError, Scope.Scope | Reactivity.Reactivity> =>
  Effect.gen(function*() {
    const db = yield* Effect.acquireRelease(
      Effect.try({ try: () => openDatabase(config), catch: (cause) => sqlError(cause, "open") }),
      (db) => Effect.sync(() => db.isOpen && db.close())
    )
    const connection = makeConnection(db, config.statementCacheSize ?? 200, config.lockTimeoutMillis ?? 10_000)
    const acquirers = SqlClient.makeSqliteAcquirers({
      connection: Effect.succeed(connection),
      semaphore: Semaphore.makeUnsafe(1),
      isTransaction: () => db.isTransaction
    })
    return yield* SqlClient.make({
      ...acquirers,
      compiler: Statement.makeCompilerSqlite(),
      driver: "node:sqlite",
      spanAttributes: [["db.system.name", "sqlite"]],
      beginTransaction: "BEGIN IMMEDIATE"
    })
  })

/**
 * The client as a layer (with its own `Reactivity`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (config: SqliteClientConfig): Layer.Layer<SqlClient.SqlClient, SqlError> =>
  Layer.effect(SqlClient.SqlClient, make(config)).pipe(Layer.provide(Reactivity.layer))
