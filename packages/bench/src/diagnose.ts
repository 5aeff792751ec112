/**
 * Where the time (or the heap) goes, for a benchmark that misses its target. Not part of `pnpm bench`:
 *
 * - `node dist/diagnose.js spans B5|B6|B7 [runs]`: runs the task-manager subject under a tracer that records
 *   every span (`TaskManager.revoke`, `TaskManager.revokeAll`, `TreeKill.killTree`, the task's own span) and
 *   prints, per run and in aggregate, when each started and how long it took relative to the revoke.
 * - `node --cpu-prof --cpu-prof-dir=DIR dist/diagnose.js cpu B1|B2|B4|B5|B7`: runs the task-manager subject
 *   a few times so the profile is all that; then
 * - `node dist/diagnose.js analyze DIR/x.cpuprofile [regexp]`: self and inclusive time per function (the
 *   inclusive list filtered by the regexp, e.g. `packages/`).
 * - `node dist/diagnose.js floor [runs]`: the operating system's own floor for B5 (one group SIGTERM, /proc
 *   polled until the tree is gone), the cost of one walk of /proc, and, where this process may create cgroups,
 *   the floor of cgroup containment (SIGTERM to each member of the tree's cgroup, `populated 0` awaited on a watch
 *   of `cgroup.events`).
 * - `node dist/diagnose.js entry [runs]` (root, or a delegated cgroup): the ways a spawn can enter a cgroup
 *   before it runs anything, each spawning `true` and awaiting its exit: plain `child_process.spawn` (no cgroup),
 *   an entry shell (`sh -c 'echo $$ > cgroup.procs && exec "$@"'`, what cgroup containment does), and moving this
 *   process itself into the cgroup around the synchronous spawn (its children are born there); back to back and
 *   200 ms apart, with how long the event loop was blocked.
 * - `node dist/diagnose.js freeze [runs]` (same): a revoke's first signal to the B5 tree in a cgroup, with and
 *   without freezing the cgroup first (`cgroup.freeze`, waiting for `frozen 1`), until `populated 0`.
 * - `node --expose-gc dist/diagnose.js gc [runs]`: B5's task-manager subject while one core is busy, with and
 *   without a full garbage collection before each run (alternating), and the collections that landed inside runs.
 * - `node --expose-gc dist/diagnose.js rules [passes]`: what each rule of a task costs in B1's round, each taken out
 *   of a patched copy of the built core and timed against the real one, each in a process of its own (rules.ts).
 * - `node --expose-gc dist/diagnose.js heap [count]`: heap snapshots before and after `count` (default 10k)
 *   sleeping tasks, and the same for raw fibers; prints the retained objects per task by constructor.
 */
