/**
 * B3 retention: 1M tasks submitted and completed with `retain: 1000`; the heap at the end must be within
 * 10% of the heap after the first 10k.
 */
import { TaskManager } from "@effect-tasks/core"
import * as Effect from "effect/Effect"
import { atMost, type Benchmark } from "./benchmark.js"
import { heapUsed, now, stats } from "./harness.js"
import { formatNumber, formatRatio, type Row } from "./report.js"

export const TASKS = 1_000_000
const BASELINE_AT = 10_000
const BATCH = 1_000
const RETAIN = 1_000
const TARGET = 1.1
/** Heap readings are taken at these task counts (after a full GC). */
const CHECKPOINTS = [BASELINE_AT, 100_000, 250_000, 500_000, 750_000, TASKS]

interface Reading {
  readonly tasks: number
  readonly heap: number
  readonly millis: number
}

/** Submits `total` no-op tasks in batches (submit a batch, join it), reading the heap at each checkpoint. */
const retentionRun = (total: number, checkpoints: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const tm = yield* TaskManager.TaskManager
    const readings: Array<Reading> = []
    const start = now()
    let done = 0
    const batch: Array<Effect.Success<ReturnType<typeof tm.submit<void>>>> = []
    while (done < total) {
      for (let i = 0; i < BATCH; i++) batch[i] = yield* tm.submit(Effect.void)
      for (let i = 0; i < BATCH; i++) yield* tm.join(batch[i]!)
      done += BATCH
      if (checkpoints.includes(done)) {
        readings.push({ tasks: done, heap: heapUsed(), millis: now() - start })
      }
    }
    const kept = (yield* tm.list).length
    return { readings, kept }
  }).pipe(Effect.provide(TaskManager.layerWith({ retain: RETAIN })))

const mb = (bytes: number) => bytes / 2 ** 20

export const b3: Benchmark = {
  id: "B3",
  title: "retention",
  run: async ({ log }) => {
    // Warm-up: a short run on its own manager, so the JIT and the heap's shape settle first.
    await Effect.runPromise(retentionRun(20_000, []))
    const { readings, kept } = await Effect.runPromise(retentionRun(TASKS, CHECKPOINTS))
    for (const r of readings) {
      log(`  after ${r.tasks} tasks: heap ${formatNumber(mb(r.heap))} MB at ${formatNumber(r.millis / 1000)} s`)
    }
    const first = readings[0]!
    const last = readings[readings.length - 1]!
    const growth = last.heap / first.heap
    const later = readings.slice(1).map((r) => r.heap / first.heap)
    const ratioRow: Row = {
      label: `heap after N tasks / heap after ${BASELINE_AT / 1000}k (N = ${
        readings.slice(1).map((r) => `${r.tasks / 1000}k`).join(", ")
      })`,
      unit: "x",
      samples: later,
      stats: stats(later)
    }
    const heapRow: Row = {
      label: `heap after ${readings.map((r) => `${r.tasks / 1000}k`).join(", ")} tasks`,
      unit: "MB",
      samples: readings.map((r) => mb(r.heap)),
      stats: stats(readings.map((r) => mb(r.heap)))
    }
    const rate = (last.millis * 1000) / TASKS
    return {
      about: [
        `Submits ${TASKS / 1e6}M no-op tasks to one \`TaskManager.layerWith({ retain: ${RETAIN} })\` in batches of`,
        `${BATCH} (submit the batch, then join each), and reads \`heapUsed\` after a full GC at ${
          CHECKPOINTS.map((c) => `${c / 1000}k`).join(", ")
        }`,
        `tasks. The baseline is the reading after the first ${BASELINE_AT / 1000}k, in the same run; a warm-up run of`,
        "20k tasks on another manager comes first. Every reading is one sample (one run: a second 1M run would",
        "not fit the minute)."
      ].join("\n"),
      checks: [
        atMost(
          `heap after ${TASKS / 1e6}M within 10% of the heap after ${BASELINE_AT / 1000}k`,
          growth,
          TARGET,
          `${formatRatio(growth)} (${formatNumber(mb(last.heap))} MB vs ${formatNumber(mb(first.heap))} MB)`
        )
      ],
      rows: [heapRow, ratioRow],
      notes: [
        `The manager kept ${kept} finished tasks at the end (retain ${RETAIN}).`,
        `Throughput along the way: ${formatNumber(rate)} us per task (submit + join, GC readings included).`,
        `Readings: ${readings.map((r) => `${r.tasks / 1000}k ${formatNumber(mb(r.heap))} MB`).join(", ")}.`
      ]
    }
  }
}
