/**
 * B1 task overhead: submit and await 100k no-op tasks through `TaskManager` (spans off, as under Effect's
 * default tracer, and on), against raw `Effect.forkDetach` + `Fiber.await`, `FiberSet.run`, and p-queue with
 * plain promises. Metrics are on in every `TaskManager` run: they cannot be turned off.
 */
import { TaskManager } from "@effect-tasks/core"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import PQueue from "p-queue"
import { atMost, type Benchmark, pick, row } from "./benchmark.js"
import { BUDGET } from "./budget.js"
import { measure, now, ratio } from "./harness.js"
import { formatNumber, formatRatio } from "./report.js"

export const TASKS = 100_000
const TARGET = 3.0

/**
 * Submits `n` no-op tasks, then awaits each; returns the milliseconds of both phases. `spans` as in
 * `TaskManagerConfig`: `"auto"` (the default) makes no task span under Effect's default tracer, `"always"` makes
 * one per task.
 */
export const taskManagerRound = (n: number, spans: "auto" | "always" = "auto") =>
  Effect.gen(function*() {
    const tm = yield* TaskManager.TaskManager
    const start = now()
    const tasks: Array<Effect.Success<ReturnType<typeof tm.submit<void>>>> = []
    for (let i = 0; i < n; i++) tasks[i] = yield* tm.submit(Effect.void)
    for (let i = 0; i < n; i++) yield* tm.join(tasks[i]!)
    return now() - start
  }).pipe(Effect.provide(TaskManager.layerWith({ spans })))

const forkDetachRound = (n: number) =>
  Effect.gen(function*() {
    const start = now()
    const fibers: Array<Fiber.Fiber<void>> = []
    for (let i = 0; i < n; i++) fibers[i] = yield* Effect.forkDetach(Effect.void)
    for (let i = 0; i < n; i++) yield* Fiber.await(fibers[i]!)
    return now() - start
  })

const fiberSetRound = (n: number) =>
  Effect.scoped(Effect.gen(function*() {
    const set = yield* FiberSet.make<void>()
    const start = now()
    const fibers: Array<Fiber.Fiber<void>> = []
    for (let i = 0; i < n; i++) fibers[i] = yield* FiberSet.run(set, Effect.void)
    for (let i = 0; i < n; i++) yield* Fiber.await(fibers[i]!)
    return now() - start
  }))

const noop = async () => {}

const pQueueRound = async (n: number) => {
  const queue = new PQueue()
  const start = now()
  const promises: Array<Promise<void>> = []
  for (let i = 0; i < n; i++) promises[i] = queue.add(noop)
  await Promise.all(promises)
  return now() - start
}

