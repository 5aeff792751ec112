/**
 * One contract, two backends: the same cases run against the local manager (core's `TaskManager` with
 * `NodeTaskManager`, the jobs' handlers run as local tasks) and the cluster (a real runner process on SQLite,
 * this test process as the client). Each backend is reached through the small adapter below, so a case reads
 * the same for both and asserts the same outcome.
 */
import { ClusterTasks, CommandJob, type Job } from "@effect-tasks/cluster"
import { TaskId, TaskManager, TaskState } from "@effect-tasks/core"
import { NodeTaskManager } from "@effect-tasks/node"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Stream from "effect/Stream"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Echo, Fail, handlers, Noop } from "./fixtures/jobs.mjs"
import { cleanup, eventually, marked, startRunner, stillAlive, tempDir } from "./helpers.js"

interface Row {
  readonly id: number
  readonly name: string
  readonly state: TaskState.TaskState
  readonly error?: string | undefined
  readonly revocation?: { readonly reason: string; readonly graceful: boolean } | undefined
}

interface Backend {
  readonly submit: (job: Job.Any, payload: unknown, name?: string, grace?: Duration.Input) => Promise<Row>
  readonly get: (id: number) => Promise<Row>
  readonly await: (id: number) => Promise<Row>
  readonly revoke: (id: number, graceful?: boolean) => Promise<Row>
  readonly revokeAll: () => Promise<ReadonlyArray<Row>>
  readonly active: () => Promise<ReadonlyArray<Row>>
  readonly list: () => Promise<ReadonlyArray<Row>>
  /** Subscribes, runs `during`, and returns the tags of the events of task `idOf()` until its TaskFinished. */
  readonly eventsOf: (during: () => Promise<number>) => Promise<ReadonlyArray<string>>
  readonly shutdown: () => Promise<void>
  /** The tag of the error of `f`, or undefined if it succeeded. */
  readonly errorOf: (f: (b: Backend) => Promise<unknown>) => Promise<string | undefined>
  readonly close: () => Promise<void>
}

const row = (task: Row): Row => ({
  id: task.id,
  name: task.name,
  state: task.state,
  error: task.error,
  revocation: task.revocation
})

const errorTag = async (promise: Promise<unknown>): Promise<string | undefined> => {
  try {
    await promise
    return undefined
  } catch (error) {
    const cause = (error as { cause?: unknown })?.cause ?? error
    const tag = (cause as { _tag?: string })?._tag ?? (error as { _tag?: string })?._tag
    if (tag !== undefined) return tag
    const text = String(error)
    return /TaskNotFound|TaskManagerClosed/.exec(text)?.[0] ?? text
  }
}

const toRow = (
  task: { id: number; name: string; state: TaskState.TaskState; exit?: unknown; revocation?: Row["revocation"] }
) => ({
  id: task.id,
  name: task.name,
  state: task.state,
  error: task.state === "FAILURE" ? String((task.exit as { cause?: unknown })?.cause ?? "") : undefined,
  revocation: task.revocation
})
const handlerOf = (job: Job.Any) => [...handlers, CommandJob.handler].find((h) => h.job.name === job.name)!

const localBackend = (): Backend => {
  const rt = ManagedRuntime.make(NodeTaskManager.layerWith({ guardian: false }))
  const run = <A, E>(f: (tm: TaskManager.TaskManager["Service"]) => Effect.Effect<A, E, any>) =>
    rt.runPromise(Effect.flatMap(TaskManager.TaskManager, f) as Effect.Effect<A, E, any>)
  const backend: Backend = {
    submit: (job, payload, name, grace) =>
      run((tm) => tm.submit(handlerOf(job).run(payload) as Effect.Effect<unknown, unknown>, { name, grace })).then(
        toRow
      ),
    get: (id) => run((tm) => tm.get(TaskId.TaskId.make(id))).then(toRow),
    await: (id) => run((tm) => tm.await(TaskId.TaskId.make(id))).then(toRow),
    revoke: (id, graceful) =>
      run((tm) => tm.revoke(TaskId.TaskId.make(id), { graceful: graceful ?? true })).then(toRow),
    revokeAll: () => run((tm) => tm.revokeAll()).then((all) => all.map(toRow)),
    active: () => run((tm) => tm.active).then((all) => all.map(toRow)),
    list: () => run((tm) => tm.list).then((all) => all.map(toRow)),
    eventsOf: (during) =>
      run((tm) =>
        Effect.scoped(Effect.gen(function*() {
          const events = yield* tm.subscribe
          const id = yield* Effect.promise(during)
          return yield* events.pipe(
            Stream.filter((e) => "id" in e && e.id === id),
            Stream.takeUntil((e) => e._tag === "TaskFinished"),
            Stream.map((e) => e._tag),
            Stream.runCollect
          )
        }))
      ),
    shutdown: () => run((tm) => tm.shutdown),
    errorOf: (f) => errorTag(f(backend)),
    close: () => rt.dispose()
  }
  return backend
}

