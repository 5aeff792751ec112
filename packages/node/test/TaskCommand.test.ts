/**
 * `TaskCommand.run`: a command as a task's work, with real processes. Its exit decides the task's state, a
 * failure carries the code or signal and the stderr tail, and stdin is at end-of-file.
 */
import { TaskManager, TrackedTask } from "@effect-tasks/core"
import { NodeTaskManager, TaskCommand } from "@effect-tasks/node"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Stream } from "effect"
import { ChildProcess } from "effect/process"

const sh = (script: string, options?: ChildProcess.CommandOptions) => ChildProcess.make("sh", ["-c", script], options)

/** The typed error a finished task failed with. */
const failureOf = (task: TrackedTask.TrackedTask) => {
  if (task.exit === undefined || Exit.isSuccess(task.exit)) return undefined
  return Cause.findErrorOption(task.exit.cause).pipe((found) => found._tag === "Some" ? found.value : undefined)
}

const layer = NodeTaskManager.layerWith({ guardian: false })

describe("TaskCommand.run", () => {
  it.live("exit 0 is SUCCESS; exit 3 is FAILURE with CommandFailed, its code and the stderr tail", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const ok = yield* tm.submit(TaskCommand.run(sh("echo fine")))
      const bad = yield* tm.submit(TaskCommand.run(sh("echo checking; echo 'config.yml not found' >&2; exit 3")))
      expect((yield* tm.await(ok.id)).state).toBe("SUCCESS")
      const failed = yield* tm.await(bad.id)
      expect(failed.state).toBe("FAILURE")
      const error = failureOf(failed)
      expect(error).toBeInstanceOf(TaskCommand.CommandFailed)
      expect(error).toMatchObject({ exitCode: 3, stderr: "config.yml not found\n" })
      expect((error as TaskCommand.CommandFailed).command).toContain("exit 3")
      expect(TrackedTask.toJson(failed).error).toBe("CommandFailed: exit 3")
      // Its output went to the task as any process's does.
      expect((yield* tm.output(bad.id)).stdout).toBe("checking\n")
    }).pipe(Effect.provide(layer)))

  it.live("a command killed by a signal fails with the signal", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const task = yield* tm.submit(TaskCommand.run(sh("echo bye >&2; kill -9 $$")))
      const done = yield* tm.await(task.id)
      expect(done.state).toBe("FAILURE")
      expect(failureOf(done)).toMatchObject({ _tag: "CommandFailed", signal: "SIGKILL", stderr: "bye\n" })
      expect(TrackedTask.toJson(done).error).toBe("CommandFailed: killed by SIGKILL")
    }).pipe(Effect.provide(layer)))

  it.live("a program that does not exist fails with the spawner's PlatformError", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const task = yield* tm.submit(TaskCommand.run(ChildProcess.make("no-such-program-effect-tasks", [])))
      const done = yield* tm.await(task.id)
      expect(done.state).toBe("FAILURE")
      expect(failureOf(done)).toMatchObject({ _tag: "PlatformError" })
    }).pipe(Effect.provide(layer)))

  it.live("stdin is at end-of-file: cat, read and python's input() end at once", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const cat = yield* tm.submit(TaskCommand.run(sh("cat; echo after cat")))
      const read = yield* tm.submit(TaskCommand.run(sh("read x; echo \"read gave $?\"")))
      const python = yield* tm.submit(TaskCommand.run(ChildProcess.make("python3", ["-c", "input()"])))
      // A pipeline: its first command reads the stdin, which is at end-of-file too.
      const piped = yield* tm.submit(
        TaskCommand.run(ChildProcess.make("cat").pipe(ChildProcess.pipeTo(ChildProcess.make("wc", ["-c"]))))
      )
      // A deadline with a wide margin: before, these waited for ever on an open pipe.
      const all = yield* Effect.forEach([cat, read, python, piped], (task) => tm.await(task.id)).pipe(
        Effect.timeout("10 seconds")
      )
      expect(all.map((task) => task.state)).toEqual(["SUCCESS", "SUCCESS", "FAILURE", "SUCCESS"])
      expect((yield* tm.output(piped.id)).stdout.trim()).toBe("0")
      expect((yield* tm.output(cat.id)).stdout).toBe("after cat\n")
      expect((yield* tm.output(read.id)).stdout).toBe("read gave 1\n")
      expect(failureOf(all[2]!)).toMatchObject({ exitCode: 1, stderr: expect.stringContaining("EOFError") })
    }).pipe(Effect.provide(layer)))

  it.live("a command that chose its stdin keeps it; onStart gets the handle to feed it", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const task = yield* tm.submit(
        TaskCommand.run(sh("tr a-z A-Z", { stdin: "pipe" }), {
          onStart: (handle) =>
            Stream.run(Stream.make(new TextEncoder().encode("shout\n")), handle.stdin).pipe(Effect.orDie)
        })
      )
      expect((yield* tm.await(task.id)).state).toBe("SUCCESS")
      expect((yield* tm.output(task.id)).stdout).toBe("SHOUT\n")
    }).pipe(Effect.provide(layer)))

  it.live("the stderr tail is bounded", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const task = yield* tm.submit(
        TaskCommand.run(sh("head -c 100000 /dev/zero | tr '\\0' x >&2; echo END >&2; exit 7"), { stderrTail: 100 })
      )
      const error = failureOf(yield* tm.await(task.id)) as TaskCommand.CommandFailed
      expect(error.exitCode).toBe(7)
      expect(error.stderr).toBe(`${"x".repeat(96)}END\n`)
    }).pipe(Effect.provide(layer)))

  it.live("outside a task it reads and drops the output, so a command that prints a lot never blocks", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(TaskCommand.run(sh("head -c 2000000 /dev/zero; exit 2")))
      expect(exit._tag).toBe("Failure")
      const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
      expect(error?._tag === "Some" ? error.value : undefined).toMatchObject({ _tag: "CommandFailed", exitCode: 2 })
      yield* TaskCommand.run(sh("head -c 2000000 /dev/zero >&2"))
    }).pipe(Effect.timeout("20 seconds"), Effect.provide(NodeServices.layer)))
})
