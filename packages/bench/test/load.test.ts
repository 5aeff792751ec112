import { describe, expect, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { BUSY_LOOP, parseCpuList, withLoad } from "../src/load.js"

/** The CPUs a process may run on, read from /proc (independently of the module under test). */
const cpusOf = (pid: number | "self"): string =>
  readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("Cpus_allowed_list:"))!.split(
    ":"
  )[1]!.trim()

/** Pids of live processes whose command line is the busy loop. */
const busyLoops = (): Array<number> => {
  const found: Array<number> = []
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "latin1")
      const stat = readFileSync(`/proc/${entry}/stat`, "latin1")
      const state = stat.slice(stat.lastIndexOf(")") + 2)[0]
      if (cmdline.includes(BUSY_LOOP) && state !== "Z") found.push(Number(entry))
    } catch {
      // gone
    }
  }
  return found
}

describe("load generator", () => {
  it("parses kernel CPU lists", () => {
    expect(parseCpuList("0-1")).toEqual([0, 1])
    expect(parseCpuList("0-3,6,8-9\n")).toEqual([0, 1, 2, 3, 6, 8, 9])
    expect(parseCpuList("")).toEqual([])
  })

  it("runs one busy child on the last CPU while the function runs, and none after", async () => {
    const before = cpusOf("self")
    const allowed = parseCpuList(before)
    const seen = await withLoad(async (load) => {
      const children = busyLoops()
      expect(children.length).toBeGreaterThanOrEqual(1)
      if (allowed.length >= 2) {
        expect(load.description).toContain(`pinned to CPU ${allowed.at(-1)}`)
        expect(children.map(cpusOf)).toContain(String(allowed.at(-1)))
        expect(parseCpuList(cpusOf("self"))).toEqual(allowed.slice(0, -1))
      }
      return children
    })
    expect(cpusOf("self")).toBe(before)
    expect(busyLoops().filter((pid) => seen.includes(pid))).toEqual([])
  })
})
