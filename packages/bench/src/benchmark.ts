/**
 * What a benchmark module provides, and the helpers they share.
 */
import type { Series } from "./harness.js"
import { ratio } from "./harness.js"
import type { BenchResult, Check, Row } from "./report.js"

/** What a benchmark gets from the runner. */
export interface RunContext {
  /** Progress output (stderr), so stdout carries only the tables. */
  readonly log: (line: string) => void
}

/** What a benchmark measures; the runner adds id, title, timing, date and command. */
export type Outcome = Pick<BenchResult, "about" | "checks" | "rows" | "notes">

/** One benchmark: B1 .. B10. */
export interface Benchmark {
  readonly id: string
  readonly title: string
  readonly run: (context: RunContext) => Promise<Outcome>
  /** It measures a quiet half and a loaded half itself, so `--load` leaves it alone (no load on top of load). */
  readonly loadsItself?: true
}

/** A table row from a series, optionally with its ratio against a baseline series. */
export const row = (series: Series, unit: string, baseline?: Series, label?: string): Row => ({
  label: label ?? series.label,
  unit,
  samples: series.samples,
  stats: series.stats,
  ratio: baseline === undefined ? undefined : ratio(series.samples, baseline.samples, baseline.label)
})

/** A check against an upper bound. */
export const atMost = (target: string, value: number, bound: number, result: string): Check => {
  const verdict = !Number.isFinite(value) ? "n/a" : value <= bound ? "met" : "missed"
  // A miss that rounds to the bound shows the digits that decided it, so the table never reads "1.05x: MISSED"
  // against "within 1.05x" without saying why.
  const hidden = verdict === "missed" && value.toFixed(2) === bound.toFixed(2)
  return { target, result: hidden ? `${result}, ${value.toFixed(4)} unrounded` : result, verdict }
}

/** Finds a series by label (throws on a typo, which is a bug in the benchmark). */
export const pick = (series: ReadonlyArray<Series>, label: string): Series => {
  const found = series.find((s) => s.label === label)
  if (found === undefined) throw new Error(`no series ${label}`)
  return found
}

/** A series under another label; fails loudly if the figure was never measured (a bug in the benchmark). */
export const named = (series: Series | undefined, label: string): Series => {
  if (series === undefined) throw new Error(`missing figures for ${label}`)
  return { ...series, label }
}

/** The figures of one subject of a kill benchmark: when everything was gone, and when the call returned. */
export type KillFigures = Readonly<Record<string, Series | undefined>> | undefined

/**
 * The rows B5, B6 and B7 share: for the task manager and its two baselines (Effect's spawner, execa with
 * tree-kill), "gone" and "call returned", each seen through `view` (a relabelling, or a shift by the grace),
 * with every "gone" row compared with Effect's.
 */
export const killRows = (
  subjects: { readonly task: KillFigures; readonly effect: KillFigures; readonly execa: KillFigures },
  labels: { readonly task: string; readonly effect: string; readonly execa: string },
  view: (series: Series | undefined, label: string) => Series,
  names: { readonly gone: string; readonly returned: string }
) => {
  const gone = view(subjects.task?.["gone"], `${labels.task}: ${names.gone}`)
  const effectGone = view(subjects.effect?.["gone"], `${labels.effect}: ${names.gone}`)
  const execaGone = view(subjects.execa?.["gone"], `${labels.execa}: ${names.gone}`)
  const rows: Array<Row> = [
    row(gone, "ms", effectGone),
    row(view(subjects.task?.["returned"], `${labels.task}: ${names.returned}`), "ms"),
    row(effectGone, "ms"),
    row(view(subjects.effect?.["returned"], `${labels.effect}: ${names.returned}`), "ms"),
    row(execaGone, "ms", effectGone),
    row(view(subjects.execa?.["returned"], `${labels.execa}: ${names.returned}`), "ms")
  ]
  return { gone, effectGone, execaGone, rows }
}

/** The figures of a kill benchmark's second phase, measured while `withLoad` keeps one core busy. */
export interface LoadedKillFigures {
  readonly task: KillFigures
  readonly execa: KillFigures
  /** What the load was (for the notes). */
  readonly load: string
}

/**
 * The rows of the loaded phase of B5 and B6: the task manager and execa with tree-kill (Effect's spawner is
 * left out: at a second per kill it would double the benchmark's time), "gone" compared with execa's.
 */
export const loadedKillRows = (
  figures: LoadedKillFigures,
  labels: { readonly task: string; readonly execa: string },
  view: (series: Series | undefined, label: string) => Series,
  names: { readonly gone: string; readonly returned: string }
) => {
  const busy = "one core busy"
  const gone = view(figures.task?.["gone"], `${labels.task}: ${names.gone}, ${busy}`)
  const execaGone = view(figures.execa?.["gone"], `${labels.execa}: ${names.gone}, ${busy}`)
  const rows: Array<Row> = [
    row(gone, "ms", execaGone),
    row(view(figures.task?.["returned"], `${labels.task}: ${names.returned}, ${busy}`), "ms"),
    row(execaGone, "ms"),
    row(view(figures.execa?.["returned"], `${labels.execa}: ${names.returned}, ${busy}`), "ms")
  ]
  return { gone, rows }
}
