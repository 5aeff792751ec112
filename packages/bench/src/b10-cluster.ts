/**
 * B10 cluster: no-op jobs submitted and completed through two runner processes, on SQLite and (when
 * `EFFECT_TASKS_PG_URL` names a server) on Postgres: the time for a batch and the latency from submit to
 * start. Compared in the same run with raw Effect Cluster persisted entity messages through two runners on the
 * same database (target: within 1.5x), and with the local manager (reported).
 */
import { ClusterTasks } from "@effect-tasks/cluster"
import { TaskManager } from "@effect-tasks/core"
import { NodeTaskManager } from "@effect-tasks/node"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Noop, NoopEntity } from "./b10-jobs.js"
import { rawCluster } from "./b10-runner.js"
import { type Benchmark, row } from "./benchmark.js"
import { type Series, stats } from "./harness.js"
import { type Check, formatNumber, formatRatio, type Row } from "./report.js"

const BATCH = 200
const ROUNDS = 3
const TARGET = 1.5
const runnerScript = fileURLToPath(new URL("./b10-runner.js", import.meta.url))

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

const startRunner = async (mode: "tasks" | "raw", db: string): Promise<ChildProcess> => {
  const port = await freePort()
  const child = spawn(process.execPath, [runnerScript, mode, JSON.stringify({ db, port })], {
    stdio: ["ignore", "pipe", "pipe"]
  })
  let out = ""
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`B10 ${mode} runner did not start:\n${out}`)), 120_000)
    child.stdout!.on("data", (chunk) => {
      out += chunk
      if (out.includes("ready")) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.stderr!.on("data", (chunk) => out += chunk)
    child.once("exit", () => reject(new Error(`B10 ${mode} runner exited:\n${out}`)))
  })
  child.stdout!.resume()
  child.stderr!.resume()
  return child
}

const stop = async (children: ReadonlyArray<ChildProcess>) => {
  for (const child of children) child.kill("SIGKILL")
  await Promise.all(
    children.map((child) => new Promise((r) => child.exitCode !== null ? r(null) : child.once("exit", r)))
  )
}

interface Figures {
  readonly batch: Array<number>
  readonly latency: Array<number>
}

/** effect-tasks: submit a batch of no-op tasks, wait for them all; latency = startedAt - submittedAt. */
const measureTasks = async (db: string): Promise<Figures> => {
  const runners = [await startRunner("tasks", db), await startRunner("tasks", db)]
  const rt = ManagedRuntime.make(ClusterTasks.layer({ db }))
  const figures: Figures = { batch: [], latency: [] }
  try {
    for (let round = -1; round < ROUNDS; round++) {
      const measured = await rt.runPromise(Effect.gen(function*() {
        const tasks = yield* ClusterTasks.ClusterTasks
        const started = performance.now()
        const submitted = yield* Effect.forEach(Array.from({ length: BATCH }), () => tasks.submit(Noop, {}), {
          concurrency: 16
        })
        const done = yield* Effect.forEach(submitted, (task) => tasks.await(task.id), { concurrency: "unbounded" })
        return { elapsed: performance.now() - started, done }
      }))
      if (round < 0) continue
      figures.batch.push(measured.elapsed)
      for (const task of measured.done) figures.latency.push((task.startedAt ?? Number.NaN) - task.submittedAt)
    }
  } finally {
    await rt.dispose()
    await stop(runners)
  }
  return figures
}

/** Raw Effect Cluster: a batch of persisted messages; latency = handler start - send time. */
const measureRaw = async (db: string): Promise<Figures> => {
  const runners = [await startRunner("raw", db), await startRunner("raw", db)]
  const rt = ManagedRuntime.make(rawCluster(db, undefined))
  const figures: Figures = { batch: [], latency: [] }
  try {
    for (let round = -1; round < ROUNDS; round++) {
      const measured = await rt.runPromise(Effect.gen(function*() {
        const client = yield* NoopEntity.client
        const started = performance.now()
        const latencies = yield* Effect.forEach(
          Array.from({ length: BATCH }, (_, i) => i),
          (i) =>
            Effect.suspend(() => {
              const sent = Date.now()
              return Effect.map(client(`e${round}-${i % 64}`).Started(), (at) => at - sent)
            }),
          { concurrency: 16 }
        )
        return { elapsed: performance.now() - started, latencies }
      }) as Effect.Effect<{ elapsed: number; latencies: Array<number> }>)
      if (round < 0) continue
      figures.batch.push(measured.elapsed)
      figures.latency.push(...measured.latencies)
    }
  } finally {
    await rt.dispose()
    await stop(runners)
  }
  return figures
}

