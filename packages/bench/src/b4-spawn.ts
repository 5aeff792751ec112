/**
 * B4 spawn overhead: 200 runs of `true`, each in its own task, against Effect's `ChildProcess` with no task
 * and against execa; plus, once issue 7's guardian exists, the same with the guardian on.
 */
import { TaskManager } from "@effect-tasks/core"
import { NodeTaskManager } from "@effect-tasks/node"
import * as NodeChildProcessSpawner from "@effect/platform-node/NodeChildProcessSpawner"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import type { ChildProcessSpawner } from "effect/process/ChildProcessSpawner"
import { execa } from "execa"
import { atMost, type Benchmark, pick, row } from "./benchmark.js"
import { BUDGET } from "./budget.js"
import {
  detectCgroups,
  detectGuardian,
  GUARDIAN_NA,
  guardianConfig,
  makeStateDirectory,
  spawnTrue
} from "./guardian.js"
import { measure, now, type Phase, ratio, type Subject } from "./harness.js"
import { type Check, formatNumber, formatRatio } from "./report.js"

export const RUNS = 200
/** A warm-up run spawns fewer: it only has to warm the code paths. */
const WARMUP_RUNS = 40
const TARGET = 1.15
const GUARDIAN_TARGET = 1.05

/** The raw spawner, as an application without effect-tasks would provide it. */
export const rawSpawnerLayer = NodeChildProcessSpawner.layer.pipe(
  Layer.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer))
)

const runs = (phase: Phase) => phase.warmup ? WARMUP_RUNS : RUNS

const LABELS = {
  task: "TaskManager.run(spawn true)",
  cgroup: "TaskManager.run(spawn true), cgroup containment",
  guardian: "TaskManager.run(spawn true), guardian on",
  raw: "Effect ChildProcess, no task",
  execa: "execa"
} as const

const inTasks =
  (runtime: ManagedRuntime.ManagedRuntime<TaskManager.TaskManager | ChildProcessSpawner, unknown>) => (phase: Phase) =>
    runtime.runPromise(Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const start = now()
      for (let i = 0; i < runs(phase); i++) yield* tm.run(spawnTrue)
      return now() - start
    }))

