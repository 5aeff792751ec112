import { TaskManager } from "@effect-tasks/core"
import { NodeTaskManager } from "@effect-tasks/node"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { ChildProcess } from "effect/process"
import { ChildProcessSpawner } from "effect/process/ChildProcessSpawner"
import { freshMarker, killMarked, withMarker } from "./helpers.js"

const MARK = "EFFECT_TASKS_TEST_OWNERSHIP"

describe("ownership does not depend on the caller's layers", () => {
  it.live("Node's plain services provided closer to the program than the manager: the task still owns its processes", () => {
    const marker = freshMarker()
    const sleeper = ChildProcess.make("sleep", ["1000"], { env: { [MARK]: marker }, extendEnv: true })
    return Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const tasks = [
        yield* tm.submit(Effect.scoped(Effect.flatMap(sleeper, (handle) => handle.exitCode))),
        yield* tm.submit(ChildProcessSpawner.use((spawner) => spawner.exitCode(sleeper)))
      ]
      // Both sleepers run; each is on its task's record (the plain spawner would record none).
      const recorded = Effect.forEach(tasks, (task) => tm.get(task.id)).pipe(
        Effect.map((records) => records.map((record) => record.processes.length)),
        Effect.repeat({ until: (counts) => counts.every((n) => n === 1), schedule: Schedule.spaced("10 millis") }),
        Effect.timeout("5 seconds")
      )
      expect(yield* recorded).toEqual([1, 1])
      expect(withMarker(MARK, marker).length).toBe(2)
      for (const task of tasks) expect((yield* tm.revoke(task.id)).state).toBe("REVOKED")
      expect(withMarker(MARK, marker)).toEqual([])
    }).pipe(
      Effect.provide(NodeServices.layer),
      Effect.provide(NodeTaskManager.layerWith({ guardian: false })),
      Effect.ensuring(Effect.sync(() => killMarked(MARK, marker)))
    )
  })
})
