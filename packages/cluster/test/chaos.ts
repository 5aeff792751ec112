/**
 * The chaos cases, run against one database kind (SQLite, or Postgres when a server is given): real runner
 * processes, real signals, and `/proc` read independently of the library.
 */
import { ClusterTasks, CommandJob } from "@effect-tasks/cluster"
import { TaskState } from "@effect-tasks/core"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Stream from "effect/Stream"
import { afterEach, describe, expect, it } from "vitest"
import { Echo } from "./fixtures/jobs.mjs"
import { cleanup, eventually, marked, startRunner, stillAlive } from "./helpers.js"

const MARK = "CLUSTER_CHAOS_MARK"
let markSeq = 0
const freshMark = () => `m${process.pid}x${++markSeq}x${Math.random().toString(36).slice(2, 7)}-`

/** A shell command whose every process carries `MARK=<mark><i>` (inherited), with a child and a grandchild. */
const markedCommand = (mark: string, i: number, seconds: number) =>
  `export ${MARK}=${mark}${i}; sh -c 'sleep ${seconds}' & sleep ${seconds}; wait`

/** Waits until every runner in `addresses` has started a task (so each holds shards). */
export const bothServe = (
  run: <A, E>(f: (tasks: ClusterTasks.ClusterTasksShape) => Effect.Effect<A, E>) => Promise<A>,
  addresses: ReadonlyArray<string>
) =>
  eventually(
    async () => {
      const seen = new Set<string>()
      const probes = await run((t) =>
        Effect.forEach(
          Array.from({ length: 8 }, (_, i) => i),
          () => Effect.flatMap(t.submit(Echo, { value: "probe" }), (task) => t.await(task.id)),
          {
            concurrency: "unbounded"
          }
        )
      )
      for (const p of probes) if (p.runner !== undefined) seen.add(p.runner)
      return addresses.every((a) => seen.has(a)) ? true : undefined
    },
    90_000,
    "every runner to serve tasks"
  )