export const b1: Benchmark = {
  id: "B1",
  title: "task overhead",
  run: async ({ log }) => {
    const subjects = [
      { label: "TaskManager submit + join", run: () => Effect.runPromise(taskManagerRound(TASKS)) },
      {
        label: "TaskManager submit + join, spans on",
        run: () => Effect.runPromise(taskManagerRound(TASKS, "always"))
      },
      { label: "FiberSet.run + Fiber.await", run: () => Effect.runPromise(fiberSetRound(TASKS)) },
      { label: "Effect.forkDetach + Fiber.await", run: () => Effect.runPromise(forkDetachRound(TASKS)) },
      { label: "p-queue + promises", run: () => pQueueRound(TASKS) }
    ]
    const series = await measure(subjects, {
      warmup: 1,
      repeats: 7,
      budget: BUDGET,
      onSample: (label, round, { value }) => log(`  ${label} #${round + 1}: ${formatNumber(value!)} ms`)
    })
    const [tm, tmSpans, fiberSet, forkDetach, pQueue] = [
      pick(series, "TaskManager submit + join"),
      pick(series, "TaskManager submit + join, spans on"),
      pick(series, "FiberSet.run + Fiber.await"),
      pick(series, "Effect.forkDetach + Fiber.await"),
      pick(series, "p-queue + promises")
    ]
    const vsFiberSet = ratio(tm.samples, fiberSet.samples, fiberSet.label).value
    const spansVsFiberSet = ratio(tmSpans.samples, fiberSet.samples, fiberSet.label).value
    const perTask = (ms: number) => `${formatNumber((ms * 1000) / TASKS)} us/task`
    return {
      about: [
        `Submits ${TASKS / 1000}k no-op tasks (\`Effect.void\`) one after another, then awaits each, and times`,
        "both phases together. A fresh `TaskManager.layerWith({ spans })` (default retention, 1000; metrics on, as",
        "always) is built for every repeat, outside the timing: once with the default `spans: \"auto\"`, which under",
        "Effect's default tracer makes no task span (the target), once with `spans: \"always\"`, a span per task.",
        "The baselines do the same with the same loop: `Effect.forkDetach` then `Fiber.await`; `FiberSet.run` into",
        "one set then `Fiber.await`; and, as the non-Effect peer, p-queue (unbounded concurrency) adding async",
        "no-op functions and awaiting their promises."
      ].join("\n"),
      checks: [
        atMost(
          `within ${TARGET}x of FiberSet.run (spans off, metrics on)`,
          vsFiberSet,
          TARGET,
          `${formatRatio(vsFiberSet)} FiberSet.run (${perTask(tm.stats.median)} vs ${perTask(fiberSet.stats.median)})`
        )
      ],
      rows: [
        row(tm, `ms / ${TASKS / 1000}k tasks`, fiberSet),
        row(tmSpans, `ms / ${TASKS / 1000}k tasks`, fiberSet),
        row(fiberSet, `ms / ${TASKS / 1000}k tasks`),
        row(forkDetach, `ms / ${TASKS / 1000}k tasks`, fiberSet),
        row(pQueue, `ms / ${TASKS / 1000}k tasks`, fiberSet)
      ],
      notes: [
        `Per task (medians): TaskManager ${perTask(tm.stats.median)} (${perTask(tmSpans.stats.median)} with spans, ${
          formatRatio(spansVsFiberSet)
        } FiberSet.run), FiberSet.run ${perTask(fiberSet.stats.median)},`
        + ` forkDetach ${perTask(forkDetach.stats.median)}, p-queue ${perTask(pQueue.stats.median)}.`,
        "Where the time goes (`cd packages/bench && node --cpu-prof --cpu-prof-dir=/tmp/p dist/diagnose.js cpu B1`,"
        + " then `node dist/diagnose.js analyze /tmp/p/<file>.cpuprofile packages/`): a task is a fiber plus what"
        + " the rules ask of it: a scope and three services in its fiber's context (`CurrentTask`, `TaskContext`,"
        + " `Scope`), the wrapper that keeps its body's exit and closes its scope inside the fiber, two immutable"
        + " records (at submit and at finish) with their timestamps, an entry in the records map and in the"
        + " retained history, and metric counts. Already cut: a task that ends while being submitted is written"
        + " to the records once; writes to the records map are applied in batches (one mutation of the map per"
        + " batch, and before any read), and a finished task that retention drops before the next read never"
        + " enters the map; a record a caller keeps points at the final record, not at the task; the task's scope"
        + " is built by a constructor, since `Scope.makeUnsafe()`'s literal runs ten to twenty times slower in a"
        + " process that has run other work, as this one has; metrics are plain counts the registry reads;"
        + " Deferreds and events exist only when someone waits or listens, and a task span only when a tracer"
        + " records it.",
        "Which rule costs what (`cd packages/bench && node --expose-gc dist/diagnose.js rules`): it takes one rule"
        + " at a time out of a patched copy of the built core (the records map, the scope and three services, the"
        + " wrapper, the Clock readings, then all four) and times this round on each copy, on the real core and"
        + " with `FiberSet.run`, each in a process of its own. In its last run here the real core took 2.54x"
        + " `FiberSet.run` and a copy without all four 1.58x: together they were 38% of a task. One at a time,"
        + " none stood out of the machine's noise; the records map, whose writes for dropped tasks are now"
        + " cleared before they are applied, measured as nothing at all."
        + (vsFiberSet <= TARGET
          ? " The target is met in this run, but with little room: the ratio moves by a fifth or more between runs"
            + " here (the rounds column; the baseline varies most), and some runs end above 3x, by the price of"
            + " those rules."
          : " What is left over the target is the price of those rules; the ratio also moves by a fifth or more"
            + " between runs here (the rounds column; the baseline varies most).")
      ]
    }
  }
}
