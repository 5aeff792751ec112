/**
 * B2 scale: 10k tasks running at once (sleeping). Time to submit them all, `active`, revoke one by id,
 * `revokeAll`, and heap per running task, against the same number of raw fibers.
 */
import { TaskId, TaskManager } from "@effect-tasks/core"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { atMost, type Benchmark, named, row } from "./benchmark.js"
import { BUDGET } from "./budget.js"
import { heapUsed, measureFigures, median, now, ratio } from "./harness.js"
import { formatNumber, formatRatio } from "./report.js"

export const TASKS = 10_000
const SMALL = 1_000
/** Revokes by id per repeat, each timed on its own; the repeat's figure is their median. */
const REVOKES = 200
const HEAP_TARGET_BYTES = 2048
const GROWTH_TARGET = 2

const sleeping = Effect.sleep("1 hour")

/** The ids to revoke one by one: spread evenly over the whole range, oldest to newest. */
const revokeOrder = (n: number): Array<number> => {
  const picks: Array<number> = []
  for (let k = 0; k < REVOKES; k++) picks.push(Math.floor((k * n) / REVOKES))
  return picks
}

const taskManagerRound = (n: number) =>
  Effect.gen(function*() {
    const tm = yield* TaskManager.TaskManager
    const before = heapUsed()
    const start = now()
    const ids: Array<TaskId.TaskId> = []
    for (let i = 0; i < n; i++) ids[i] = (yield* tm.submit(sleeping)).id
    const submit = now() - start
    const after = heapUsed()
    const activeStart = now()
    const active = yield* tm.active
    const activeMillis = now() - activeStart
    if (active.length !== n) throw new Error(`active: expected ${n} tasks, got ${active.length}`)
    const latencies: Array<number> = []
    for (const index of revokeOrder(n)) {
      const t = now()
      const revoked = yield* tm.revoke(ids[index]!)
      latencies.push(now() - t)
      if (revoked.state !== "REVOKED") throw new Error(`revoke: task ${revoked.id} is ${revoked.state}`)
    }
    const allStart = now()
    const all = yield* tm.revokeAll()
    const revokeAll = now() - allStart
    if (all.length !== n - REVOKES) throw new Error(`revokeAll: expected ${n - REVOKES}, got ${all.length}`)
    return {
      submit,
      active: activeMillis,
      revokeById: median(latencies) * 1000,
      revokeAll,
      heapPerTask: (after - before) / n
    }
  }).pipe(Effect.provide(TaskManager.layerWith({})))

const fiberRound = (n: number) =>
  Effect.gen(function*() {
    const before = heapUsed()
    const start = now()
    const fibers: Array<Fiber.Fiber<void>> = []
    for (let i = 0; i < n; i++) fibers[i] = yield* Effect.forkDetach(sleeping, { startImmediately: true })
    const submit = now() - start
    const after = heapUsed()
    const latencies: Array<number> = []
    const revoked = new Set<number>()
    for (const index of revokeOrder(n)) {
      const t = now()
      yield* Fiber.interrupt(fibers[index]!)
      latencies.push(now() - t)
      revoked.add(index)
    }
    const rest = fibers.filter((_, i) => !revoked.has(i))
    const allStart = now()
    yield* Fiber.interruptAll(rest)
    const revokeAll = now() - allStart
    return { submit, revokeById: median(latencies) * 1000, revokeAll, heapPerTask: (after - before) / n }
  })

const k = (n: number) => `${n / 1000}k`

