/**
 * The results of a run and how they are written: one markdown document (summary table, then a section per
 * benchmark with its figures) and one JSON file with every raw sample, plus the machine they came from.
 */
import { execFileSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import * as os from "node:os"
import { dirname, join } from "node:path"
import type { Ratio, Stats } from "./harness.js"

/** Whether a benchmark met its target. `n/a` is for a figure that could not be measured here. */
export type Verdict = "met" | "missed" | "n/a"

/** One line of a benchmark's table: a subject's samples, their statistics and its ratio to a baseline. */
export interface Row {
  readonly label: string
  /** The unit of the samples, e.g. `ms / 100k tasks`, `ms`, `KB / task`. */
  readonly unit: string
  readonly samples: ReadonlyArray<number>
  readonly stats: Stats
  readonly ratio?: Ratio | undefined
}

/** A target and what was measured against it. */
export interface Check {
  /** The target as the issue states it. */
  readonly target: string
  /** The measured figure, in words and numbers. */
  readonly result: string
  readonly verdict: Verdict
}

/** The outcome of one benchmark. */
export interface BenchResult {
  readonly id: string
  readonly title: string
  /** What is measured and how, in a few sentences of markdown. */
  readonly about: string
  readonly checks: ReadonlyArray<Check>
  readonly rows: ReadonlyArray<Row>
  readonly notes: ReadonlyArray<string>
  /** Wall-clock seconds the benchmark took, set-up included. */
  readonly seconds: number
  /** When and by which command this benchmark was measured (a partial rerun keeps the others' own). */
  readonly date: string
  readonly command: string
  /** The 1-minute load average when the benchmark started and when it ended (other work on the machine). */
  readonly loadAverage: readonly [number, number]
}

/** The machine and software the figures come from. */
export interface Machine {
  readonly cpus: number
  readonly cpuModel: string
  readonly memoryGiB: number
  readonly os: string
  readonly node: string
  readonly packages: Readonly<Record<string, string>>
  readonly commit: string
}

/** A whole report. */
export interface Report {
  readonly date: string
  readonly command: string
  readonly machine: Machine
  readonly benchmarks: ReadonlyArray<BenchResult>
}

/** The overall verdict of a benchmark: missed if any check missed, else n/a if any is n/a, else met. */
export const verdictOf = (result: Pick<BenchResult, "checks">): Verdict =>
  result.checks.some((c) => c.verdict === "missed")
    ? "missed"
    : result.checks.some((c) => c.verdict === "n/a")
    ? "n/a"
    : "met"

/** A number with about three significant digits, plain ASCII (no exponent for ordinary magnitudes). */
export const formatNumber = (x: number): string => {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "n/a" : x > 0 ? "inf" : "-inf"
  const abs = Math.abs(x)
  if (abs >= 1000) return Math.round(x).toString()
  if (abs >= 100) return x.toFixed(0)
  if (abs >= 10) return x.toFixed(1)
  if (abs >= 1) return x.toFixed(2)
  if (abs === 0) return "0"
  return x.toPrecision(2)
}

/** A ratio as `1.23x`. */
export const formatRatio = (x: number): string => `${Number.isFinite(x) ? x.toFixed(2) : formatNumber(x)}x`

/** A latency result as the B5 and B6 tables give it: `p50 3.14 ms, p99 7.90 ms over 50 runs`. */
export const formatLatency = (stats: Stats): string =>
  `p50 ${formatNumber(stats.median)} ms, p99 ${formatNumber(stats.p99)} ms over ${stats.n} runs`

const verdictText = (verdict: Verdict): string => verdict === "met" ? "met" : verdict === "missed" ? "MISSED" : "n/a"

/** Escapes the characters that would break a markdown table cell. */
const cell = (text: string): string => text.replace(/\|/g, "\\|").replace(/\n/g, " ")

/**
 * A markdown table laid out the way dprint formats it (cells padded to the column width), so a generated
 * document passes `dprint check` unchanged. `align` marks right-aligned (numeric) columns.
 */
export const table = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  align: ReadonlyArray<"left" | "right"> = []
): string => {
  const all = [header, ...rows].map((row) => row.map(cell))
  // dprint's minimum widths: 1 (a rule of `-`), or 2 for a right-aligned column (`-:`).
  const widths = header.map((_, i) =>
    Math.max(align[i] === "right" ? 2 : 1, ...all.map((row) => (row[i] ?? "").length))
  )
  const pad = (text: string, i: number) => align[i] === "right" ? text.padStart(widths[i]!) : text.padEnd(widths[i]!)
  const line = (row: ReadonlyArray<string>) => `| ${header.map((_, i) => pad(row[i] ?? "", i)).join(" | ")} |`
  const rule = `| ${widths.map((w, i) => align[i] === "right" ? `${"-".repeat(w - 1)}:` : "-".repeat(w)).join(" | ")} |`
  return [line(all[0]!), rule, ...all.slice(1).map(line)].join("\n")
}