export const chaosSuite = (kind: string, newDb: () => Promise<string>) =>
  describe(`cluster chaos on ${kind}`, () => {
    const runtimes: Array<ManagedRuntime.ManagedRuntime<ClusterTasks.ClusterTasks, unknown>> = []
    afterEach(async () => {
      for (const rt of runtimes.splice(0)) await rt.dispose()
      cleanup()
    })
    const client = (db: string) => {
      const rt = ManagedRuntime.make(ClusterTasks.layer({ db }))
      runtimes.push(rt)
      return <A, E>(f: (tasks: ClusterTasks.ClusterTasksShape) => Effect.Effect<A, E>) =>
        rt.runPromise(Effect.flatMap(ClusterTasks.ClusterTasks, f))
    }

    it(
      "SIGKILL of a runner mid-task: no record lost, every task settled per its policy within 15 s, no process survives",
      async () => {
        const db = await newDb()
        const a = await startRunner({ db })
        const b = await startRunner({ db })
        const run = client(db)
        await bothServe(run, [a.address, b.address])
        const mark = freshMark()
        const ids: Array<{ id: number; retry: boolean }> = []
        for (let i = 0; i < 12; i++) {
          const retry = i % 2 === 0
          const task = await run((t) =>
            t.submit(CommandJob.Command, { shell: markedCommand(mark, i, 4) }, {
              name: `chaos-${i}`,
              ...(retry ? { retry: { maxAttempts: 2 } } : {})
            })
          )
          ids.push({ id: task.id, retry })
        }
        const records = await eventually(
          async () => {
            const all = await run((t) => t.list)
            const mine = all.filter((r) => ids.some((x) => x.id === r.id))
            return mine.every((r) => r.state === "RUNNING" && r.processes.length > 0) ? mine : undefined
          },
          60_000,
          "every task RUNNING with its process"
        )
        const onA = records.filter((r) => r.runner === a.address)
        expect(onA.length).toBeGreaterThan(0)
        expect(records.filter((r) => r.runner === b.address).length).toBeGreaterThan(0)
        // The processes of A's tasks, found by our own marker (shell, child, grandchild).
        const markOf = (id: number) => `${mark}${ids.findIndex((x) => x.id === id)}`
        const doomed = await eventually(
          () => {
            const found = onA.flatMap((r) => marked(MARK, markOf(r.id)).filter((p) => p.value === markOf(r.id)))
            return found.length >= onA.length * 3 ? found : undefined
          },
          5_000,
          "the processes of runner A's tasks"
        )

        const killedAt = Date.now()
        a.child.kill("SIGKILL")
        await a.exited

        const settled = await eventually(
          async () => {
            const now = await run((t) => Effect.forEach(onA, (r) => t.get(r.id)))
            const done = now.every((r) => TaskState.isTerminal(r.state) || (r.attempt === 2 && r.runner === b.address))
            return done ? now : undefined
          },
          20_000,
          "runner A's tasks settled"
        )
        const settleMs = Date.now() - killedAt
        expect(settleMs).toBeLessThan(15_000)
        for (const r of settled) {
          const retry = ids.find((x) => x.id === r.id)!.retry
          if (retry) {
            expect(r.attempt).toBe(2)
            expect(r.attempts[0]).toMatchObject({ attempt: 1, runner: a.address, state: "FAILURE" })
            expect(r.attempts[0]!.error).toContain("RunnerLost")
            expect(r.attempts[1]).toMatchObject({ attempt: 2, runner: b.address })
          } else {
            expect(r.state).toBe("FAILURE")
            expect(r.outcome).toEqual({ _tag: "RunnerLost", runner: a.address, attempt: 1, reason: "lost" })
            expect(r.error).toContain("RunnerLost")
          }
        }
        // Nothing runner A's tasks started survives it (the guardian killed the trees).
        await eventually(() => doomed.every((p) => !stillAlive(p)) ? true : undefined, 3_000, "A's processes to die")

        // Every record is still there and ends per its policy; retried ones finish on B.
        const final = await run((t) => Effect.forEach(ids, (x) => t.await(x.id as never)))
        expect(final.length).toBe(ids.length)
        for (const r of final) {
          const retry = ids.find((x) => x.id === r.id)!.retry
          const wasOnA = onA.some((x) => x.id === r.id)
          if (!wasOnA) expect(r.state).toBe("SUCCESS")
          else expect(r.state).toBe(retry ? "SUCCESS" : "FAILURE")
        }
        b.child.kill("SIGTERM")
        await b.exited
      },
      240_000
    )

    it(
      "SIGTERM drains a runner: running tasks finish, new ones start elsewhere, the rest settle per policy",
      async () => {
        const db = await newDb()
        const a = await startRunner({ db, drain: "2500 millis" })
        const run = client(db)
        const quick = await run((t) => t.submit(CommandJob.Command, { shell: "sleep 1" }, { name: "quick" }))
        const slow = await run((t) => t.submit(CommandJob.Command, { shell: "sleep 30" }, { name: "slow" }))
        const slowRetry = await run((t) =>
          t.submit(CommandJob.Command, { shell: "sleep 30" }, { name: "slow-retry", retry: { maxAttempts: 2 } })
        )
        await eventually(
          async () => {
            const all = await run((t) => t.active)
            return all.length === 3 && all.every((r) => r.state === "RUNNING")
              ? true
              : undefined
          },
          60_000,
          "three running tasks"
        )
        const b = await startRunner({ db })
        a.child.kill("SIGTERM")
        await eventually(() => a.output().includes("drains:") ? true : undefined, 60_000, "runner A to drain")
        // A takes nothing new while it drains: this one starts on B.
        const later = await run((t) => t.submit(Echo, { value: "later" }))
        const laterDone = await run((t) => t.await(later.id))
        expect(laterDone).toMatchObject({ state: "SUCCESS", runner: b.address })
        expect(await run((t) => t.await(quick.id))).toMatchObject({ state: "SUCCESS", runner: a.address })
        // It stops by itself once drained (NodeRuntime's exit code for an interrupted program), not killed.
        const exit = await a.exited
        expect(exit.signal).toBeNull()
        expect(a.output()).toContain("stops 2 task(s) still running after the drain time")
        expect(await run((t) => t.get(slow.id))).toMatchObject({
          state: "FAILURE",
          outcome: { _tag: "RunnerLost", reason: "drained", runner: a.address }
        })
        const retried = await run((t) => Effect.andThen(Effect.sleep(200), t.get(slowRetry.id)))
        expect(retried.attempts[0]).toMatchObject({ attempt: 1, runner: a.address, state: "FAILURE" })
        expect(retried).toMatchObject({ attempt: 2, runner: b.address })
        await run((t) => t.revoke(slowRetry.id))
        void b
      },
      240_000
    )

    it("a runner joining while tasks run restarts nothing", async () => {
      const db = await newDb()
      const a = await startRunner({ db })
      const run = client(db)
      const tasks = await run((t) =>
        Effect.forEach(
          Array.from({ length: 10 }, (_, i) => i),
          (i) => t.submit(CommandJob.Command, { shell: "sleep 3" }, { name: `long-${i}`, retry: { maxAttempts: 3 } })
        )
      )
      await eventually(
        async () => {
          const all = await run((t) => t.active)
          return all.length === 10 && all.every((r) => r.state === "RUNNING") ? true : undefined
        },
        60_000,
        "ten running tasks"
      )
      const events: Array<string> = []
      const stop = run((t) =>
        t.events.pipe(
          Stream.runForEach((e) => Effect.sync(() => events.push(e._tag))),
          Effect.timeout("6 seconds"),
          Effect.ignore
        )
      )
      const b = await startRunner({ db })
      // New work spreads to the newcomer once it holds shards.
      await eventually(
        async () => {
          const echo = await run((t) => t.run(Echo, { value: "x" }).pipe(Effect.andThen(t.list)))
          return echo.some((r) => r.job === "echo" && r.runner === b.address) ? true : undefined
        },
        60_000,
        "a task started on the new runner"
      )
      const final = await run((t) => Effect.forEach(tasks, (task) => t.await(task.id)))
      for (const r of final) expect(r).toMatchObject({ state: "SUCCESS", attempt: 1, runner: a.address })
      await stop
      expect(events).not.toContain("TaskRetrying")
    }, 240_000)

    it("a duplicate submit with the same idempotency key returns the existing task", async () => {
      const db = await newDb()
      await startRunner({ db })
      const run = client(db)
      const other = client(db)
      const [first, second] = await Promise.all([
        run((t) => t.submit(Echo, { value: "once" }, { idempotencyKey: "deploy-42" })),
        other((t) => t.submit(Echo, { value: "once" }, { idempotencyKey: "deploy-42" }))
      ])
      expect(second.id).toBe(first.id)
      const third = await run((t) => t.submit(Echo, { value: "once" }, { idempotencyKey: "deploy-42" }))
      expect(third.id).toBe(first.id)
      const conflict = await run((t) =>
        Effect.flip(t.submit(Echo, { value: "other" }, { idempotencyKey: "deploy-42" }))
      )
      expect(conflict._tag).toBe("IdempotencyConflict")
      const all = await run((t) => t.list)
      expect(all.filter((r) => r.idempotencyKey === "deploy-42").length).toBe(1)
    }, 240_000)

    it("a revoke from a third process reaches the owning runner within milliseconds and kills the tree", async () => {
      const db = await newDb()
      await startRunner({ db })
      await startRunner({ db })
      const run = client(db)
      const mark = freshMark()
      const task = await run((t) => t.submit(CommandJob.Command, { shell: markedCommand(mark, 0, 60) }))
      const procs = await eventually(
        () => {
          const found = marked(MARK, `${mark}0`)
          return found.length >= 3 ? found : undefined
        },
        60_000,
        "the task's processes"
      )
      const started = performance.now()
      const revoked = await client(db)((t) => t.revoke(task.id))
      const elapsed = performance.now() - started
      expect(revoked.state).toBe("REVOKED")
      expect(revoked.revocation).toEqual({ reason: "user", graceful: true })
      // SIGTERM reaches the tree at once: well under the 5 s grace.
      expect(elapsed).toBeLessThan(3000)
      for (const p of procs) expect(stillAlive(p)).toBe(false)
    }, 240_000)
  })
