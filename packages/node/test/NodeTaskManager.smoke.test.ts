import { TaskManager } from "@effect-tasks/core"
import { NodeTaskManager } from "@effect-tasks/node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { ChildProcess } from "effect/process"
import { ChildProcessSpawner } from "effect/process/ChildProcessSpawner"
import { readFileSync } from "node:fs"

const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1")
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
    return state !== "Z" && state !== "X"
  } catch {
    return false
  }
}

describe("NodeTaskManager smoke", () => {
  it.live("string helper, revoke with grandchildren, stubborn child", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const spawner = yield* ChildProcessSpawner
      const echo = yield* tm.submit(spawner.string(ChildProcess.make("sh", ["-c", "echo hello; echo err >&2"])))
      expect(yield* tm.join(echo)).toBe("hello\n")
      const done = yield* tm.await(echo.id)
      expect(done.processes.length).toBe(1)
      expect(done.processes[0]!.exitCode).toBe(0)
      const out = yield* tm.output(echo.id)
      expect(out.stdout).toBe("hello\n")
      expect(out.stderr).toBe("err\n")

      const long = yield* tm.submit(
        spawner.exitCode(ChildProcess.make("sh", ["-c", "sleep 1000 & sleep 1000 & trap '' TERM; wait"])),
        { grace: "300 millis" }
      )
      yield* Effect.sleep("300 millis")
      const running = yield* tm.get(long.id)
      const pid = running.processes[0]!.pid
      expect(alive(pid)).toBe(true)
      const start = Date.now()
      const revoked = yield* tm.revoke(long.id)
      const took = Date.now() - start
      expect(revoked.state).toBe("REVOKED")
      expect(alive(pid)).toBe(false)
      console.log("revoke took", took, "ms", JSON.stringify(revoked.processes))
    }).pipe(Effect.provide(NodeTaskManager.layer)))
})
