/**
 * A claim whose answer was lost: the claim's transaction committed (the task is RUNNING on the runner's
 * incarnation) but the runner never heard so, as when the connection drops at commit. The row is written here
 * straight into the database, as such a claim leaves it, next to a real runner process.
 */
import { ClusterTasks } from "@effect-tasks/cluster"
import { TaskId } from "@effect-tasks/core"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { join } from "node:path"
import { DatabaseSync } from "node:sqlite"
import { afterAll, describe, expect, it } from "vitest"
import { cleanup, startRunner, tempDir } from "./helpers.js"

afterAll(cleanup)

describe("a claim whose answer was lost", () => {
  it("goes back to the queue (the job never ran) and runs to SUCCESS", async () => {
    const file = join(tempDir(), "claims.db")
    await startRunner({ db: `sqlite:${file}` })
    const sqlite = new DatabaseSync(file)
    sqlite.exec("PRAGMA busy_timeout = 10000")
    const runner = sqlite.prepare("SELECT address, incarnation FROM effect_tasks_runners").get() as {
      address: string
      incarnation: string
    }
    const at = Date.now()
    const { id } = sqlite.prepare(
      `INSERT INTO effect_tasks_tasks (name, job, payload, state, attempt, max_attempts, runner, incarnation,
         submitted_at, started_at)
       VALUES ('lost-claim', 'echo', '{"value":"hello"}', 'RUNNING', 1, 1, ?, ?, ?, ?) RETURNING id`
    ).get(runner.address, runner.incarnation, at, at) as { id: number }
    sqlite.prepare("INSERT INTO effect_tasks_attempts (task_id, attempt, runner, started_at) VALUES (?, 1, ?, ?)")
      .run(id, runner.address, at)
    sqlite.close()

    const rt = ManagedRuntime.make(ClusterTasks.layer({ db: `sqlite:${file}` }))
    try {
      const done = await rt.runPromise(
        Effect.flatMap(ClusterTasks.ClusterTasks, (tasks) => tasks.await(TaskId.TaskId.make(id))).pipe(
          Effect.timeout("20 seconds")
        )
      )
      expect(done.state).toBe("SUCCESS")
      expect(done.attempts.map((attempt) => attempt.state)).toEqual(["FAILURE", "SUCCESS"])
      expect(done.attempts[0]!.error).toContain("never started attempt 1")
    } finally {
      await rt.dispose()
    }
  }, 60_000)
})