/** The ratio column of a row: `1.23x FiberSet.run (rounds 1.10-1.40x)`. */
export const ratioText = (ratio: Ratio | undefined): string => {
  if (ratio === undefined) return ""
  const spread = ratio.perRound === undefined || ratio.perRound.n < 2
    ? ""
    : ` (rounds ${ratio.perRound.min.toFixed(2)}-${formatRatio(ratio.perRound.max)})`
  return `${formatRatio(ratio.value)} ${ratio.against}${spread}`
}

/** A benchmark's figures as a markdown table. */
export const rowsTable = (rows: ReadonlyArray<Row>): string =>
  table(
    ["Measurement", "Unit", "n", "min", "median", "p99", "max", "Ratio (medians)"],
    rows.map((row) => [
      row.label,
      row.unit,
      String(row.stats.n),
      formatNumber(row.stats.min),
      formatNumber(row.stats.median),
      formatNumber(row.stats.p99),
      formatNumber(row.stats.max),
      ratioText(row.ratio)
    ]),
    ["left", "left", "right", "right", "right", "right", "right", "left"]
  )

/** The one-line-per-target summary of every benchmark. */
export const summaryTable = (results: ReadonlyArray<BenchResult>): string =>
  table(
    ["Benchmark", "Target", "Result", "Verdict", "Seconds"],
    results.flatMap((result) =>
      result.checks.map((check, i) => [
        i === 0 ? `${result.id} ${result.title}` : "",
        check.target,
        check.result,
        verdictText(check.verdict),
        i === 0 ? result.seconds.toFixed(1) : ""
      ])
    ),
    ["left", "left", "left", "left", "right"]
  )

/** The section of one benchmark: explanation, targets, figures, notes. */
export const renderBenchmark = (result: BenchResult): string => {
  const parts = [
    `## ${result.id}: ${result.title}`,
    result.about,
    `Measured ${result.date} by \`${result.command}\` in ${result.seconds.toFixed(1)} s, 1-minute load average ${
      result.loadAverage[0].toFixed(2)
    } at the start and ${result.loadAverage[1].toFixed(2)} at the end.`
    + ` Rerun it alone with \`pnpm bench ${result.id}\`.`,
    table(
      ["Target", "Result", "Verdict"],
      result.checks.map((c) => [c.target, c.result, verdictText(c.verdict)])
    ),
    rowsTable(result.rows)
  ]
  if (result.notes.length > 0) parts.push(result.notes.map((note) => `- ${note}`).join("\n"))
  return parts.join("\n\n")
}

/** The machine as a short list. */
export const renderMachine = (machine: Machine): string =>
  [
    `- CPU: ${machine.cpus} x ${machine.cpuModel} (\`nproc\` = ${machine.cpus}), ${machine.memoryGiB} GiB RAM`,
    `- OS: ${machine.os}`,
    `- Node: ${machine.node}`,
    `- Packages: ${Object.entries(machine.packages).map(([name, version]) => `${name} ${version}`).join(", ")}`,
    `- Commit: ${machine.commit}`
  ].join("\n")

