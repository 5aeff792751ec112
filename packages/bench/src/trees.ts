/**
 * Process trees to kill, started three ways (in a task, with Effect's own spawner, with execa), and the
 * three ways of killing them (revoke, fiber interruption, tree-kill). Shared by B5, B6 and B7.
 *
 * Every run returns two figures, both in milliseconds from the moment the kill was requested:
 * `returned`, when the kill call returned (revoke, `Fiber.interrupt`, tree-kill's callback), and `gone`, when
 * /proc first showed every process of the tree gone (checked from the moment the call returned, polling
 * every half millisecond; a zombie counts as gone).
 */
import { TaskManager } from "@effect-tasks/core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as ManagedRuntime from "effect/ManagedRuntime"
import { ChildProcess } from "effect/process"
import type { KillOptions } from "effect/process/ChildProcess"
import { ChildProcessSpawner } from "effect/process/ChildProcessSpawner"
import { execa } from "execa"
import treeKill from "tree-kill"
import { now, sleep } from "./harness.js"
import { killSurvivors, type Seen, timeUntilGone, waitForTrees, waitUntil } from "./procfs.js"

/** A shell with two sleeping children: the shape of B5 and B7. */
export const SLEEPERS = "sleep 1000 & sleep 1000 & wait"
/** The same tree, every process ignoring SIGTERM (an ignored signal stays ignored across fork and exec). */
export const STUBBORN = "trap '' TERM; sleep 1000 & sleep 1000 & wait"
/** How many `sleep` processes each script starts. */
export const SLEEPS = 2

/** What one kill run measured. */
export interface KillFigures {
  readonly returned: number
  readonly gone: number
  readonly [figure: string]: number
}

const shell = (script: string, options?: KillOptions) => ChildProcess.make("sh", ["-c", script], options ?? {})

/** Kills whatever a run left behind (a failed kill must not leak into the next run) and reports it. */
const settle = async (tree: ReadonlyArray<Seen>, start: number, returned: number): Promise<KillFigures> => {
  try {
    return { returned, gone: await timeUntilGone(tree, start) }
  } finally {
    killSurvivors(tree)
  }
}

/**
 * Starts `count` tasks, each running `sh -c script` through the task-aware spawner, waits until every
 * shell has its sleeps, then revokes them (one by id, or all with `revokeAll`).
 */
export const revokeTasks = async (
  runtime: ManagedRuntime.ManagedRuntime<TaskManager.TaskManager | ChildProcessSpawner, unknown>,
  script: string,
  count = 1
): Promise<KillFigures> => {
  const tm = await runtime.runPromise(TaskManager.TaskManager.use(Effect.succeed))
  const run = ChildProcessSpawner.use((spawner) => spawner.exitCode(shell(script)))
  const tasks = await runtime.runPromise(Effect.forEach(Array.from({ length: count }), () => tm.submit(run)))
  const pids = await waitUntil("the tasks' shells", () => {
    const pids: Array<number> = []
    for (const task of tasks) {
      const pid = runtime.runSync(tm.get(task.id)).processes[0]?.pid
      if (pid === undefined) return undefined
      pids.push(pid)
    }
    return pids
  }, { interval: 2, timeout: 20_000 })
  const tree = await waitForTrees(pids, SLEEPS)
  const start = now()
  if (count === 1) await runtime.runPromise(tm.revoke(tasks[0]!.id))
  else await runtime.runPromise(tm.revokeAll())
  return settle(tree, start, now() - start)
}

/**
 * Starts `count` fibers, each running `sh -c script` through Effect's own spawner (with `options`, e.g.
 * `forceKillAfter`), waits until every shell has its sleeps, then interrupts the fibers.
 */
export const interruptSpawns = async (
  runtime: ManagedRuntime.ManagedRuntime<ChildProcessSpawner, never>,
  script: string,
  options?: KillOptions,
  count = 1
): Promise<KillFigures> => {
  const started = await runtime.runPromise(
    Effect.forEach(Array.from({ length: count }), () =>
      Effect.gen(function*() {
        const spawner = yield* ChildProcessSpawner
        const pid = yield* Deferred.make<number>()
        const fiber = yield* Effect.forkDetach(
          Effect.scoped(Effect.gen(function*() {
            const handle = yield* spawner.spawn(shell(script, options))
            yield* Deferred.succeed(pid, handle.pid)
            return yield* handle.exitCode
          })),
          { startImmediately: true }
        )
        return { fiber, pid: yield* Deferred.await(pid) }
      }))
  )
  const tree = await waitForTrees(started.map((s) => s.pid), SLEEPS)
  const start = now()
  await runtime.runPromise(Fiber.interruptAll(started.map((s) => s.fiber)))
  return settle(tree, start, now() - start)
}

const treeKillAsync = (pid: number, signal: NodeJS.Signals) =>
  new Promise<void>((resolve) => treeKill(pid, signal, () => resolve()))

/**
 * Starts `count` shells with execa, waits until each has its sleeps, then kills each tree with tree-kill
 * (SIGTERM; with `escalateAfter`, a second tree-kill with SIGKILL that many ms after the first began).
 */
export const treeKillExeca = async (
  script: string,
  options: { readonly escalateAfter?: number; readonly count?: number } = {}
): Promise<KillFigures> => {
  const count = options.count ?? 1
  const subprocesses = Array.from(
    { length: count },
    () => execa("sh", ["-c", script], { reject: false, cleanup: false })
  )
  const tree = await waitForTrees(subprocesses.map((s) => s.pid!), SLEEPS)
  const start = now()
  await Promise.all(subprocesses.map(async (subprocess) => {
    await treeKillAsync(subprocess.pid!, "SIGTERM")
    if (options.escalateAfter !== undefined) {
      await sleep(Math.max(0, start + options.escalateAfter - now()))
      await treeKillAsync(subprocess.pid!, "SIGKILL")
    }
    await subprocess
  }))
  return settle(tree, start, now() - start)
}

/**
 * Why B5 and B6 collect garbage before each run (a note of both): what a major collection adds when it lands
 * inside a revoke, and how that was measured.
 */
export const GC_NOTE = "Garbage is collected before each run, outside the figure, for every subject alike. Without"
  + " it, a major collection cycle (fed by this harness's own /proc polling as much as by the manager) lands inside"
  + " some runs and adds up to about 10 ms to them: `cd packages/bench && node --expose-gc dist/diagnose.js gc`"
  + " alternates runs with and without the collection while one core is busy, and prints both p99s and the"
  + " collection steps seen inside runs. An application's revoke pays such a pause only when one falls due."