const clusterBackend = (db: string): Backend => {
  const rt = ManagedRuntime.make(ClusterTasks.layer({ db }))
  const run = <A, E>(f: (tasks: ClusterTasks.ClusterTasksShape) => Effect.Effect<A, E>) =>
    rt.runPromise(Effect.flatMap(ClusterTasks.ClusterTasks, f))
  const backend: Backend = {
    submit: (job, payload, name, grace) => run((t) => t.submit(job, payload as never, { name, grace })).then(row),
    get: (id) => run((t) => t.get(id as never)).then(row),
    await: (id) => run((t) => t.await(id as never)).then(row),
    revoke: (id, graceful) => run((t) => t.revoke(id as never, { graceful: graceful ?? true })).then(row),
    revokeAll: () => run((t) => t.revokeAll()).then((all) => all.map(row)),
    active: () => run((t) => t.active).then((all) => all.map(row)),
    list: () => run((t) => t.list).then((all) => all.map(row)),
    eventsOf: (during) =>
      run((t) =>
        Effect.scoped(Effect.gen(function*() {
          const events = yield* t.subscribe
          const id = yield* Effect.promise(during)
          return yield* events.pipe(
            Stream.filter((e) => "id" in e && e.id === id),
            Stream.takeUntil((e) => e._tag === "TaskFinished"),
            Stream.map((e) => e._tag),
            Stream.runCollect
          )
        }))
      ),
    shutdown: () => run((t) => t.shutdown),
    errorOf: (f) => errorTag(f(backend)),
    close: () => rt.dispose()
  }
  return backend
}

const MARK = "CLUSTER_CONTRACT_MARK"
let marks = 0

