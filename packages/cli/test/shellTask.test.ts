import { TaskManager } from "@effect-tasks/core"
import { NodeTaskManager } from "@effect-tasks/node"
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Tasks from "../src/render/tasks.js"
import * as ShellTask from "../src/shellTask.js"

layer(NodeTaskManager.layerWith({ grace: "500 millis" }), { excludeTestServices: true })(
  "ShellTask on real processes",
  (it) => {
    it.effect("its output goes to the task, and it succeeds on exit 0", () =>
      Effect.gen(function*() {
        const tm = yield* TaskManager.TaskManager
        const task = yield* tm.submit(ShellTask.run("printf 'a\\nb'; echo c >&2"))
        const done = yield* tm.await(task.id)
        expect(done.state).toBe("SUCCESS")
        expect(yield* tm.output(task.id)).toMatchObject({ stdout: "a\nb", stderr: "c\n" })
        expect(Tasks.result(done)).toBe("exit 0")
        expect(Tasks.exitCode(done)).toBe(0)
      }))

    it.effect("fails with CommandFailed carrying the exit code", () =>
      Effect.gen(function*() {
        const tm = yield* TaskManager.TaskManager
        const task = yield* tm.submit(ShellTask.run("exit 42"))
        const done = yield* tm.await(task.id)
        expect(done.state).toBe("FAILURE")
        expect(Tasks.commandFailure(done)).toMatchObject({ exitCode: 42 })
        expect(Tasks.exitCode(done)).toBe(42)
        expect(Tasks.finishedText(done)).toBe("exited with code 42")
      }))

    it.effect("fails with CommandFailed carrying the signal when the shell is killed", () =>
      Effect.gen(function*() {
        const tm = yield* TaskManager.TaskManager
        const task = yield* tm.submit(ShellTask.run("kill -9 $$"))
        const done = yield* tm.await(task.id)
        expect(done.state).toBe("FAILURE")
        expect(Tasks.commandFailure(done)).toMatchObject({ signal: "SIGKILL" })
        expect(Tasks.exitCode(done)).toBe(137)
        expect(Tasks.result(done)).toBe("killed by SIGKILL")
      }))

    it.effect("does not wait for a daemon that keeps the pipes open", () =>
      Effect.gen(function*() {
        const tm = yield* TaskManager.TaskManager
        const started = Date.now()
        const task = yield* tm.submit(ShellTask.run("setsid sleep 30 & echo bye"))
        const done = yield* tm.await(task.id)
        expect(done.state).toBe("SUCCESS")
        expect(Date.now() - started).toBeLessThan(5_000)
      }))
  }
)