export const b4: Benchmark = {
  id: "B4",
  title: "spawn overhead",
  run: async ({ log }) => {
    const state = makeStateDirectory()
    const hasGuardian = await detectGuardian(state.path)
    log(`  guardian: ${hasGuardian ? "available" : "not built yet"}`)
    const taskRuntime = ManagedRuntime.make(NodeTaskManager.layerWith(guardianConfig(false, state.path)))
    const guardianRuntime = hasGuardian
      ? ManagedRuntime.make(NodeTaskManager.layerWith(guardianConfig(true, state.path)))
      : undefined
    const rawRuntime = ManagedRuntime.make(rawSpawnerLayer)
    const hasCgroups = await detectCgroups()
    log(`  cgroup containment: ${hasCgroups ? "available" : "unavailable here"}`)
    const cgroupRuntime = hasCgroups
      ? ManagedRuntime.make(NodeTaskManager.layerWith({ guardian: false, containment: "cgroup" }))
      : undefined

    const subjects: Array<Subject> = [
      { label: LABELS.task, run: inTasks(taskRuntime) },
      {
        label: LABELS.raw,
        run: (phase) =>
          rawRuntime.runPromise(Effect.gen(function*() {
            const start = now()
            for (let i = 0; i < runs(phase); i++) yield* spawnTrue
            return now() - start
          }))
      },
      {
        label: LABELS.execa,
        run: async (phase) => {
          const start = now()
          for (let i = 0; i < runs(phase); i++) await execa("true")
          return now() - start
        }
      }
    ]
    if (guardianRuntime !== undefined) subjects.push({ label: LABELS.guardian, run: inTasks(guardianRuntime) })
    if (cgroupRuntime !== undefined) subjects.push({ label: LABELS.cgroup, run: inTasks(cgroupRuntime) })

    try {
      const series = await measure(subjects, {
        warmup: 1,
        // The guardian's target leaves 5% and one round of five subjects varies by more than that on a shared
        // machine: more rounds, with the time they need, so the medians settle.
        repeats: 11,
        budget: BUDGET * 1.75,
        onSample: (label, round, { value }) => log(`  ${label} #${round + 1}: ${formatNumber(value!)} ms`)
      })
      const task = pick(series, LABELS.task)
      const raw = pick(series, LABELS.raw)
      const viaExeca = pick(series, LABELS.execa)
      const vsRaw = ratio(task.samples, raw.samples, raw.label).value
      const perSpawn = (ms: number) => `${formatNumber(ms / RUNS)} ms/spawn`
      const checks: Array<Check> = [
        atMost(
          "within 1.15x of raw Effect ChildProcess",
          vsRaw,
          TARGET,
          `${formatRatio(vsRaw)} (${perSpawn(task.stats.median)} vs ${perSpawn(raw.stats.median)})`
        )
      ]
      const rows = [
        row(task, `ms / ${RUNS} spawns`, raw),
        row(raw, `ms / ${RUNS} spawns`),
        row(viaExeca, `ms / ${RUNS} spawns`, raw)
      ]
      if (hasGuardian) {
        const guardian = pick(series, LABELS.guardian)
        const onOff = ratio(guardian.samples, task.samples, task.label).value
        checks.push(
          atMost(
            "guardian on within 1.05x of guardian off (issue 7)",
            onOff,
            GUARDIAN_TARGET,
            `${formatRatio(onOff)} (${perSpawn(guardian.stats.median)} vs ${perSpawn(task.stats.median)})`
          )
        )
        rows.splice(1, 0, row(guardian, `ms / ${RUNS} spawns`, task))
      } else {
        checks.push({
          target: "guardian on within 1.05x of guardian off (issue 7)",
          result: GUARDIAN_NA,
          verdict: "n/a"
        })
      }
      let cgroupExtra = 0
      if (hasCgroups) {
        const contained = pick(series, LABELS.cgroup)
        cgroupExtra = contained.stats.median - task.stats.median
        const cgroupVsRaw = ratio(contained.samples, raw.samples, raw.label).value
        checks.push(
          atMost(
            "cgroup containment within 1.15x of raw Effect ChildProcess (issue 16)",
            cgroupVsRaw,
            TARGET,
            `${formatRatio(cgroupVsRaw)} (${perSpawn(contained.stats.median)} vs ${perSpawn(raw.stats.median)})`
          )
        )
        rows.splice(1, 0, row(contained, `ms / ${RUNS} spawns`, raw))
      } else {
        checks.push({
          target: "cgroup containment within 1.15x of raw Effect ChildProcess (issue 16)",
          result: "n/a (no cgroup v2 with cgroup.kill that this process may create cgroups in)",
          verdict: "n/a"
        })
      }
      return {
        about: [
          `Runs \`true\` ${RUNS} times one after another and waits for each exit code. \`TaskManager.TaskManager.run\` gives`,
          "each run its own task on a `NodeTaskManager.layerWith({ guardian: false })`, so every spawn goes through the task-aware",
          "spawner (cookie, identity, registration, output tee, tree kill when the spawn's scope closes and the",
          "task's final sweep). The baselines: the same `spawner.exitCode(ChildProcess.make(\"true\"))` on",
          "`NodeChildProcessSpawner.layer` with no task, and `await execa(\"true\")`. With the guardian of issue 7",
          "built, a fourth subject runs the tasks on a manager with `guardian: true` (journal in a temporary state",
          "directory) and is compared with the guardian off. Where this process may create cgroups (root, or a",
          "delegated cgroup), a fifth subject runs on `layerWith({ guardian: false, containment: \"cgroup\" })`: each",
          "spawn enters a leaf of its task's cgroup through the entry shell (one more exec), and its scope's kill",
          "reads `cgroup.events` instead of walking /proc. The other task subjects use `containment: \"proc\"`."
        ].join("\n"),
        checks,
        rows,
        notes: [
          `Per spawn (medians): in a task ${perSpawn(task.stats.median)}, raw Effect ${perSpawn(raw.stats.median)},`
          + ` execa ${perSpawn(viaExeca.stats.median)}.`,
          "Where the time goes (`node --cpu-prof ... dist/diagnose.js cpu B4`, `node dist/diagnose.js floor`):"
          + " after each `true` exits, the spawn's scope closes and the task proves that nothing it started"
          + " survives. It reads only the pids the kernel handed out since the spawn (bracketed by the pid"
          + " counter, so a child born meanwhile cannot hide) and checks each one's group, session, parent and"
          + " environment cookie; when that first look finds the tree empty, the kill returns without a fiber or"
          + " a turn of the event loop. A range longer than a few walks' worth (a busy machine) is read as a whole"
          + " /proc walk instead. Raw Effect only signals the group and polls it. One callback waits for the exit"
          + " and the pipes' ends. Skipping the look would give up scenarios (d) and (e) of the guarantee.",
          ...(hasGuardian ? [] : ["The guardian variant was skipped: `guardian: true` started no helper process."]),
          hasCgroups
            ? "In cgroup mode the spawn's kill reads its leaf's `cgroup.events` (one read proves it empty) and"
              + ` removes the leaf with one rmdir. What the mode adds to /proc mode is ${perSpawn(cgroupExtra)} in`
              + " this run (the difference of their medians): the entry shell, in which dash starts, moves itself"
              + " into the leaf and execs the command, less what that one read saves against /proc mode's look"
              + " (`node dist/diagnose.js entry 100` times the entry shell alone, as the difference between \"plain"
              + " spawn\" and \"entry shell\", next to the other ways a spawn can enter its cgroup; it varies with the"
              + " machine's load more than the rest). The exec is the price of the rule that a process is in its cgroup before it runs"
              + " anything: Node cannot spawn into a cgroup (libuv has no clone3 with CLONE_INTO_CGROUP), and moving"
              + " the host itself around each spawn was measured and rejected in docs/processes.md (it blocks the"
              + " event loop for an RCU grace period and charges the host's memory to the task). A fixed"
              + " cost per spawn, it weighs more the cheaper a spawn is: the target holds where a raw spawn costs"
              + " more than about seven times the exec, and a command that runs for more than a few milliseconds"
              + " does not see it."
            : "The cgroup variant was skipped: this process cannot create cgroups (needs root or delegation)."
        ]
      }
    } finally {
      await Promise.all([
        taskRuntime.dispose(),
        rawRuntime.dispose(),
        guardianRuntime?.dispose(),
        cgroupRuntime?.dispose()
      ])
      state.remove()
    }
  }
}