/** The local manager: the same batch of no-op tasks in one process. */
const measureLocal = async (): Promise<Figures> => {
  const rt = ManagedRuntime.make(NodeTaskManager.layerWith({ guardian: false }))
  const figures: Figures = { batch: [], latency: [] }
  try {
    for (let round = -1; round < ROUNDS; round++) {
      const measured = await rt.runPromise(Effect.gen(function*() {
        const tm = yield* TaskManager.TaskManager
        const started = performance.now()
        const submitted = yield* Effect.forEach(Array.from({ length: BATCH }), () => tm.submit(Effect.void))
        const done = yield* Effect.forEach(submitted, (task) => tm.await(task.id))
        return { elapsed: performance.now() - started, done }
      }))
      if (round < 0) continue
      figures.batch.push(measured.elapsed)
      for (const task of measured.done) figures.latency.push((task.startedAt ?? Number.NaN) - task.submittedAt)
    }
  } finally {
    await rt.dispose()
  }
  return figures
}

const series = (label: string, samples: Array<number>): Series => ({ label, samples, stats: stats(samples) })

export const b10: Benchmark = {
  id: "B10",
  title: "cluster throughput and submit-to-start latency",
  run: async ({ log }) => {
    const rows: Array<Row> = []
    const checks: Array<Check> = []
    const notes: Array<string> = []
    const kinds: Array<{ label: string; db: () => string; cleanup: () => void }> = []
    const dir = mkdtempSync(join(tmpdir(), "b10-"))
    let n = 0
    kinds.push({ label: "SQLite", db: () => `sqlite:${join(dir, `b10-${++n}.db`)}`, cleanup: () => {} })
    const pg = process.env.EFFECT_TASKS_PG_URL
    if (pg !== undefined) {
      kinds.push({
        label: "Postgres",
        db: () => {
          const name = `b10_${process.pid}_${++n}`
          execFileSync("psql", [pg, "-qc", `CREATE DATABASE ${name}`], { stdio: "pipe" })
          const url = new URL(pg)
          url.pathname = `/${name}`
          return url.toString()
        },
        cleanup: () => {}
      })
    } else notes.push("Postgres not measured: EFFECT_TASKS_PG_URL was not set.")
    try {
      const local = await measureLocal()
      const localBatch = series("local manager, one process", local.batch)
      for (const kind of kinds) {
        log(`  ${kind.label}: effect-tasks cluster`)
        const tasks = await measureTasks(kind.db())
        log(`  ${kind.label}: raw Effect Cluster persisted messages`)
        const raw = await measureRaw(kind.db())
        const rawBatch = series(`raw Effect Cluster persisted messages (${kind.label})`, raw.batch)
        const tasksBatch = series(`effect-tasks cluster (${kind.label})`, tasks.batch)
        rows.push(row(rawBatch, `ms / ${BATCH} no-ops`))
        rows.push(row(tasksBatch, `ms / ${BATCH} no-ops`, rawBatch))
        rows.push(row(series(`raw Effect Cluster, send to handler start (${kind.label})`, raw.latency), "ms"))
        rows.push(row(series(`effect-tasks cluster, submit to start (${kind.label})`, tasks.latency), "ms"))
        const ratio = tasksBatch.stats.median / rawBatch.stats.median
        const perSecond = (BATCH / tasksBatch.stats.median) * 1000
        checks.push({
          target:
            `${kind.label}: no-op tasks through two runners within ${TARGET}x of raw Effect Cluster persisted messages`,
          result: `${formatRatio(ratio)} (${formatNumber(perSecond)} tasks/s against ${
            formatNumber((BATCH / rawBatch.stats.median) * 1000)
          } messages/s)`,
          verdict: Number.isFinite(ratio) ? ratio <= TARGET ? "met" : "missed" : "n/a"
        })
      }
      rows.push(row(localBatch, `ms / ${BATCH} no-ops`))
      rows.push(row(series("local manager, submit to start", local.latency), "ms"))
    } finally {
      for (const kind of kinds) kind.cleanup()
      rmSync(dir, { recursive: true, force: true })
    }
    return {
      about:
        `Batches of ${BATCH} no-op jobs, ${ROUNDS} rounds after a warm-up round, through two runner processes on each ` +
        "database: effect-tasks' cluster (submit, then await every record) against raw Effect Cluster persisted " +
        "entity messages (send, then await every reply) on the same database kind, and the local manager in one " +
        "process. Latency is submit to start (effect-tasks: the record's startedAt minus submittedAt; raw: the " +
        "handler's start minus the send time).",
      checks,
      rows,
      notes
    }
  }
}