import { TaskManager } from "@effect-tasks/core"
import { NodeTaskManager } from "@effect-tasks/node"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Tracer from "effect/Tracer"
import { spawn } from "node:child_process"
import { mkdirSync, readFileSync, rmdirSync, rmSync, watch, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { PerformanceObserver } from "node:perf_hooks"
import { writeHeapSnapshot } from "node:v8"
import { taskManagerRound as b1Round } from "./b1-overhead.js"
import { spawnTrue } from "./guardian.js"
import { collect, median, now, stats } from "./harness.js"
import { withLoad } from "./load.js"
import { allGone, readAll, sweep, waitForTree } from "./procfs.js"
import { formatNumber } from "./report.js"
import { rules, rulesChild } from "./rules.js"
import { revokeTasks, SLEEPERS, STUBBORN } from "./trees.js"

const print = (line: string) => {
  process.stdout.write(`${line}\n`)
}

// ---------------------------------------------------------------------------------------------------------
// spans

interface Recorded {
  readonly name: string
  readonly start: number
  readonly end: number
}

const recordingTracer = (sink: Array<Recorded>): Tracer.Tracer =>
  Tracer.make({
    span(options) {
      const span = new Tracer.NativeSpan(options)
      const end = span.end.bind(span)
      span.end = (endTime, exit) => {
        end(endTime, exit)
        sink.push({ name: span.name, start: Number(options.startTime) / 1e6, end: Number(endTime) / 1e6 })
      }
      return span
    }
  })

const spans = async (id: string, runs: number) => {
  const sink: Array<Recorded> = []
  const config = id === "B6" ? { grace: "300 millis" as const } : {}
  const runtime = ManagedRuntime.make(
    Layer.mergeAll(NodeTaskManager.layerWith(config), Layer.succeed(Tracer.Tracer, recordingTracer(sink)))
  )
  const byName = new Map<string, { count: Array<number>; busy: Array<number>; firstStart: Array<number> }>()
  const totals: Array<number> = []
  try {
    for (let run = 0; run < runs; run++) {
      sink.length = 0
      const figures = id === "B7"
        ? await revokeTasks(runtime, SLEEPERS, 200)
        : await revokeTasks(runtime, id === "B6" ? STUBBORN : SLEEPERS)
      const root = sink.find((s) => s.name === "TaskManager.revoke" || s.name === "TaskManager.revokeAll")
      if (root === undefined) throw new Error("no revoke span recorded")
      totals.push(root.end - root.start)
      const inside = sink.filter((s) => s !== root && s.end >= root.start && !s.name.startsWith("task-"))
      const line: Array<string> = []
      const names = new Set(inside.map((s) => s.name))
      for (const name of names) {
        const these = inside.filter((s) => s.name === name)
        const busy = these.reduce((sum, s) => sum + (s.end - Math.max(s.start, root.start)), 0)
        const firstStart = Math.min(...these.map((s) => s.start)) - root.start
        const lastEnd = Math.max(...these.map((s) => s.end)) - root.start
        let entry = byName.get(name)
        if (entry === undefined) {
          entry = { count: [], busy: [], firstStart: [] }
          byName.set(name, entry)
        }
        entry.count.push(these.length)
        entry.busy.push(busy / these.length)
        entry.firstStart.push(firstStart)
        line.push(
          these.length <= 3
            ? these.map((s) => `${name} @${formatNumber(s.start - root.start)}+${formatNumber(s.end - s.start)}`)
              .join(", ")
            : `${name} x${these.length} first@${formatNumber(firstStart)} last-end@${formatNumber(lastEnd)} mean ${
              formatNumber(busy / these.length)
            }`
        )
      }
      print(
        `run ${run + 1}: revoke ${formatNumber(root.end - root.start)} ms, gone ${formatNumber(figures.gone)} ms | ${
          line.join(" | ")
        }`
      )
    }
  } finally {
    await runtime.dispose()
    sweep()
  }
  print(`\nmedian revoke ${formatNumber(median(totals))} ms over ${runs} runs (ms from the revoke's start):`)
  for (const [name, entry] of byName) {
    print(
      `  ${name}: ${formatNumber(median(entry.count))} per run, first starts at ${
        formatNumber(median(entry.firstStart))
      }, lasts ${formatNumber(median(entry.busy))} (medians)`
    )
  }
}

// ---------------------------------------------------------------------------------------------------------
// cpu

const cpu = async (id: string) => {
  const started = performance.now()
  if (id === "B1") {
    for (let i = 0; i < 4; i++) await Effect.runPromise(b1Round(100_000))
  } else if (id === "B2") {
    const sleeping = Effect.sleep("1 hour")
    for (let i = 0; i < 4; i++) {
      await Effect.runPromise(
        Effect.gen(function*() {
          const tm = yield* TaskManager.TaskManager
          for (let j = 0; j < 10_000; j++) yield* tm.submit(sleeping)
          yield* tm.revokeAll()
        }).pipe(Effect.provide(TaskManager.layerWith({})))
      )
    }
  } else if (id === "B4") {
    const runtime = ManagedRuntime.make(NodeTaskManager.layerWith({}))
    await runtime.runPromise(Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      for (let i = 0; i < 600; i++) yield* tm.run(spawnTrue)
    }))
    await runtime.dispose()
  } else if (id === "B5" || id === "B7") {
    const runtime = ManagedRuntime.make(NodeTaskManager.layerWith({}))
    for (let i = 0; i < (id === "B5" ? 40 : 2); i++) await revokeTasks(runtime, SLEEPERS, id === "B5" ? 1 : 200)
    await runtime.dispose()
    sweep()
  } else {
    throw new Error(`no cpu workload for ${id}`)
  }
  print(`${id} workload took ${formatNumber((performance.now() - started) / 1000)} s`)
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly children?: ReadonlyArray<number>
}

