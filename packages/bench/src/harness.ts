/**
 * The measuring half of the benchmarks: statistics, interleaved repeats with warm-up, ratios against a
 * baseline measured in the same run, and heap readings after a full garbage collection.
 *
 * Nothing here knows about tasks or processes; the benchmark modules hand it functions that time
 * themselves (so set-up and tear-down stay outside the figure) and get back samples and statistics.
 */

/** Summary statistics of a set of samples. */
export interface Stats {
  readonly n: number
  readonly min: number
  readonly median: number
  readonly mean: number
  /** The 99th percentile by nearest rank: with fewer than 100 samples it is the maximum. */
  readonly p99: number
  readonly max: number
}

/** Sorts a copy of the samples in ascending order. */
const sorted = (samples: ReadonlyArray<number>): Array<number> => samples.toSorted((a, b) => a - b)

/**
 * The q-th quantile (0 < q <= 1) by nearest rank: the smallest sample with at least q of all samples at
 * or below it. Never interpolates, so a reported p99 is a latency that actually happened.
 */
export const quantile = (samples: ReadonlyArray<number>, q: number): number => {
  if (samples.length === 0) return Number.NaN
  if (!(q > 0 && q <= 1)) throw new RangeError(`quantile must be in (0, 1], got ${q}`)
  const ordered = sorted(samples)
  const rank = Math.ceil(q * ordered.length)
  return ordered[Math.min(ordered.length, Math.max(1, rank)) - 1]!
}

/** The median: the middle sample, or the mean of the two middle samples for an even count. */
export const median = (samples: ReadonlyArray<number>): number => {
  if (samples.length === 0) return Number.NaN
  const ordered = sorted(samples)
  const mid = ordered.length >> 1
  return ordered.length % 2 === 1 ? ordered[mid]! : (ordered[mid - 1]! + ordered[mid]!) / 2
}

/** min, median, mean, p99 (nearest rank) and max. Empty input gives n = 0 and NaN everywhere else. */
export const stats = (samples: ReadonlyArray<number>): Stats => {
  if (samples.length === 0) {
    return { n: 0, min: Number.NaN, median: Number.NaN, mean: Number.NaN, p99: Number.NaN, max: Number.NaN }
  }
  const ordered = sorted(samples)
  let sum = 0
  for (const x of ordered) sum += x
  return {
    n: ordered.length,
    min: ordered[0]!,
    median: median(ordered),
    mean: sum / ordered.length,
    p99: quantile(ordered, 0.99),
    max: ordered[ordered.length - 1]!
  }
}

/** A ratio of a subject to its baseline. */
export interface Ratio {
  /** The label of the baseline. */
  readonly against: string
  /** median(subject) / median(baseline): the headline figure. */
  readonly value: number
  /**
   * The ratio within each round (subject and baseline measured back to back), when both have one sample per
   * round: its spread shows how much of the headline is noise.
   */
  readonly perRound?: Stats
}

/** The ratio of two sample sets' medians, plus per-round ratios when the rounds pair up. */
export const ratio = (
  subject: ReadonlyArray<number>,
  baseline: ReadonlyArray<number>,
  against: string
): Ratio => {
  const value = median(subject) / median(baseline)
  if (subject.length === 0 || subject.length !== baseline.length) return { against, value }
  return { against, value, perRound: stats(subject.map((x, i) => x / baseline[i]!)) }
}

/** Whether a measured figure meets an upper bound; NaN (nothing measured) never does. */
export const meets = (value: number, atMost: number): boolean => Number.isFinite(value) && value <= atMost

/** Milliseconds from a monotonic clock. */
export const now = (): number => performance.now()

/** Runs `f` and gives the milliseconds it took along with its result. */
export const time = async <A>(f: () => Promise<A>): Promise<{ readonly millis: number; readonly value: A }> => {
  const start = now()
  const value = await f()
  return { millis: now() - start, value }
}

const gcFunction = (globalThis as { gc?: () => void }).gc

/** Whether `global.gc` is available (node `--expose-gc`); heap figures need it. */
export const canCollect = (): boolean => gcFunction !== undefined

/** A full collection (several passes, so weak references and finalization are settled); a no-op without `--expose-gc`. */
export const collect = (): void => {
  if (gcFunction === undefined) return
  for (let i = 0; i < 3; i++) gcFunction()
}

/** Bytes of live JS heap after a full collection. */
export const heapUsed = (): number => {
  collect()
  return process.memoryUsage().heapUsed
}

/** Which kind of run a subject is asked for. */
export interface Phase {
  readonly warmup: boolean
}

