/**
 * The manager's metrics, kept as plain numbers. An Effect metric looks its series up in the registry on
 * every update; a task would pay four look-ups. Instead the counts live here, shared by every manager that
 * reports to the same registry (with the same metric attributes), and the registry reads them when a
 * snapshot is taken.
 *
 * @internal
 */
import * as Context from "effect/Context"
import { constVoid } from "effect/Function"
import * as Metric from "effect/Metric"

/** @internal */
export interface Counts {
  submitted: number
  success: number
  failure: number
  revoked: number
  running: number
}

const tasksSubmitted = Metric.counter("effect_tasks_submitted_total", {
  description: "Tasks submitted to a task manager",
  incremental: true
})
const tasksFinished = (state: "SUCCESS" | "FAILURE" | "REVOKED") =>
  Metric.counter("effect_tasks_finished_total", {
    description: "Tasks that reached a terminal state, by state",
    incremental: true,
    attributes: { state }
  })
const tasksRunning = Metric.gauge("effect_tasks_running", { description: "Tasks running now" })

const shared = new WeakMap<object, Map<string, Counts>>()

const counter = (read: () => number): Metric.Metric.Hooks<number, Metric.CounterState<number>> => ({
  get: () => ({ count: read(), incremental: true }),
  update: constVoid,
  modify: constVoid
})

/**
 * The counts a manager built in `context` updates. Registered on every call: the registry then reads these
 * counts even if something replaced or removed the series since the last manager was built.
 *
 * @internal
 */
export const make = (context: Context.Context<never>): Counts => {
  const registry = Context.get(context, Metric.MetricRegistry)
  const attributes = Context.get(context, Metric.CurrentMetricAttributes)
  const key = JSON.stringify(Object.entries(attributes).toSorted(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  let byAttributes = shared.get(registry)
  if (byAttributes === undefined) {
    byAttributes = new Map()
    shared.set(registry, byAttributes)
  }
  let counts = byAttributes.get(key)
  if (counts === undefined) {
    counts = { submitted: 0, success: 0, failure: 0, revoked: 0, running: 0 }
    byAttributes.set(key, counts)
  }
  const c = counts
  Metric.registerUnsafe(tasksSubmitted, context, counter(() => c.submitted))
  Metric.registerUnsafe(tasksFinished("SUCCESS"), context, counter(() => c.success))
  Metric.registerUnsafe(tasksFinished("FAILURE"), context, counter(() => c.failure))
  Metric.registerUnsafe(tasksFinished("REVOKED"), context, counter(() => c.revoked))
  Metric.registerUnsafe(tasksRunning, context, {
    get: () => ({ value: c.running }),
    update: constVoid,
    modify: constVoid
  })
  return counts
}
