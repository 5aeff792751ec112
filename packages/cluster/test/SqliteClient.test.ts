import { SqliteClient } from "@effect-tasks/cluster"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as SqlClient from "effect/sql/SqlClient"
import { execFile } from "node:child_process"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll } from "vitest"
import { cleanup, tempDir } from "./helpers.js"

const counter = fileURLToPath(new URL("./fixtures/sqlite-counter.mjs", import.meta.url))

afterAll(() => cleanup())

const withDb = <A, E>(file: string, f: (sql: SqlClient.SqlClient) => Effect.Effect<A, E>) =>
  Effect.flatMap(SqlClient.SqlClient, f).pipe(Effect.provide(SqliteClient.layer({ filename: file })))

describe("SqliteClient", () => {
  it.live("runs statements, commits and rolls back transactions, and reports unique violations", () =>
    withDb(join(tempDir(), "basic.db"), (sql) =>
      Effect.gen(function*() {
        yield* sql`CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, flag INTEGER)`
        const inserted = yield* sql<{ id: number }>`INSERT INTO t (name, flag) VALUES (${"a"}, ${true}) RETURNING id`
        expect(inserted).toEqual([{ id: 1 }])
        yield* sql.withTransaction(sql`INSERT INTO t (name, flag) VALUES (${"b"}, ${false})`)
        const failed = yield* sql.withTransaction(
          Effect.andThen(sql`INSERT INTO t (name) VALUES (${"c"})`, Effect.fail("no"))
        ).pipe(Effect.flip)
        expect(failed).toBe("no")
        expect(yield* sql<{ name: string; flag: number }>`SELECT name, flag FROM t ORDER BY id`).toEqual([
          { name: "a", flag: 1 },
          { name: "b", flag: 0 }
        ])
        const duplicate = yield* Effect.flip(sql`INSERT INTO t (name) VALUES (${"a"})`)
        expect(duplicate.reason._tag).toBe("UniqueViolation")
        const values = yield* sql`SELECT id, name FROM t WHERE id = ${2}`.values
        expect(values).toEqual([[2, "b"]])
        const mode = yield* sql<{ journal_mode: string }>`PRAGMA journal_mode`
        expect(mode[0]!.journal_mode).toBe("wal")
      })))

  it.live(
    "several processes on one file: no lost update, no busy failure, and no process stalls on a lock",
    () =>
      Effect.gen(function*() {
        const file = join(tempDir(), "shared.db")
        const runs = yield* Effect.forEach([1, 2, 3], () =>
          Effect.callback<{ done: number; maxLagMs: number }, Error>((resume) => {
            execFile(process.execPath, [counter, file, "60"], { timeout: 120_000 }, (error, stdout, stderr) =>
              resume(
                error ? Effect.fail(new Error(`${error.message}\n${stderr}`)) : Effect.succeed(JSON.parse(stdout))
              ))
          }), { concurrency: "unbounded" })
        expect(runs.map((r) =>
          r.done
        )).toEqual([60, 60, 60])
        const total = yield* withDb(file, (sql) =>
          sql<{ value: number }>`SELECT value FROM counter WHERE id = 1`)
        expect(total[0]!.value).toBe(180)
        // A lock held by another process never blocks the event loop for long (SQLite's own wait is 20 ms;
        // the rest is asynchronous backoff). The bound is loose for a loaded machine.
        for (const run of runs) {
          expect(run.maxLagMs).toBeLessThan(2000)
        }
      }),
    150_000
  )
})
