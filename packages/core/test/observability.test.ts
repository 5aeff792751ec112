import { TaskManager } from "@effect-tasks/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Metric, Option, Tracer } from "effect"
import { withManager } from "./helpers.js"

/** A tracer that keeps every span it creates. */
const recordingTracer = () => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span(options) {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return { spans, tracer }
}

/** The current value of a task metric in the given snapshot, by name and (for finished) state. */
const metricValue = (snapshots: ReadonlyArray<Metric.Metric.Snapshot>, id: string, state?: string) => {
  const found = snapshots.find((s) => s.id === id && (state === undefined || s.attributes?.["state"] === state))
  if (found === undefined) return undefined
  const value = found.state as { readonly count?: number; readonly value?: number }
  return value.count ?? value.value
}

// The span a task's code sees: its own when it has one, else the submitter's.
const spanSeenByTask = (tm: TaskManager.TaskManager["Service"]) =>
  Effect.gen(function*() {
    const task = yield* tm.submit(Effect.map(Effect.option(Effect.currentSpan), Option.map((span) => span.name)), {
      name: "probe"
    })
    return yield* tm.join(task)
  }).pipe(Effect.withSpan("submitter"))

describe("rule 11: observability", () => {
  it.effect("spans: \"auto\" skips the task span under Effect's default tracer, which exports nothing", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      expect(yield* spanSeenByTask(tm)).toEqual(Option.some("submitter"))
    }).pipe(withManager()))

  it.effect("spans: \"auto\" gives each task a span once a recording tracer is installed", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const tm = yield* TaskManager.TaskManager
      expect(yield* spanSeenByTask(tm).pipe(Effect.withTracer(tracer))).toEqual(Option.some("probe"))
      expect(spans.map((span) => span.name)).toEqual(["submitter", "probe"])
    }).pipe(withManager()))

  it.effect("spans: \"always\" and \"never\" override the tracer check", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const always = yield* Effect.provide(
        Effect.flatMap(TaskManager.TaskManager, spanSeenByTask),
        TaskManager.layerWith({ spans: "always" })
      )
      expect(always).toEqual(Option.some("probe"))
      const never = yield* Effect.provide(
        Effect.flatMap(TaskManager.TaskManager, spanSeenByTask),
        TaskManager.layerWith({ spans: "never" })
      ).pipe(Effect.withTracer(tracer))
      expect(never).toEqual(Option.some("submitter"))
      // No span for the task (the manager's own shutdown is still traced).
      expect(spans.map((span) => span.name)).not.toContain("probe")
    }))

  it.effect("each task runs in a span named after it, with id and mode attributes, as a child of the submitter", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const tm = yield* TaskManager.TaskManager
      const [ok, failed] = yield* Effect.gen(function*() {
        const ok = yield* tm.submit(Effect.void.pipe(Effect.withSpan("inner step")), { name: "build", mode: "ci" })
        const failed = yield* tm.submit(Effect.fail("no"), { name: "lint" })
        return [ok, failed] as const
      }).pipe(Effect.withSpan("request"), Effect.withTracer(tracer))
      yield* tm.await(ok.id)
      yield* tm.await(failed.id)
      const byName = (name: string) => spans.find((s) => s.name === name)!
      const build = byName("build")
      expect(build.attributes.get("task.id")).toBe(ok.id)
      expect(build.attributes.get("task.mode")).toBe("ci")
      expect(build.status._tag).toBe("Ended")
      expect(build.status._tag === "Ended" && Exit.isSuccess(build.status.exit)).toBe(true)
      // The task's span continues the submitter's trace, and the task's own spans nest under it.
      expect(Option.getOrUndefined(build.parent)?.spanId).toBe(byName("request").spanId)
      expect(Option.getOrUndefined(byName("inner step").parent)?.spanId).toBe(build.spanId)
      const lint = byName("lint")
      expect(lint.attributes.get("task.mode")).toBe("default")
      expect(lint.status._tag === "Ended" && Exit.isFailure(lint.status.exit)).toBe(true)
    }).pipe(withManager()))

  it.effect("a revoked task's span ends with an interruption", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const tm = yield* TaskManager.TaskManager
      const task = yield* tm.submit(Effect.never, { name: "forever" }).pipe(Effect.withTracer(tracer))
      expect(spans.map((s) => [s.name, s.status._tag])).toEqual([["forever", "Started"]])
      yield* tm.revoke(task.id)
      const [span] = spans
      expect(span!.status._tag === "Ended" && Exit.hasInterrupts(span!.status.exit)).toBe(true)
    }).pipe(withManager()))

  it.effect("metrics count tasks submitted, finished by state, and running now", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      yield* Effect.forEach([1, 2, 3], () => tm.submit(Effect.void))
      yield* Effect.forEach([1, 2], () => tm.submit(Effect.fail("x")))
      yield* tm.submit(Effect.die("y"))
      const hanging = yield* Effect.forEach([1, 2], () => tm.submit(Effect.never))
      yield* tm.submit(Effect.never, { mode: "one" })
      yield* tm.submit(Effect.never, { mode: "one" }) // QUEUED: not running
      yield* tm.revoke(hanging[0]!.id)
      const during = yield* Metric.snapshot
      expect(metricValue(during, "effect_tasks_submitted_total")).toBe(10)
      expect(metricValue(during, "effect_tasks_finished_total", "SUCCESS")).toBe(3)
      expect(metricValue(during, "effect_tasks_finished_total", "FAILURE")).toBe(3)
      expect(metricValue(during, "effect_tasks_finished_total", "REVOKED")).toBe(1)
      expect(metricValue(during, "effect_tasks_running")).toBe(2)
      yield* tm.shutdown
      const after = yield* Metric.snapshot
      expect(metricValue(after, "effect_tasks_submitted_total")).toBe(10)
      expect(metricValue(after, "effect_tasks_finished_total", "REVOKED")).toBe(4)
      expect(metricValue(after, "effect_tasks_running")).toBe(0)
    }).pipe(withManager({ concurrency: { one: 1 } }), Effect.provideService(Metric.MetricRegistry, new Map())))
})