export const b2: Benchmark = {
  id: "B2",
  title: "scale",
  run: async ({ log }) => {
    const [tm, tmSmall, fibers] = await measureFigures([
      { label: "TaskManager 10k", run: () => Effect.runPromise(taskManagerRound(TASKS)) },
      { label: "TaskManager 1k", run: () => Effect.runPromise(taskManagerRound(SMALL)) },
      { label: "fibers 10k", run: () => Effect.runPromise(fiberRound(TASKS)) }
    ], {
      warmup: 1,
      repeats: 7,
      budget: BUDGET,
      onSample: (label, round, figures) =>
        log(
          `  ${label} #${round + 1}: ${Object.entries(figures).map(([k, v]) => `${k} ${formatNumber(v)}`).join(", ")}`
        )
    })
    const submit = named(tm!["submit"], `TaskManager.TaskManager: submit ${k(TASKS)} sleeping tasks`)
    const forks = named(fibers!["submit"], `forkDetach ${k(TASKS)} sleeping fibers`)
    const active = named(tm!["active"], `TaskManager.TaskManager: active with ${k(TASKS)} running`)
    const revoke = named(tm!["revokeById"], `TaskManager.TaskManager: revoke by id, ${k(TASKS)} running`)
    const revokeSmall = named(tmSmall!["revokeById"], `TaskManager.TaskManager: revoke by id, ${k(SMALL)} running`)
    const interrupt = named(fibers!["revokeById"], `Fiber.interrupt one of ${k(TASKS)} fibers`)
    const revokeAll = named(tm!["revokeAll"], `TaskManager.TaskManager: revokeAll of ${k(TASKS - REVOKES)}`)
    const interruptAll = named(fibers!["revokeAll"], `Fiber.interruptAll of ${k(TASKS - REVOKES)}`)
    const heap = named(tm!["heapPerTask"], `TaskManager.TaskManager: heap per running task`)
    const fiberHeap = named(fibers!["heapPerTask"], `heap per sleeping fiber`)

    const growth = ratio(revoke.samples, revokeSmall.samples, revokeSmall.label).value
    const beyond = heap.stats.median - fiberHeap.stats.median
    return {
      about: [
        `Submits ${k(TASKS)} tasks that sleep for an hour (so all are RUNNING at once) to a fresh`,
        "`TaskManager.layerWith({})`, then times `active`, then revokes",
        `${REVOKES} tasks by id one after another (spread over the id range, each timed; a repeat's figure is`,
        "their median), then `revokeAll` of the rest. Heap is `heapUsed` after a full GC, before and after the",
        `submits, divided by the task count. The same is done at ${k(SMALL)} tasks to see whether a revoke by id`,
        `grows with the number of tasks, and with ${k(TASKS)} raw fibers (\`Effect.forkDetach\`, started at once)`,
        "as the baseline for submit time, heap per fiber, `Fiber.interrupt` and `Fiber.interruptAll`."
      ].join("\n"),
      checks: [
        atMost(
          `revoke by id does not grow with the task count (${k(TASKS)} vs ${k(SMALL)}: at most ${GROWTH_TARGET}x)`,
          growth,
          GROWTH_TARGET,
          `${formatRatio(growth)} (${formatNumber(revoke.stats.median)} us at ${k(TASKS)}, ${
            formatNumber(revokeSmall.stats.median)
          } us at ${k(SMALL)})`
        ),
        atMost(
          "at most 2 KB heap per running task beyond the fiber itself",
          beyond,
          HEAP_TARGET_BYTES,
          `${formatNumber(beyond)} B beyond the fiber (${formatNumber(heap.stats.median)} B per task, ${
            formatNumber(fiberHeap.stats.median)
          } B per fiber)`
        )
      ],
      rows: [
        row(submit, "ms", forks),
        row(forks, "ms"),
        row(active, "ms"),
        row(revoke, "us", interrupt),
        row(revokeSmall, "us", interrupt),
        row(interrupt, "us"),
        row(revokeAll, "ms", interruptAll),
        row(interruptAll, "ms"),
        row(heap, "bytes", fiberHeap),
        row(fiberHeap, "bytes")
      ],
      notes: [
        `The growth criterion (at most ${GROWTH_TARGET}x for ${
          TASKS / SMALL
        }x the tasks) is this benchmark's reading of`
        + " \"does not grow\": a cost linear in the task count would show about 10x.",
        "Heap beyond the fiber is the difference of the two medians (per task minus per fiber).",
        "What a running task keeps (`cd packages/bench && node --expose-gc dist/diagnose.js heap`): its record and"
        + " its live entry, a span, a scope, a context with three services, the TaskContext object, the"
        + " HashMap node, and the closures of the exit observer and the fiber's first step. Deferreds and events"
        + " are created only on demand"
        + (beyond <= HEAP_TARGET_BYTES
          ? `, which keeps a running task within the ${HEAP_TARGET_BYTES} B target in this run.`
          : `; the rest is what the rules require, so the ${HEAP_TARGET_BYTES} B target is missed in this run and`
            + " reported rather than tuned away.")
      ]
    }
  }
}