/** Self and inclusive time per function of a `.cpuprofile`, as percentages of all samples. */
export const analyzeProfile = (
  profile: { nodes: ReadonlyArray<ProfileNode>; samples: ReadonlyArray<number>; timeDeltas: ReadonlyArray<number> },
  filter: RegExp | undefined,
  top = 30
): string => {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const key = (node: ProfileNode) =>
    `${node.callFrame.functionName || "(anonymous)"} ${
      node.callFrame.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/\/.*?\/packages\//, "packages/")
    }:${node.callFrame.lineNumber + 1}`
  const time = new Map<number, number>()
  profile.samples.forEach((id, i) => time.set(id, (time.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
  let total = 0
  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  for (const [id, t] of time) {
    total += t
    const node = nodes.get(id)!
    self.set(key(node), (self.get(key(node)) ?? 0) + t)
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = key(nodes.get(cur)!)
      if (seen.has(k)) continue
      seen.add(k)
      inclusive.set(k, (inclusive.get(k) ?? 0) + t)
    }
  }
  const list = (m: Map<string, number>) =>
    [...m].toSorted((a, b) => b[1] - a[1]).slice(0, top).map(([k, t]) =>
      `${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`
    ).join("\n")
  const included = filter === undefined ? inclusive : new Map([...inclusive].filter(([k]) => filter.test(k)))
  return [
    `sampled ${formatNumber(total / 1000)} ms`,
    "self:",
    list(self),
    `inclusive${filter === undefined ? "" : ` (matching ${filter.source})`}:`,
    list(included)
  ].join("\n")
}

// ---------------------------------------------------------------------------------------------------------
// heap

interface HeapSummary {
  readonly byName: Map<string, { count: number; size: number }>
}

/** Counts and shallow sizes per (type, constructor name) of every node of a heap snapshot. */
const summarizeSnapshot = (path: string): HeapSummary => {
  const snapshot = JSON.parse(readFileSync(path, "utf8")) as {
    snapshot: { meta: { node_fields: Array<string>; node_types: [Array<string>] } }
    nodes: Array<number>
    strings: Array<string>
  }
  const fields = snapshot.snapshot.meta.node_fields
  const stride = fields.length
  const typeAt = fields.indexOf("type")
  const nameAt = fields.indexOf("name")
  const sizeAt = fields.indexOf("self_size")
  const types = snapshot.snapshot.meta.node_types[0]
  const byName = new Map<string, { count: number; size: number }>()
  for (let i = 0; i < snapshot.nodes.length; i += stride) {
    const type = types[snapshot.nodes[i + typeAt]!]!
    const name = type === "object" || type === "closure"
      ? snapshot.strings[snapshot.nodes[i + nameAt]!]!
      : `(${type})`
    const key = `${type === "closure" ? "closure " : ""}${name}`
    const entry = byName.get(key) ?? { count: 0, size: 0 }
    entry.count++
    entry.size += snapshot.nodes[i + sizeAt]!
    byName.set(key, entry)
  }
  return { byName }
}

const snapshotNow = (label: string): HeapSummary => {
  collect()
  const path = writeHeapSnapshot(join(tmpdir(), `bench-${label}-${process.pid}.heapsnapshot`))
  try {
    return summarizeSnapshot(path)
  } finally {
    rmSync(path, { force: true })
  }
}

const diffPerItem = (before: HeapSummary, after: HeapSummary, items: number, top = 25): string => {
  const rows: Array<[string, number, number]> = []
  let total = 0
  for (const [name, entry] of after.byName) {
    const prior = before.byName.get(name) ?? { count: 0, size: 0 }
    const size = (entry.size - prior.size) / items
    const count = (entry.count - prior.count) / items
    total += size
    if (Math.abs(size) >= 1) rows.push([name, count, size])
  }
  return [
    `total ${formatNumber(total)} B per item`,
    ...rows.toSorted((a, b) => b[2] - a[2]).slice(0, top).map(([name, count, size]) =>
      `${formatNumber(size).padStart(7)} B  ${formatNumber(count).padStart(6)} objects  ${name}`
    )
  ].join("\n")
}

const heap = async (count: number) => {
  const sleeping = Effect.sleep("1 hour")
  await Effect.runPromise(
    Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      yield* tm.submit(sleeping) // warm the code paths
      const before = snapshotNow("tasks-before")
      for (let i = 0; i < count; i++) yield* tm.submit(sleeping)
      const after = snapshotNow("tasks-after")
      print(
        `TaskManager.TaskManager, ${count} sleeping tasks, retained per task:\n${diffPerItem(before, after, count)}\n`
      )
      yield* tm.revokeAll()
    }).pipe(Effect.provide(TaskManager.layerWith({})))
  )
  await Effect.runPromise(Effect.gen(function*() {
    yield* Effect.forkDetach(sleeping, { startImmediately: true })
    const before = snapshotNow("fibers-before")
    const fibers: Array<Fiber.Fiber<void>> = []
    for (let i = 0; i < count; i++) fibers.push(yield* Effect.forkDetach(sleeping, { startImmediately: true }))
    const after = snapshotNow("fibers-after")
    print(`forkDetach, ${count} sleeping fibers, retained per fiber:\n${diffPerItem(before, after, count)}`)
    yield* Fiber.interruptAll(fibers)
  }))
}

