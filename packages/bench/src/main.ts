/**
 * `pnpm bench [B1 B5 ...] [--no-write] [--load]`: runs the benchmarks (all of them by default), prints each
 * one's tables as it finishes and a summary at the end, and writes docs/benchmarks.md and docs/benchmarks.json
 * (a partial run replaces only its own sections there). `--load` runs every benchmark while a load generator
 * keeps one core busy (B5 and B6 always measure a loaded phase of their own as well).
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { loadavg } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { b1 } from "./b1-overhead.js"
import { b10 } from "./b10-cluster.js"
import { b2 } from "./b2-scale.js"
import { b3 } from "./b3-retention.js"
import { b4 } from "./b4-spawn.js"
import { b5 } from "./b5-revoke-latency.js"
import { b6 } from "./b6-escalation.js"
import { b7 } from "./b7-mass-revoke.js"
import { b8 } from "./b8-output.js"
import { b9 } from "./b9-remote.js"
import type { Benchmark } from "./benchmark.js"
import { canCollect } from "./harness.js"
import { withLoad } from "./load.js"
import { sweep } from "./procfs.js"
import {
  type BenchResult,
  machineInfo,
  mergeResults,
  readReport,
  renderBenchmark,
  renderMarkdown,
  type Report,
  summaryTable
} from "./report.js"

const benchmarks: ReadonlyArray<Benchmark> = [b1, b2, b3, b4, b5, b6, b7, b8, b9, b10]

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..")
const docsDir = join(packageDir, "..", "..", "docs")
const PACKAGES = [
  "effect",
  "@effect/platform-node",
  "@effect-tasks/core",
  "@effect-tasks/node",
  "@effect-tasks/server",
  "@effect-tasks/cluster",
  "@effect/sql-pg",
  "execa",
  "p-queue",
  "tree-kill",
  "concurrently"
]

const log = (line: string) => {
  process.stderr.write(`${line}\n`)
}

const main = async () => {
  const args = process.argv.slice(2).filter((arg) => arg !== "--")
  const write = !args.includes("--no-write")
  const loaded = args.includes("--load")
  const wanted = args.filter((arg) => !arg.startsWith("--")).map((arg) => arg.toUpperCase())
  const unknown = wanted.filter((id) => !benchmarks.some((b) => b.id === id))
  if (unknown.length > 0) {
    console.error(`unknown benchmark ${unknown.join(", ")}; known: ${benchmarks.map((b) => b.id).join(" ")}`)
    process.exit(2)
  }
  if (!canCollect()) console.error("warning: run node with --expose-gc, or heap figures are not comparable")
  const selected = wanted.length === 0 ? benchmarks : benchmarks.filter((b) => wanted.includes(b.id))
  const ids = wanted.length === 0 ? [] : selected.map((b) => b.id)
  const command = ["pnpm bench", ...ids, ...(loaded ? ["--load"] : [])].join(" ")
  const machine = machineInfo(packageDir, PACKAGES)

  const results: Array<BenchResult> = []
  for (const benchmark of selected) {
    log(`${benchmark.id} ${benchmark.title} ...`)
    const loadBefore = loadavg()[0]!
    const started = performance.now()
    const outcome = loaded && benchmark.loadsItself !== true
      ? await withLoad(async (load) => {
        const measured = await benchmark.run({ log })
        return { ...measured, notes: [`Run under load (\`--load\`): ${load.description}.`, ...measured.notes] }
      })
      : await benchmark.run({ log })
    const swept = sweep()
    const seconds = (performance.now() - started) / 1000
    const notes = swept === 0 ? outcome.notes : [
      ...outcome.notes,
      `After the benchmark, ${swept} of its processes were still alive and were SIGKILLed by the runner.`
    ]
    const result: BenchResult = {
      id: benchmark.id,
      title: benchmark.title,
      ...outcome,
      notes,
      seconds,
      date: new Date().toISOString(),
      command,
      loadAverage: [loadBefore, loadavg()[0]!]
    }
    results.push(result)
    console.log(`${renderBenchmark(result)}\n`)
  }

  console.log(`## Summary\n\n${summaryTable(results)}\n`)

  if (write) {
    const jsonPath = join(docsDir, "benchmarks.json")
    const earlier = wanted.length === 0 ? undefined : readReport(jsonPath)
    const report: Report = {
      date: new Date().toISOString(),
      command,
      machine,
      benchmarks: mergeResults(earlier?.benchmarks ?? [], results)
    }
    mkdirSync(docsDir, { recursive: true })
    writeFileSync(jsonPath, JSON.stringify(report, null, 2) + "\n")
    writeFileSync(join(docsDir, "benchmarks.md"), renderMarkdown(report))
    log(`wrote ${join(docsDir, "benchmarks.md")} and ${jsonPath}`)
  }
  // Layers and spawners may leave timers behind; the figures are written, so leave now.
  process.exit(0)
}

main().catch((error) => {
  sweep()
  console.error(error)
  process.exit(1)
})
