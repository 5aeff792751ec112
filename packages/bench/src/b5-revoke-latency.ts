/**
 * B5 revoke latency: a task running `sh` with two sleeping grandchildren; time from revoke to every process
 * gone, p50 and p99 over 50 runs; against interrupting Effect's own spawner and against execa + tree-kill. Then
 * again (without Effect's spawner) while a load generator keeps the other core busy: the target is for that.
 * Where this process may create cgroups, the task manager also runs with `containment: "cgroup"`.
 */
import { NodeTaskManager } from "@effect-tasks/node"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { rawSpawnerLayer } from "./b4-spawn.js"
import { atMost, type Benchmark, killRows, loadedKillRows, named } from "./benchmark.js"
import { BUDGET } from "./budget.js"
import { detectCgroups } from "./guardian.js"
import { measureFigures, type MeasureOptions } from "./harness.js"
import { withLoad } from "./load.js"
import { formatLatency, formatNumber } from "./report.js"
import { GC_NOTE, interruptSpawns, revokeTasks, SLEEPERS, treeKillExeca } from "./trees.js"

export const RUNS = 50
/** Effect's spawner takes about a second per kill here (it polls a group of zombies), so fewer runs. */
export const EFFECT_RUNS = 10
const TARGET_P99 = 25

const LABELS = {
  task: "TaskManager.revoke",
  cgroup: "TaskManager.revoke, cgroup containment",
  effect: "Effect spawner, fiber interrupted",
  execa: "execa + tree-kill"
} as const