// ---------------------------------------------------------------------------------------------------------
// floor

/**
 * What the operating system alone needs: the B5 tree spawned with `child_process.spawn` (detached), one
 * `kill(-pgid, SIGTERM)`, then /proc polled as fast as possible until all three are gone. Also the cost of
 * one walk of /proc (as both this package and the library do it).
 */
const floor = async (runs: number) => {
  const gone: Array<number> = []
  for (let i = 0; i < runs; i++) {
    const child = spawn("sh", ["-c", SLEEPERS], { detached: true, stdio: "ignore" })
    const tree = await waitForTree(child.pid!, 2)
    const start = now()
    process.kill(-child.pid!, "SIGTERM")
    while (!allGone(tree)) await new Promise((resolve) => setImmediate(resolve))
    gone.push(now() - start)
  }
  const walks: Array<number> = []
  let size = 0
  for (let i = 0; i < 50; i++) {
    const start = now()
    size = readAll().length
    walks.push(now() - start)
  }
  print(
    `SIGTERM to the group until all gone: ${
      JSON.stringify(stats(gone), (_, v) => typeof v === "number" ? +v.toFixed(2) : v)
    }`
  )
  print(
    `one walk of /proc (${size} processes): median ${formatNumber(median(walks))} ms, max ${
      formatNumber(Math.max(...walks))
    } ms`
  )
  await cgroupFloor(runs)
}

const formatStats = (values: Array<number>) =>
  JSON.stringify(stats(values), (_, v) => typeof v === "number" ? +v.toFixed(2) : v)

/** This process's own cgroup v2 directory, found the plain way (`0::` line, mount from mountinfo). */
const ownCgroup = (): string | undefined => {
  const mount = readFileSync("/proc/self/mountinfo", "latin1").split("\n").map((line) => line.split(" "))
    .find((fields) => fields[fields.indexOf("-") + 1] === "cgroup2")
  const path = readFileSync("/proc/self/cgroup", "latin1").split("\n").find((line) => line.startsWith("0::"))
  if (mount === undefined || path === undefined || mount[3] !== "/") return undefined
  return join(mount[4]!, path.slice(3))
}

/**
 * The floor of a cgroup revoke: the B5 tree entered into a fresh cgroup before it runs, then SIGTERM to each pid of
 * `cgroup.procs`, and `populated` read as fast as possible until 0 (as the group floor reads /proc); also how late
 * the kernel's notice of it came, on a watch of `cgroup.events` (it sends at most one per file every 10 ms).
 */
const cgroupFloor = async (runs: number) => {
  const own = ownCgroup()
  const leaf = own === undefined ? undefined : join(own, `effect-tasks-floor-${process.pid}`)
  try {
    if (leaf === undefined) throw new Error("no cgroup v2")
    mkdirSync(leaf)
  } catch (error) {
    print(`cgroup floor: skipped (${String(error)})`)
    return
  }
  const gone: Array<number> = []
  const heard: Array<number> = []
  try {
    for (let i = 0; i < runs; i++) {
      const child = spawn("sh", ["-c", `echo $$ > ${leaf}/cgroup.procs && exec sh -c "$0"`, SLEEPERS], {
        detached: true,
        stdio: "ignore"
      })
      await waitForTree(child.pid!, 2)
      const events = join(leaf, "cgroup.events")
      const empty = () => readFileSync(events, "latin1").includes("populated 0")
      let heardAt: number | undefined
      const notice = new Promise<void>((resolve) => {
        const watcher = watch(events, () => {
          if (!empty()) return
          heardAt = now()
          watcher.close()
          resolve()
        })
      })
      const start = now()
      for (const pid of readFileSync(join(leaf, "cgroup.procs"), "latin1").trim().split("\n")) {
        process.kill(Number(pid), "SIGTERM")
      }
      while (!empty()) await new Promise((resolve) => setImmediate(resolve))
      gone.push(now() - start)
      await notice
      heard.push(heardAt! - start)
    }
  } finally {
    rmdirSync(leaf)
  }
  print(`cgroup: SIGTERM to each member until populated 0 (read): ${formatStats(gone)}`)
  print(`cgroup: the same, heard on a watch of cgroup.events: ${formatStats(heard)}`)
}