/** One contender of a measurement: `run` performs one repeat and returns the figure it measured. */
export interface Subject {
  readonly label: string
  /**
   * One repeat; it times itself (so it can leave set-up out) and returns the figure, e.g. milliseconds.
   * `warmup` is true for a warm-up run, which a slow subject may make smaller.
   */
  readonly run: (phase: Phase) => Promise<number>
  /** Repeats of this subject, if fewer than the measurement's (a slow baseline); never more. */
  readonly repeats?: number
  /** Warm-up runs of this subject, if different from the measurement's. */
  readonly warmup?: number
}

/** A contender that measures several figures per repeat (e.g. submit time, heap, revoke latency). */
export interface MultiSubject {
  readonly label: string
  readonly run: (phase: Phase) => Promise<Readonly<Record<string, number>>>
  readonly repeats?: number
  readonly warmup?: number
}

/** How to measure. */
export interface MeasureOptions {
  /** Runs per subject whose figures are discarded. */
  readonly warmup: number
  /** Measured runs per subject. */
  readonly repeats: number
  /** Collect garbage before each run, outside the figure (default true). */
  readonly collectBetween?: boolean
  /** Called after each measured run, e.g. to print progress. */
  readonly onSample?: (label: string, round: number, figures: Readonly<Record<string, number>>) => void
  /**
   * A time budget in milliseconds for the whole measurement, warm-up included: once it is used up, no new
   * round starts, provided `minRepeats` rounds are done (so a loaded machine costs repeats, not the minute).
   */
  readonly budget?: number
  /** Rounds that always run, budget or not (default 3). */
  readonly minRepeats?: number
  /** The clock the budget is measured with (milliseconds); `performance.now` unless a test fakes it. */
  readonly clock?: () => number
}

/** The figures of one subject. */
export interface Series {
  readonly label: string
  readonly samples: ReadonlyArray<number>
  readonly stats: Stats
}

/**
 * Measures several subjects in interleaved rounds: each round runs every subject once, in an order that
 * rotates from round to round, so a slow phase of a noisy machine hits all subjects alike and no subject
 * always runs right after another. Warm-up rounds come first and are discarded. Returns, per subject,
 * one series per figure name.
 */
export const measureFigures = async (
  subjects: ReadonlyArray<MultiSubject>,
  options: MeasureOptions
): Promise<Array<Readonly<Record<string, Series>>>> => {
  const samples = subjects.map(() => new Map<string, Array<number>>())
  const collectBetween = options.collectBetween ?? true
  const warmups = subjects.map((s) => Math.max(0, s.warmup ?? options.warmup))
  const repeats = subjects.map((s) => Math.max(0, Math.min(options.repeats, s.repeats ?? options.repeats)))
  const warmupRounds = Math.max(0, ...warmups)
  const clock = options.clock ?? now
  const started = clock()
  for (let round = 0; round < warmupRounds; round++) {
    for (const index of rotation(subjects.length, round)) {
      if (round >= warmups[index]!) continue
      if (collectBetween) collect()
      await subjects[index]!.run({ warmup: true })
    }
  }
  for (let round = 0; round < options.repeats; round++) {
    if (
      options.budget !== undefined && round >= (options.minRepeats ?? 3) && clock() - started > options.budget
    ) break
    for (const index of rotation(subjects.length, round)) {
      if (round >= repeats[index]!) continue
      if (collectBetween) collect()
      const figures = await subjects[index]!.run({ warmup: false })
      for (const [name, value] of Object.entries(figures)) {
        const list = samples[index]!.get(name)
        if (list === undefined) samples[index]!.set(name, [value])
        else list.push(value)
      }
      options.onSample?.(subjects[index]!.label, round, figures)
    }
  }
  return subjects.map((subject, i) =>
    Object.fromEntries(
      [...samples[i]!].map(([name, values]) => [name, { label: subject.label, samples: values, stats: stats(values) }])
    )
  )
}

/** `measureFigures` for subjects with one figure each: one series per subject. */
export const measure = async (
  subjects: ReadonlyArray<Subject>,
  options: MeasureOptions
): Promise<Array<Series>> => {
  const results = await measureFigures(
    subjects.map((subject) => ({ ...subject, run: async (phase) => ({ value: await subject.run(phase) }) })),
    options
  )
  return subjects.map((subject, i) => results[i]!["value"] ?? { label: subject.label, samples: [], stats: stats([]) })
}

/** The order of subjects in a round: 0..n-1 rotated left by `round`. */
export const rotation = (n: number, round: number): Array<number> => {
  const order: Array<number> = []
  for (let i = 0; i < n; i++) order.push((i + round) % n)
  return order
}

/** Sleeps for real (not an Effect clock), for polling loops outside Effect. */
export const sleep = (millis: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, millis))
