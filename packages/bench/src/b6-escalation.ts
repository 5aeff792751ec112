/**
 * B6 escalation accuracy: a child that traps SIGTERM, grace 300 ms: time to gone minus 300 ms, p99 at most
 * 30 ms; against Effect's spawner with `forceKillAfter` and a hand-rolled tree-kill escalation. Then again
 * (without Effect's spawner) while a load generator keeps the other core busy: the target is for that.
 */
import { NodeTaskManager } from "@effect-tasks/node"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { rawSpawnerLayer } from "./b4-spawn.js"
import { atMost, type Benchmark, killRows, loadedKillRows } from "./benchmark.js"
import { BUDGET } from "./budget.js"
import { measureFigures, type MeasureOptions, type Series, stats } from "./harness.js"
import { withLoad } from "./load.js"
import { formatLatency, formatNumber } from "./report.js"
import { GC_NOTE, interruptSpawns, revokeTasks, STUBBORN, treeKillExeca } from "./trees.js"

export const RUNS = 50
const EFFECT_RUNS = 6
const EXECA_RUNS = 15
const GRACE = 300
const TARGET_P99 = 30

const LABELS = {
  task: "TaskManager.revoke, grace 300 ms",
  effect: "Effect spawner, forceKillAfter 300 ms",
  execa: "execa + tree-kill, SIGKILL after 300 ms"
} as const

const late = (series: Series | undefined, label: string): Series => {
  if (series === undefined) throw new Error(`missing figures for ${label}`)
  const samples = series.samples.map((ms) => ms - GRACE)
  return { label, samples, stats: stats(samples) }
}

export const b6: Benchmark = {
  id: "B6",
  loadsItself: true,
  title: "escalation accuracy",
  run: async ({ log }) => {
    const taskRuntime = ManagedRuntime.make(NodeTaskManager.layerWith({ grace: `${GRACE} millis` }))
    const rawRuntime = ManagedRuntime.make(rawSpawnerLayer)
    try {
      const options = (phase: string): MeasureOptions => ({
        warmup: 2,
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
      const revoke = { label: LABELS.task, run: () => revokeTasks(taskRuntime, STUBBORN) }
      const viaTreeKill = {
        label: LABELS.execa,
        run: () => treeKillExeca(STUBBORN, { escalateAfter: GRACE }),
        repeats: EXECA_RUNS
      }
      const [task, effect, viaExeca] = await measureFigures([
        revoke,
        {
          label: LABELS.effect,
          run: () => interruptSpawns(rawRuntime, STUBBORN, { forceKillAfter: `${GRACE} millis` }),
          repeats: EFFECT_RUNS,
          warmup: 1
        },
        viaTreeKill
      ], options(""))
      const loaded = await withLoad(async (load) => {
        const [loadedTask, loadedExeca] = await measureFigures([revoke, viaTreeKill], options("loaded: "))
        return { task: loadedTask, execa: loadedExeca, load: load.description }
      })
      const names = { gone: "gone - 300 ms", returned: "call returned - 300 ms" }
      const { gone: over, rows } = killRows({ task, effect, execa: viaExeca }, LABELS, late, names)
      const underLoad = loadedKillRows(loaded, LABELS, late, names)
      return {
        about: [
          "Each run starts `sh -c \"trap '' TERM; sleep 1000 & sleep 1000 & wait\"`: the shell and both sleeps",
          "ignore SIGTERM, so only the escalation to SIGKILL ends them. It waits until both sleeps run, requests the",
          "kill, and measures until /proc shows all three gone (as in B5), minus the 300 ms grace: the figure is how",
          "late the escalation lands. The subject is `TaskManager.revoke` on `NodeTaskManager.layerWith({ grace:",
          "\"300 millis\" })`. Baselines: `Fiber.interrupt` of Effect's own spawner with `forceKillAfter: \"300 millis\"`",
          "and a hand-rolled tree-kill escalation (tree-kill SIGTERM, then tree-kill SIGKILL 300 ms after the start).",
          "The second table half repeats the task manager and execa while a load generator keeps the other core busy."
        ].join("\n"),
        checks: [
          atMost(
            `p99 of (time to gone - 300 ms) at most ${TARGET_P99} ms while one core is busy`,
            underLoad.gone.stats.p99,
            TARGET_P99,
            formatLatency(underLoad.gone.stats)
          ),
          atMost(
            `p99 of (time to gone - 300 ms) at most ${TARGET_P99} ms, quiet`,
            over.stats.p99,
            TARGET_P99,
            formatLatency(over.stats)
          )
        ],
        rows: [...rows, ...underLoad.rows],
        notes: [
          `Load: ${loaded.load}.`,
          GC_NOTE,
          `Runs: ${RUNS} for the task manager, ${EFFECT_RUNS} for Effect's spawner (each takes more than a second:`
          + " after SIGKILL it waits up to 1 s for a group that still holds zombies), "
          + `${EXECA_RUNS} for execa + tree-kill, to keep the benchmark within a minute.`,
          "Ratios of these differences compare lateness, not total time; a ratio below 1 means less late."
        ]
      }
    } finally {
      await Promise.all([taskRuntime.dispose(), rawRuntime.dispose()])
    }
  }
}