export const b5: Benchmark = {
  id: "B5",
  loadsItself: true,
  title: "revoke latency",
  run: async ({ log }) => {
    const taskRuntime = ManagedRuntime.make(NodeTaskManager.layerWith({ containment: "proc" }))
    const rawRuntime = ManagedRuntime.make(rawSpawnerLayer)
    const hasCgroups = await detectCgroups()
    log(`  cgroup containment: ${hasCgroups ? "available" : "unavailable here"}`)
    const cgroupRuntime = hasCgroups
      ? ManagedRuntime.make(NodeTaskManager.layerWith({ containment: "cgroup" }))
      : undefined
    try {
      const options = (phase: string): MeasureOptions => ({
        warmup: 3,
        repeats: RUNS,
        budget: BUDGET,
        minRepeats: 40,
        // Garbage is collected before each run, outside the figure (see the notes).
        collectBetween: true,
        onSample: (label, round, f) =>
          log(
            `  ${phase}${label} #${round + 1}: gone ${formatNumber(f["gone"]!)} ms, returned ${
              formatNumber(f["returned"]!)
            } ms`
          )
      })
      const revoke = { label: LABELS.task, run: () => revokeTasks(taskRuntime, SLEEPERS) }
      const viaTreeKill = { label: LABELS.execa, run: () => treeKillExeca(SLEEPERS) }
      const contain = cgroupRuntime === undefined
        ? []
        : [{ label: LABELS.cgroup, run: () => revokeTasks(cgroupRuntime, SLEEPERS) }]
      const [task, effect, viaExeca, contained] = await measureFigures([
        revoke,
        { label: LABELS.effect, run: () => interruptSpawns(rawRuntime, SLEEPERS), repeats: EFFECT_RUNS, warmup: 1 },
        viaTreeKill,
        ...contain
      ], options(""))
      const loaded = await withLoad(async (load) => {
        const [loadedTask, loadedExeca, loadedContained] = await measureFigures(
          [revoke, viaTreeKill, ...contain],
          options("loaded: ")
        )
        return { task: loadedTask, execa: loadedExeca, contained: loadedContained, load: load.description }
      })
      const names = { gone: "all gone", returned: "call returned" }
      const { gone, rows } = killRows({ task, effect, execa: viaExeca }, LABELS, named, names)
      const underLoad = loadedKillRows(loaded, LABELS, named, names)
      const cgroupLabels = { task: LABELS.cgroup, effect: LABELS.effect, execa: LABELS.execa }
      const cgroupRows = contained === undefined
        ? undefined
        : killRows({ task: contained, effect, execa: viaExeca }, cgroupLabels, named, names)
      const cgroupUnderLoad = loaded.contained === undefined
        ? undefined
        : loadedKillRows({ ...loaded, task: loaded.contained }, cgroupLabels, named, names)
      const cgroupChecks = cgroupRows === undefined || cgroupUnderLoad === undefined
        ? [{
          target: `cgroup containment: p99 at most ${TARGET_P99} ms (issue 16)`,
          result: "n/a (no cgroup v2 with cgroup.kill that this process may create cgroups in)",
          verdict: "n/a" as const
        }]
        : [
          atMost(
            `cgroup containment: p99 at most ${TARGET_P99} ms while one core is busy (issue 16)`,
            cgroupUnderLoad.gone.stats.p99,
            TARGET_P99,
            formatLatency(cgroupUnderLoad.gone.stats)
          ),
          atMost(
            `cgroup containment: p99 at most ${TARGET_P99} ms, quiet (issue 16)`,
            cgroupRows.gone.stats.p99,
            TARGET_P99,
            formatLatency(cgroupRows.gone.stats)
          )
        ]
      return {
        about: [
          "Each run starts `sh -c 'sleep 1000 & sleep 1000 & wait'`, waits (via /proc) until both sleeps run,",
          "then kills the tree and measures from the kill request until /proc shows the shell and both sleeps gone",
          "(zombies count as gone; /proc is polled every 0.5 ms from the moment the kill call returns, so the",
          "figure is never less than the call itself). The subject is `TaskManager.revoke` (graceful, default",
          "grace 5 s) of a task on `NodeTaskManager.layerWith({ containment: \"proc\" })`. The baselines: `Fiber.interrupt` of a fiber",
          "that spawned the same shell with Effect's own `NodeChildProcessSpawner`, and tree-kill (SIGTERM) on a",
          "shell started with execa, then awaiting the execa promise. The second table half repeats the task",
          "manager and execa while a load generator keeps the other core busy (`pnpm bench --load` puts every",
          "benchmark under that load). Where this process may create cgroups, the same revoke also runs on",
          "`containment: \"cgroup\"` (SIGTERM and SIGCONT to each member of the spawn's cgroup by pid, then",
          "`populated 0` awaited on a watch of `cgroup.events`, with early polls), in both halves."
        ].join("\n"),
        checks: [
          atMost(
            `p99 at most ${TARGET_P99} ms while one core is busy`,
            underLoad.gone.stats.p99,
            TARGET_P99,
            formatLatency(underLoad.gone.stats)
          ),
          atMost(
            `p99 at most ${TARGET_P99} ms, quiet`,
            gone.stats.p99,
            TARGET_P99,
            formatLatency(gone.stats)
          ),
          ...cgroupChecks
        ],
        rows: [
          ...rows,
          ...(cgroupRows === undefined ? [] : cgroupRows.rows.slice(0, 2)),
          ...underLoad.rows,
          ...(cgroupUnderLoad === undefined ? [] : cgroupUnderLoad.rows.slice(0, 2))
        ],
        notes: [
          `Load: ${loaded.load}.`,
          GC_NOTE,
          `Effect's spawner is measured over ${EFFECT_RUNS} runs (plus 1 warm-up) instead of ${RUNS}: each of its kills`
          + " takes about a second here, because after SIGTERM it polls `kill(-pgid, 0)`, which keeps succeeding"
          + " while the orphaned sleeps are zombies that PID 1 reaps late.",
          "The p50 in the target is the median column; p99 is by nearest rank (with 50 runs, the maximum).",
          "Where the time goes (`cd packages/bench && node dist/diagnose.js spans B5`, and `node dist/diagnose.js"
          + " floor` for what the kernel alone needs): the revoke interrupts the task, the spawn's finalizer looks"
          + " at the pids born since the spawn, sends SIGTERM (and SIGCONT) to the group and every member, then"
          + " looks again every 1 to 4 ms until the shell and both sleeps are gone or zombies, and waits for Node"
          + " to report the shell's exit so the record shows its signal. The tail is the machine: each look waits"
          + " for a timer and a core, and on a loaded 2-core box a few of fifty runs wait for one."
        ]
      }
    } finally {
      await Promise.all([taskRuntime.dispose(), rawRuntime.dispose(), cgroupRuntime?.dispose()])
    }
  }
}
