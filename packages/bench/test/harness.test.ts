import { describe, expect, it } from "@effect/vitest"
import { measure, measureFigures, median, meets, quantile, ratio, rotation, stats } from "../src/harness.js"

describe("statistics", () => {
  it("median of odd and even counts, unsorted input untouched", () => {
    const input = [5, 1, 3]
    expect(median(input)).toBe(3)
    expect(input).toEqual([5, 1, 3])
    expect(median([4, 1, 3, 2])).toBe(2.5)
    expect(median([])).toBeNaN()
  })

  it("quantiles by nearest rank never interpolate", () => {
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1)
    expect(quantile(hundred, 0.99)).toBe(99)
    expect(quantile(hundred, 0.5)).toBe(50)
    expect(quantile(hundred, 1)).toBe(100)
    // With 50 samples, p99 is the largest one.
    const fifty = Array.from({ length: 50 }, (_, i) => 50 - i)
    expect(quantile(fifty, 0.99)).toBe(50)
    expect(quantile([7], 0.99)).toBe(7)
    expect(() => quantile([1], 0)).toThrow(RangeError)
    expect(() => quantile([1], 1.5)).toThrow(RangeError)
  })

  it("stats gives min, median, mean, p99 and max", () => {
    expect(stats([3, 1, 2, 10])).toEqual({ n: 4, min: 1, median: 2.5, mean: 4, p99: 10, max: 10 })
    const empty = stats([])
    expect(empty.n).toBe(0)
    expect(empty.median).toBeNaN()
  })

  it("ratio is the ratio of medians, with per-round ratios when rounds pair up", () => {
    const r = ratio([2, 4, 6], [1, 2, 2], "base")
    expect(r.against).toBe("base")
    expect(r.value).toBe(2)
    expect(r.perRound).toEqual(stats([2, 2, 3]))
    const unpaired = ratio([2, 4, 6], [1, 2], "base")
    expect(unpaired.value).toBeCloseTo(4 / 1.5)
    expect(unpaired.perRound).toBeUndefined()
  })

  it("meets treats NaN as not met", () => {
    expect(meets(1.5, 1.5)).toBe(true)
    expect(meets(1.51, 1.5)).toBe(false)
    expect(meets(Number.NaN, 1.5)).toBe(false)
  })
})

describe("measure", () => {
  it("rotates the order of subjects from round to round", () => {
    expect(rotation(3, 0)).toEqual([0, 1, 2])
    expect(rotation(3, 1)).toEqual([1, 2, 0])
    expect(rotation(3, 4)).toEqual([1, 2, 0])
  })

  it("discards warm-up runs, interleaves subjects and caps a subject's repeats", async () => {
    const calls: Array<string> = []
    let a = 0
    let b = 100
    const series = await measure([
      {
        label: "a",
        run: async ({ warmup }) => {
          calls.push(warmup ? "a(w)" : "a")
          return ++a
        }
      },
      {
        label: "b",
        repeats: 2,
        warmup: 0,
        run: async ({ warmup }) => {
          calls.push(warmup ? "b(w)" : "b")
          return ++b
        }
      }
    ], { warmup: 1, repeats: 3, collectBetween: false })
    expect(calls).toEqual(["a(w)", "a", "b", "b", "a", "a"])
    expect(series[0]!.samples).toEqual([2, 3, 4])
    expect(series[1]!.samples).toEqual([101, 102])
    expect(series[1]!.stats.median).toBe(101.5)
  })

  it("keeps one series per figure for multi-figure subjects", async () => {
    let round = 0
    const seen: Array<string> = []
    const [only] = await measureFigures([
      {
        label: "x",
        run: async () => {
          round++
          return { time: round, heap: round * 10 }
        }
      }
    ], { warmup: 0, repeats: 2, collectBetween: false, onSample: (label, r) => seen.push(`${label}#${r}`) })
    expect(only!["time"]!.samples).toEqual([1, 2])
    expect(only!["heap"]!.samples).toEqual([10, 20])
    expect(only!["heap"]!.label).toBe("x")
    expect(seen).toEqual(["x#0", "x#1"])
  })
})

describe("budget", () => {
  it("starts no round once the budget is used up, but always runs the minimum", async () => {
    let clock = 0
    let runs = 0
    const [series] = await measure([
      {
        label: "slow",
        run: async () => {
          runs++
          clock += 10
          return clock
        }
      }
    ], { warmup: 1, repeats: 10, collectBetween: false, budget: 35, minRepeats: 2, clock: () => clock })
    // warm-up (10) + rounds at 20, 30, 40: the round starting at t = 40 > 35 is not run.
    expect(runs).toBe(4)
    expect(series!.samples).toEqual([20, 30, 40])
  })

  it("runs the minimum even when the warm-up alone exceeds the budget", async () => {
    let clock = 0
    const [series] = await measure([{
      label: "slow",
      run: async () => (clock += 100)
    }], { warmup: 1, repeats: 10, collectBetween: false, budget: 50, minRepeats: 2, clock: () => clock })
    expect(series!.samples.length).toBe(2)
  })
})