// ---------------------------------------------------------------------------------------------------------
// entry and freeze

/** A fresh cgroup next to this process's own (removed by the caller), or why there is none. */
const scratchCgroup = (name: string): string => {
  const own = ownCgroup()
  if (own === undefined) throw new Error("no cgroup v2 hierarchy with this process in it")
  const dir = join(own, `effect-tasks-${name}-${process.pid}`)
  mkdirSync(dir)
  return dir
}

const push = (into: Map<string, Array<number>>, key: string, value: number) => {
  const list = into.get(key)
  if (list === undefined) into.set(key, [value])
  else list.push(value)
}

const exitOf = (child: ReturnType<typeof spawn>) => new Promise<void>((resolve) => child.once("exit", () => resolve()))

const entry = async (runs: number) => {
  const root = scratchCgroup("entry")
  const leaf = join(root, "leaf")
  mkdirSync(leaf)
  const own = ownCgroup()!
  const ways: Record<string, () => { readonly blocked: number; readonly exited: Promise<void> }> = {
    "plain spawn (no cgroup)": () => {
      const start = now()
      const child = spawn("true", [], { detached: true, stdio: "pipe" })
      return { blocked: now() - start, exited: exitOf(child) }
    },
    "entry shell": () => {
      const start = now()
      const child = spawn("/bin/sh", ["-c", `echo $$ > ${leaf}/cgroup.procs && exec "$@"`, "entry", "true"], {
        detached: true,
        stdio: "pipe"
      })
      return { blocked: now() - start, exited: exitOf(child) }
    },
    "host moved in and out around spawn": () => {
      const start = now()
      writeFileSync(join(leaf, "cgroup.procs"), String(process.pid))
      const child = spawn("true", [], { detached: true, stdio: "pipe" })
      writeFileSync(join(own, "cgroup.procs"), String(process.pid))
      return { blocked: now() - start, exited: exitOf(child) }
    }
  }
  try {
    for (const gap of [0, 200]) {
      const totals = new Map<string, Array<number>>()
      const blocked = new Map<string, Array<number>>()
      for (let i = 0; i < runs; i++) {
        // Interleaved, so that a change of load hits every way alike.
        for (const [name, way] of Object.entries(ways)) {
          if (gap > 0) await new Promise((resolve) => setTimeout(resolve, gap))
          const start = now()
          const { blocked: sync, exited } = way()
          await exited
          if (i === 0) continue // warm-up
          push(totals, name, now() - start)
          push(blocked, name, sync)
        }
      }
      for (const name of Object.keys(ways)) {
        const total = totals.get(name)!
        const sync = blocked.get(name)!
        print(
          `${gap === 0 ? "back to back" : `${gap} ms apart`}, ${name}: spawn to exit median ${
            formatNumber(median(total))
          } ms; event loop blocked median ${formatNumber(median(sync))} ms, max ${formatNumber(Math.max(...sync))} ms`
        )
      }
    }
  } finally {
    rmdirSync(leaf)
    rmdirSync(root)
  }
}