const contract = (name: string, make: () => Promise<{ fresh: () => Backend; close: () => Promise<void> }>) =>
  describe(`contract: ${name}`, () => {
    let env: { fresh: () => Backend; close: () => Promise<void> }
    let b: Backend
    beforeAll(async () => {
      env = await make()
      b = env.fresh()
    }, 120_000)
    afterAll(async () => {
      await b?.close()
      await env?.close()
    })

    it("a submitted job runs and ends SUCCESS; get and await agree", async () => {
      const task = await b.submit(Echo, { value: "hello" }, "greet")
      expect(task.name).toBe("greet")
      expect(["QUEUED", "RUNNING", "SUCCESS"]).toContain(task.state)
      const done = await b.await(task.id)
      expect(done).toMatchObject({ id: task.id, name: "greet", state: "SUCCESS" })
      expect(await b.get(task.id)).toMatchObject({ state: "SUCCESS" })
    })

    it("a typed failure ends FAILURE with the error as text", async () => {
      const task = await b.submit(Fail, { code: 7 })
      const done = await b.await(task.id)
      expect(done.state).toBe("FAILURE")
      expect(done.error).toContain("Boom")
    })

    it("a failing command ends FAILURE with its exit code", async () => {
      const task = await b.submit(CommandJob.Command, { shell: "exit 3" })
      const done = await b.await(task.id)
      expect(done.state).toBe("FAILURE")
      expect(done.error).toContain("code 3")
    })

    it("a burst of no-op jobs, more than a runner keeps finished locally, settles every one", async () => {
      // The handlers finish while they are submitted; a runner keeps 100 finished tasks of its own.
      const tasks = await Promise.all(Array.from({ length: 300 }, () => b.submit(Noop, {})))
      const done = await Promise.all(tasks.map((task) => b.await(task.id)))
      expect(done.filter((task) => task.state !== "SUCCESS")).toEqual([])
    }, 60_000)

    it("a command killed by a signal ends FAILURE naming the signal", async () => {
      const task = await b.submit(CommandJob.Command, { shell: "kill -KILL $$" })
      const done = await b.await(task.id)
      expect(done.state).toBe("FAILURE")
      expect(done.error).toContain("killed by SIGKILL")
    })

    it("revoke stops a running command and its tree, and records the revocation", async () => {
      const mark = `c${process.pid}x${++marks}`
      const task = await b.submit(CommandJob.Command, { shell: `export ${MARK}=${mark}; sleep 60 & sleep 60; wait` })
      const procs = await eventually(
        () => {
          // The two sleeps (the shell's own environment predates its `export`).
          const found = marked(MARK, mark)
          return found.length >= 2 ? found : undefined
        },
        30_000,
        "the command's processes"
      )
      const done = await b.revoke(task.id)
      expect(done.state).toBe("REVOKED")
      expect(done.revocation).toEqual({ reason: "user", graceful: true })
      for (const p of procs) expect(stillAlive(p)).toBe(false)
      // A terminal task comes back unchanged.
      expect(await b.revoke(task.id)).toMatchObject({
        state: "REVOKED",
        revocation: { reason: "user", graceful: true }
      })
    })

    it("a forced revoke kills a command that ignores SIGTERM at once", async () => {
      const task = await b.submit(
        CommandJob.Command,
        { shell: "trap '' TERM; echo ready; sleep 60 & wait" },
        "stubborn",
        "30 seconds"
      )
      await eventually(async () => (await b.get(task.id)).state === "RUNNING" ? true : undefined, 30_000, "running")
      await new Promise((r) => setTimeout(r, 300))
      const started = Date.now()
      const done = await b.revoke(task.id, false)
      expect(done.state).toBe("REVOKED")
      expect(done.revocation).toEqual({ reason: "user", graceful: false })
      // Nowhere near the 30 s grace a graceful revoke would wait.
      expect(Date.now() - started).toBeLessThan(15_000)
    })

    it("unknown ids fail with TaskNotFound", async () => {
      expect(await b.errorOf((x) => x.get(987_654))).toBe("TaskNotFound")
      expect(await b.errorOf((x) => x.await(987_654))).toBe("TaskNotFound")
      expect(await b.errorOf((x) => x.revoke(987_654))).toBe("TaskNotFound")
    })

    it("active lists QUEUED and RUNNING tasks by ascending id; list keeps finished ones; revokeAll stops them all", async () => {
      const a = await b.submit(CommandJob.Command, { shell: "sleep 60" }, "a")
      const c = await b.submit(CommandJob.Command, { shell: "sleep 60" }, "c")
      const active = await b.active()
      const ids = active.map((t) => t.id)
      expect(ids).toEqual(ids.toSorted((x, y) => x - y))
      expect(ids).toEqual(expect.arrayContaining([a.id, c.id]))
      for (const t of active) expect(TaskState.isActive(t.state)).toBe(true)
      const stopped = await b.revokeAll()
      expect(stopped.map((t) => t.id)).toEqual(expect.arrayContaining([a.id, c.id]))
      for (const t of stopped) expect(t.state).toBe("REVOKED")
      expect(await b.active()).toEqual([])
      const all = await b.list()
      expect(all.map((t) => t.id)).toEqual(expect.arrayContaining([a.id, c.id]))
    })

    it("events arrive in order: TaskSubmitted, TaskStarted, then one TaskFinished", async () => {
      const tags = await b.eventsOf(async () => (await b.submit(Echo, { value: "e" })).id)
      expect(tags[0]).toBe("TaskSubmitted")
      expect(tags).toContain("TaskStarted")
      expect(tags.indexOf("TaskStarted")).toBeLessThan(tags.indexOf("TaskFinished"))
      expect(tags.filter((t) => t === "TaskFinished")).toEqual(["TaskFinished"])
      expect(tags[tags.length - 1]).toBe("TaskFinished")
    })

    it("after shutdown, a submit fails with TaskManagerClosed", async () => {
      const own = env.fresh()
      await own.shutdown()
      await own.shutdown()
      expect(await own.errorOf((x) => x.submit(Echo, { value: "late" }))).toBe("TaskManagerClosed")
      await own.close()
    })
  })

contract("local manager", async () => ({
  fresh: localBackend,
  close: async () => {}
}))

contract("cluster (SQLite, one runner process)", async () => {
  const db = `sqlite:${join(tempDir(), "cluster.db")}`
  await startRunner({ db })
  return { fresh: () => clusterBackend(db), close: async () => cleanup() }
})
