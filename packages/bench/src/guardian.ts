/**
 * The hook for B4's guardian variant (issue 7: a guardian process per manager, `guardian: true` in
 * `NodeTaskManager.layerWith`).
 *
 * The option is passed through a cast so this package compiles against a `@effect-tasks/node` with or
 * without it; whether the installed version really starts a guardian is then checked by behaviour, not by
 * type: a manager built with `guardian: true` must own one more live child process of this process than a
 * manager built without it. If it does not, B4 reports the variant as n/a.
 */
import { TaskManager } from "@effect-tasks/core"
import { NodeTaskManager } from "@effect-tasks/node"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { ChildProcess } from "effect/process"
import { ChildProcessSpawner } from "effect/process/ChildProcessSpawner"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { liveDescendants } from "./procfs.js"

/** Runs `true` and fails unless it exits with 0. */
export const spawnTrue = ChildProcessSpawner.use((spawner) =>
  Effect.flatMap(
    spawner.exitCode(ChildProcess.make("true")),
    (code) => code === 0 ? Effect.void : Effect.die(new Error(`true exited with ${code}`))
  )
)

/** A private state directory for the guardian's journal, so a benchmark never writes to the user's. */
export const makeStateDirectory = (): { readonly path: string; readonly remove: () => void } => {
  const path = mkdtempSync(join(tmpdir(), "effect-tasks-bench-"))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

/**
 * The config of a Node task manager with the guardian on or off, in `/proc` containment (B4 measures cgroup
 * containment as a subject of its own).
 */
export const guardianConfig = (on: boolean, stateDirectory: string) =>
  on
    ? { guardian: true, stateDirectory, containment: "proc" as const }
    : { guardian: false, containment: "proc" as const }

/**
 * Whether `guardian: true` starts a guardian: builds a manager with it, runs one task that spawns `true`,
 * and counts this process's live descendants with the manager still open (the guardian lives as long as the
 * manager), against the count before.
 */
export const detectGuardian = async (stateDirectory: string): Promise<boolean> => {
  const before = liveDescendants(process.pid).length
  const runtime = ManagedRuntime.make(NodeTaskManager.layerWith(guardianConfig(true, stateDirectory)))
  try {
    await runtime.runPromise(TaskManager.TaskManager.use((tm) => tm.run(spawnTrue)))
    // Give a lazily started guardian a moment.
    await new Promise((resolve) => setTimeout(resolve, 200))
    return liveDescendants(process.pid).length > before
  } catch {
    return false
  } finally {
    await runtime.dispose().catch(() => undefined)
  }
}

/**
 * Whether this process can run a manager with `containment: "cgroup"` (cgroup v2 with `cgroup.kill`, and the right
 * to create cgroups): builds one and runs one task.
 */
export const detectCgroups = async (): Promise<boolean> => {
  const runtime = ManagedRuntime.make(NodeTaskManager.layerWith({ guardian: false, containment: "cgroup" }))
  try {
    await runtime.runPromise(TaskManager.TaskManager.use((tm) => tm.run(spawnTrue)))
    return true
  } catch {
    return false
  } finally {
    await runtime.dispose().catch(() => undefined)
  }
}

/** For the report: why the guardian variant was not measured. */
export const GUARDIAN_NA = "n/a (guardian not built yet)"
