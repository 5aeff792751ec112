/**
 * B7 mass revoke: 200 live process groups, `revokeAll` until all are gone: at most 1 s.
 */
import { NodeTaskManager } from "@effect-tasks/node"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { rawSpawnerLayer } from "./b4-spawn.js"
import { atMost, type Benchmark, killRows, named } from "./benchmark.js"
import { measureFigures } from "./harness.js"
import { formatNumber } from "./report.js"
import { interruptSpawns, revokeTasks, SLEEPERS, treeKillExeca } from "./trees.js"

export const GROUPS = 200
/** Warm-up runs kill fewer groups: a full run takes seconds. */
const WARMUP_GROUPS = 20
const RUNS = 2
/** tree-kill runs `ps` once per process it visits: one run of 200 trees takes many seconds. */
const EXECA_RUNS = 1
const TARGET = 1000

const LABELS = {
  task: "TaskManager.revokeAll",
  effect: "Effect spawner, Fiber.interruptAll",
  execa: "execa + tree-kill each"
} as const

export const b7: Benchmark = {
  id: "B7",
  title: "mass revoke",
  run: async ({ log }) => {
    const taskRuntime = ManagedRuntime.make(NodeTaskManager.layerWith({}))
    const rawRuntime = ManagedRuntime.make(rawSpawnerLayer)
    try {
      const [task, effect, viaExeca] = await measureFigures([
        {
          label: LABELS.task,
          run: ({ warmup }) => revokeTasks(taskRuntime, SLEEPERS, warmup ? WARMUP_GROUPS : GROUPS)
        },
        {
          label: LABELS.effect,
          run: ({ warmup }) => interruptSpawns(rawRuntime, SLEEPERS, undefined, warmup ? WARMUP_GROUPS : GROUPS)
        },
        {
          label: LABELS.execa,
          run: ({ warmup }) => treeKillExeca(SLEEPERS, { count: warmup ? WARMUP_GROUPS : GROUPS }),
          repeats: EXECA_RUNS
        }
      ], {
        warmup: 1,
        repeats: RUNS,
        collectBetween: false,
        onSample: (label, round, f) =>
          log(
            `  ${label} #${round + 1}: gone ${formatNumber(f["gone"]!)} ms, returned ${formatNumber(f["returned"]!)} ms`
          )
      })
      const { gone, rows } = killRows({ task, effect, execa: viaExeca }, LABELS, named, {
        gone: "all gone",
        returned: "call returned"
      })
      return {
        about: [
          `Starts ${GROUPS} tasks, each running \`sh -c 'sleep 1000 & sleep 1000 & wait'\` in its own process group`,
          `(${GROUPS * 3} processes), waits until every shell has both sleeps, then calls \`revokeAll\` and measures`,
          "until /proc shows every one of them gone (as in B5). Baselines: the same shells spawned by Effect's own",
          "spawner in as many fibers, all interrupted with `Fiber.interruptAll`; and started with execa, killed with",
          "tree-kill each (all at once)."
        ].join("\n"),
        checks: [
          atMost(
            `all ${GROUPS} groups gone within 1 s of revokeAll`,
            gone.stats.max,
            TARGET,
            `median ${formatNumber(gone.stats.median)} ms, max ${
              formatNumber(gone.stats.max)
            } ms over ${gone.stats.n} runs`
          )
        ],
        rows,
        notes: [
          "The target is checked against the slowest run (max), not the median.",
          `Runs: ${RUNS} each (${EXECA_RUNS} for execa + tree-kill, whose kills alone take many seconds), after one`
          + ` warm-up run with ${WARMUP_GROUPS} groups; a full run starts ${GROUPS * 3} processes, so more would not`
          + " fit the minute."
        ]
      }
    } finally {
      await Promise.all([taskRuntime.dispose(), rawRuntime.dispose()])
    }
  }
}