/** The whole document. */
export const renderMarkdown = (report: Report): string =>
  [
    "# Benchmarks",
    "<!-- Generated by `pnpm bench` (packages/bench); do not edit by hand: rerun it. -->",
    [
      "Every figure below is measured by `pnpm bench` against a baseline measured in the same run, in interleaved",
      "rounds after warm-up runs, and given as min / median / p99 / max over the repeats; a ratio is the subject's",
      "median over the baseline's median (the per-round range shows the noise). p99 is by nearest rank, so with",
      "fewer than 100 samples it is the maximum. A target that is missed says so; targets are never adjusted to",
      "the figures. The raw samples are in [benchmarks.json](benchmarks.json)."
    ].join("\n"),
    [
      "Run them all with `pnpm bench` (each takes under a minute or two on a 2-core machine) or some of them with",
      "`pnpm bench B5` / `pnpm bench B1 B4`; a partial run replaces only those sections here and in the JSON.",
      "B5 and B6 measure twice: quiet, and while a load generator (a busy-looping process pinned to the other",
      "core) keeps one core busy; `pnpm bench --load` runs every benchmark under that load.",
      "To stay within a minute or so on a loaded machine, a measurement starts no new round after 40 s (B4 and B8:",
      "70 s, for the rounds their close comparisons need) once its minimum rounds have run; the n column shows how",
      "many ran."
    ].join("\n"),
    [
      "To see where the time goes when a target is missed, `packages/bench/dist/diagnose.js` (built by the same",
      "command) records span timelines (`spans B5`), CPU profiles of one subject (`cpu B1`, then `analyze`), the",
      "heap retained per task (`heap`), what each rule of a task costs (`rules`) and the operating system's own",
      "floor for a kill (`floor`); its header comment has the exact commands."
    ].join("\n"),
    `Last run: ${report.date}, \`${report.command}\`.`,
    "## Machine",
    renderMachine(report.machine),
    "## Summary",
    summaryTable(report.benchmarks),
    ...report.benchmarks.map(renderBenchmark)
  ].join("\n\n") + "\n"

/** Merges a partial run into an earlier report: the new results replace those with the same id; order by id. */
export const mergeResults = (
  earlier: ReadonlyArray<BenchResult>,
  fresh: ReadonlyArray<BenchResult>
): Array<BenchResult> => {
  const byId = new Map<string, BenchResult>()
  for (const result of earlier) byId.set(result.id, result)
  for (const result of fresh) byId.set(result.id, result)
  return [...byId.values()].toSorted((a, b) => a.id.localeCompare(b.id, "en", { numeric: true }))
}

/** Reads a report written earlier, or undefined if there is none or it does not parse. */
export const readReport = (path: string): Report | undefined => {
  if (!existsSync(path)) return undefined
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as Report
    return Array.isArray(parsed.benchmarks) ? parsed : undefined
  } catch {
    return undefined
  }
}

const run = (command: string, args: ReadonlyArray<string>, cwd?: string): string | undefined => {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], cwd }).trim()
  } catch {
    return undefined
  }
}

/** The version of an installed package, looked up from `from` upwards through `node_modules`. */
export const packageVersion = (name: string, from: string): string => {
  let dir = from
  while (true) {
    const manifest = join(dir, "node_modules", name, "package.json")
    if (existsSync(manifest)) {
      try {
        return (JSON.parse(readFileSync(manifest, "utf8")) as { version?: string }).version ?? "?"
      } catch {
        return "?"
      }
    }
    const parent = dirname(dir)
    if (parent === dir) return "not installed"
    dir = parent
  }
}

/** Describes this machine: `nproc`, the CPU model from /proc/cpuinfo, memory, OS, node and package versions. */
export const machineInfo = (packageDir: string, packages: ReadonlyArray<string>): Machine => {
  const nproc = Number(run("nproc", []) ?? Number.NaN)
  let cpuModel = os.cpus()[0]?.model ?? "unknown"
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))
    if (match !== null) cpuModel = match[1]!.trim()
  } catch {
    // not Linux: keep what os.cpus() says
  }
  const commit = run("git", ["rev-parse", "--short", "HEAD"], packageDir) ?? "unknown"
  const dirty = run("git", ["status", "--porcelain", "--untracked-files=no"], packageDir)
  return {
    cpus: Number.isFinite(nproc) ? nproc : os.availableParallelism(),
    cpuModel,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30 * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    packages: Object.fromEntries(packages.map((name) => [name, packageVersion(name, packageDir)])),
    commit: dirty === undefined || dirty === "" ? commit : `${commit} (with uncommitted changes)`
  }
}