const freeze = async (runs: number) => {
  const root = scratchCgroup("freeze")
  const results = new Map<string, Array<number>>()
  try {
    for (let i = 0; i < runs * 2; i++) {
      const frozen = i % 2 === 1
      const leaf = join(root, `l${i}`)
      mkdirSync(leaf)
      const child = spawn("sh", ["-c", `echo $$ > ${leaf}/cgroup.procs && exec sh -c "$0"`, SLEEPERS], {
        detached: true,
        stdio: "ignore"
      })
      await waitForTree(child.pid!, 2)
      const events = join(leaf, "cgroup.events")
      const emptied = new Promise<void>((resolve) => {
        const watcher = watch(events, () => {
          if (readFileSync(events, "latin1").includes("populated 0")) {
            watcher.close()
            resolve()
          }
        })
      })
      const start = now()
      if (frozen) {
        writeFileSync(join(leaf, "cgroup.freeze"), "1")
        while (!readFileSync(events, "latin1").includes("frozen 1")) await new Promise(setImmediate)
      }
      for (const pid of readFileSync(join(leaf, "cgroup.procs"), "latin1").trim().split("\n")) {
        process.kill(Number(pid), "SIGTERM")
        process.kill(Number(pid), "SIGCONT")
      }
      if (frozen) writeFileSync(join(leaf, "cgroup.freeze"), "0")
      await emptied
      push(results, frozen ? "frozen first" : "not frozen", now() - start)
      rmdirSync(leaf)
    }
  } finally {
    rmdirSync(root)
  }
  for (const [name, values] of results) {
    print(
      `SIGTERM+SIGCONT to each member until populated 0, ${name}: ${
        JSON.stringify(stats(values), (_, v) => typeof v === "number" ? +v.toFixed(2) : v)
      }`
    )
  }
}

// ---------------------------------------------------------------------------------------------------------
// gc

const gcEffect = async (runs: number) => {
  const collections: Array<{ readonly start: number; readonly duration: number }> = []
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) collections.push({ start: entry.startTime, duration: entry.duration })
  })
  observer.observe({ entryTypes: ["gc"] })
  const runtime = ManagedRuntime.make(NodeTaskManager.layerWith({ containment: "proc" }))
  const figures = { collected: [] as Array<number>, plain: [] as Array<number> }
  const inside = { collected: [] as Array<number>, plain: [] as Array<number> }
  try {
    await withLoad(async (load) => {
      print(`load: ${load.description}`)
      for (let i = 0; i < 3; i++) await revokeTasks(runtime, SLEEPERS)
      for (let i = 0; i < runs * 2; i++) {
        const mode = i % 2 === 0 ? "plain" : "collected"
        if (mode === "collected") collect()
        const { gone } = await revokeTasks(runtime, SLEEPERS)
        // The revoke started `gone` ms before the tree was seen gone, which is about now.
        const end = now()
        figures[mode].push(gone)
        await new Promise((resolve) => setImmediate(resolve))
        for (const gc of collections) {
          if (gc.start + gc.duration >= end - gone - 1 && gc.start <= end) inside[mode].push(gc.duration)
        }
      }
    })
  } finally {
    observer.disconnect()
    await runtime.dispose()
    sweep()
  }
  for (const mode of ["plain", "collected"] as const) {
    const s = stats(figures[mode])
    print(
      `${mode === "plain" ? "no collection      " : "collected before it"}: p50 ${formatNumber(s.median)} ms, p99 ${
        formatNumber(s.p99)
      } ms over ${s.n} runs; ${inside[mode].length} collection steps inside runs, longest ${
        formatNumber(Math.max(0, ...inside[mode]))
      } ms`
    )
  }
}

// ---------------------------------------------------------------------------------------------------------

const main = async () => {
  const [command, arg, extra] = process.argv.slice(2)
  switch (command) {
    case "spans":
      return spans((arg ?? "B5").toUpperCase(), Number(extra ?? 20))
    case "cpu":
      return cpu((arg ?? "B1").toUpperCase())
    case "analyze":
      if (arg === undefined) throw new Error("analyze needs a .cpuprofile path")
      return print(
        analyzeProfile(JSON.parse(readFileSync(arg, "utf8")), extra === undefined ? undefined : new RegExp(extra))
      )
    case "floor":
      return floor(Number(arg ?? 30))
    case "heap":
      return heap(Number(arg ?? 10_000))
    case "entry":
      return entry(Number(arg ?? 100))
    case "freeze":
      return freeze(Number(arg ?? 30))
    case "gc":
      return gcEffect(Number(arg ?? 50))
    case "rules":
      return rules(Number(arg ?? 5), print)
    case "rules-child":
      return rulesChild(arg ?? "fiberset")
    default:
      print(
        "usage: diagnose.js spans B5|B6|B7 [runs] | cpu B1|B2|B4|B5|B7 | analyze FILE [regexp] | heap [count]"
          + " | floor [runs] | entry [runs] | freeze [runs] | gc [runs] | rules [passes]"
      )
  }
}

main().then(() => process.exit(0), (error) => {
  sweep()
  console.error(error)
  process.exit(1)
})
