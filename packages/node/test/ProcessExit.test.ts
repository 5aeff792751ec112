/**
 * The signal that killed a process, from `handle.exitCode`'s failure: carried by the error of a process a task
 * started, read from Effect's own text for one started outside a task (this test pins that text).
 */
import { TaskManager } from "@effect-tasks/core"
import { NodeTaskManager, ProcessExit } from "@effect-tasks/node"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import { ChildProcess } from "effect/process"

const killedBy = (signal: string) =>
  Effect.scoped(Effect.gen(function*() {
    const handle = yield* ChildProcess.make("sh", ["-c", `kill -${signal} $$`])
    return yield* Effect.exit(handle.exitCode)
  }))

const failure = (exit: Exit.Exit<unknown, unknown>) => Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined

describe("ProcessExit.signalOf", () => {
  it.live("a process a task started: the signal is carried by the error", () =>
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      for (const signal of ["KILL", "TERM", "INT"]) {
        const exit = yield* tm.run(killedBy(signal))
        const error = failure(exit)
        expect(ProcessExit.signalOf(error)).toBe(`SIG${signal}`)
        // Structurally, not from the text.
        expect((error as { cause?: { signal?: string } }).cause?.signal).toBe(`SIG${signal}`)
      }
    }).pipe(Effect.provide(NodeTaskManager.layerWith({ guardian: false }))))

  it.live("a process started outside a task, by Effect's own spawner: the text it depends on", () =>
    Effect.gen(function*() {
      const error = failure(yield* killedBy("KILL"))
      expect(String((error as { cause?: unknown }).cause)).toContain(
        "Process interrupted due to receipt of signal: 'SIGKILL'"
      )
      expect(ProcessExit.signalOf(error)).toBe("SIGKILL")
    }).pipe(Effect.provide(NodeTaskManager.layerWith({ guardian: false }))))

  it("anything else has no signal", () => {
    expect(ProcessExit.signalOf(new Error("exit 3"))).toBeUndefined()
    expect(ProcessExit.signalOf(undefined)).toBeUndefined()
    expect(ProcessExit.signalOf({ signal: "not a signal" })).toBeUndefined()
  })
})
