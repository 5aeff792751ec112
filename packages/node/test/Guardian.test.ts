/**
 * The guardian process on its own, with this test process as its host: how it is started, what it kills when
 * its pipe closes (and what it must not), how it reports that it cannot start, and what it costs.
 */
import { TaskManager } from "@effect-tasks/core"
import { Guardian, NodeTaskManager } from "@effect-tasks/node"
import { Effect, Layer, Logger } from "effect"
import { ChildProcess } from "effect/process"
import { ChildProcessSpawner } from "effect/process/ChildProcessSpawner"
import { spawn } from "node:child_process"
import { readFileSync, readlinkSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"
import * as Leftovers from "../src/internal/Leftovers.js"
import * as TaskProcesses from "../src/internal/TaskProcesses.js"
import {
  aliveAs,
  cookieCarriers,
  cookieSpawner,
  environ,
  readCmdline,
  running,
  sleep,
  stat,
  tempStateDirectory,
  waitFor
} from "./fixtures/host-helpers.js"
import { beacon, fixture as procFixture, killNewest, python } from "./fixtures/procs.js"

const linux = process.platform === "linux"
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
const prefix = `gtest-${process.pid}-${Math.random().toString(36).slice(2, 8)}/`

const { cleanup, spawnWithCookie, track } = cookieSpawner(prefix)

afterEach(cleanup)

const collectWarnings = () => {
  const warnings: Array<string> = []
  const logger = Logger.make((options) => {
    if (options.logLevel === "Warn") warnings.push(String(options.message))
  })
  return { warnings, layer: Logger.layer([logger]) }
}

/** This process's children that run the guardian script. */
const guardians = () =>
  readFileSync(`/proc/self/task/${process.pid}/children`, "utf8").trim().split(" ").filter(Boolean).map(Number)
    .filter((pid) => readCmdline(pid).includes("guardian-main"))

describe.runIf(linux)("Guardian", () => {
  it("runs in its own session, without the task cookie or NODE_OPTIONS, and exits when the pipe closes", async () => {
    const saved = { cookie: process.env.EFFECT_TASKS_COOKIE, options: process.env.NODE_OPTIONS }
    process.env.EFFECT_TASKS_COOKIE = "outer-instance/7/7/"
    process.env.NODE_OPTIONS = "--max-old-space-size=4096"
    let pid = 0
    let startTime = 0
    let closeMillis = 0
    try {
      await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const guardian = yield* Guardian.start()
        pid = guardian.pid
        const s = stat(pid)!
        startTime = s.startTime
        expect(s.ppid).toBe(process.pid)
        expect(s.sid).toBe(pid)
        expect(s.pgid).toBe(pid)
        yield* Effect.promise(() => waitFor("exec", () => readCmdline(pid).includes("guardian-main")))
        const env = environ(pid)
        expect(env.some((kv) => kv.startsWith("EFFECT_TASKS_COOKIE="))).toBe(false)
        expect(env.some((kv) => kv.startsWith("NODE_OPTIONS="))).toBe(false)
        expect(readlinkSync(`/proc/${pid}/fd/1`)).toBe("/dev/null")
        expect(guardian.alive()).toBe(true)
        yield* Effect.addFinalizer(() => Effect.sync(() => void (closeMillis = Date.now())))
      })))
      closeMillis = Date.now() - closeMillis
    } finally {
      if (saved.cookie === undefined) delete process.env.EFFECT_TASKS_COOKIE
      else process.env.EFFECT_TASKS_COOKIE = saved.cookie
      if (saved.options === undefined) delete process.env.NODE_OPTIONS
      else process.env.NODE_OPTIONS = saved.options
    }
    // Closing the scope ended the pipe and waited for the exit: nothing of the guardian is left.
    expect(aliveAs(pid, startTime)).toBe(false)
    console.log(`guardian closed in ${closeMillis} ms`)
  })

  it("kills the trees still owned when the pipe closes, and nothing cleaned, unrelated or recycled", async () => {
    const a = `${prefix}1/1/`
    const b = `${prefix}1/2/`
    const c = `${prefix}2/3/`
    const d = `${prefix}3/4/`
    const treeA = spawnWithCookie("sh", ["-c", "sleep 1000 & sleep 1000 & wait"], a)
    const treeB = spawnWithCookie("sh", ["-c", "sleep 1000 & wait"], b)
    // The double-forked daemon escapes to a session of its own, reparented to init; only the cookie remains.
    const treeC = spawnWithCookie("python3", [fixture("daemon.py")], c)
    const treeD = spawnWithCookie("sleep", ["1000"], d)
    const stubborn = spawnWithCookie("python3", [fixture("ignore-term.py")], a)
    const unrelated = spawnWithCookie("sleep", ["1000"], undefined)
    // Settled: A's sh + 2 sleeps + stubborn, B's sh + sleep, D, and C's daemon reparented to init.
    await waitFor("processes up", () => {
      const carriers = cookieCarriers(prefix)
      return carriers.length === 8 && carriers.some((s) => s.ppid === 1) && !running(treeC.pid)
    })
    await stubborn.ready // python has installed its SIGTERM handler

    let pid = 0
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const guardian = yield* Guardian.start({ grace: "300 millis" })
      pid = guardian.pid
      guardian.send(Leftovers.encodeStarted(treeA, a))
      guardian.send(Leftovers.encodeStarted(stubborn, a))
      guardian.send(Leftovers.encodeStarted(treeB, b))
      guardian.send(Leftovers.encodeStarted(treeC, c))
      guardian.send(Leftovers.encodeStarted(treeD, d))
      // A pid that is now another process: the identity does not match, so the guardian must not touch it.
      guardian.send(
        Leftovers.encodeStarted({ pid: unrelated.pid, startTime: unrelated.startTime - 3 }, `${prefix}4/5/`)
      )
      guardian.send(Leftovers.encodeCleaned(b)) // one spawn cleaned up
      guardian.send(Leftovers.encodeCleaned(`${prefix}3/`)) // a whole task cleaned up
    })))
    // The scope closed the pipe with trees A and C still owned: the guardian killed them and exited.
    expect(running(pid)).toBe(false)
    const survivors = cookieCarriers(prefix)
    expect(survivors.filter((s) => s.pid !== treeB.pid && s.pid !== treeD.pid && s.ppid !== treeB.pid)).toEqual([])
    expect(aliveAs(treeB.pid, treeB.startTime)).toBe(true)
    expect(aliveAs(treeD.pid, treeD.startTime)).toBe(true)
    expect(aliveAs(unrelated.pid, unrelated.startTime)).toBe(true)
    expect(aliveAs(treeA.pid, treeA.startTime)).toBe(false)
    expect(aliveAs(treeC.pid, treeC.startTime)).toBe(false)
  })

  it("after its host died, also kills processes carrying the host's cookie instance that were never recorded", async () => {
    const recorded = spawnWithCookie("sh", ["-c", "sleep 1000 & wait"], `${prefix}1/1/`)
    const unrecorded = spawnWithCookie("sleep", ["1000"], `${prefix}5/9/`)
    const otherInstance = spawnWithCookie("sleep", ["1000"], `other-${prefix}1/1/`)
    await waitFor("processes up", () => cookieCarriers(prefix).length === 3)
    // A host that is dead by identity (this pid, another start time), as after a SIGKILL.
    const config = { host: { pid: process.pid, startTime: 1 }, grace: 300 }
    const guardian = spawn(process.execPath, [Guardian.defaultEntry()!, JSON.stringify(config)], {
      detached: true,
      stdio: ["pipe", "ignore", "ignore"]
    })
    track(guardian)
    const exited = new Promise((resolve) => guardian.once("exit", resolve))
    guardian.stdin!.end(Leftovers.encodeStarted(recorded, `${prefix}1/1/`))
    await exited
    expect(cookieCarriers(prefix)).toEqual([])
    expect(aliveAs(unrecorded.pid, unrecorded.startTime)).toBe(false)
    expect(aliveAs(otherInstance.pid, otherInstance.startTime)).toBe(true)
  })

  it("a SIGTERM-ignoring pid hopper left by a dead host is gone before the guardian exits", async () => {
    const alive = beacon()
    try {
      const hopper = spawnWithCookie(python, [procFixture("hopper.py"), "20", alive.path], `${prefix}1/1/`)
      await alive.opened
      const config = { host: { pid: process.pid, startTime: 1 }, grace: 300 }
      const guardian = spawn(process.execPath, [Guardian.defaultEntry()!, JSON.stringify(config)], {
        detached: true,
        stdio: ["pipe", "ignore", "ignore"]
      })
      track(guardian)
      const exited = new Promise<number>((resolve) => guardian.once("exit", () => resolve(Date.now())))
      guardian.stdin!.end(Leftovers.encodeStarted(hopper, `${prefix}1/1/`))
      const exitedAt = await exited
      // Every generation holds the beacon: it closed before the guardian gave up its watch.
      const closedAt = await Promise.race([alive.closed, sleep(5_000).then(() => Number.POSITIVE_INFINITY)])
      expect(closedAt).toBeLessThanOrEqual(exitedAt + 500)
    } finally {
      await killNewest("EFFECT_TASKS_COOKIE", `${prefix}1/1/`, alive.isClosed)
      alive.dispose()
    }
  })

  it("a guardian that cannot start is reported once and the manager keeps working", async () => {
    for (const entry of [fixture("host-bad-guardian.mjs"), "/nonexistent/guardian-main.js"]) {
      const { layer: logs, warnings } = collectWarnings()
      const manager = NodeTaskManager.layerWith({}).pipe(
        Layer.provideMerge(Guardian.layer({ guardian: true, journal: false, guardianEntry: entry }))
      )
      const outputs = await Effect.runPromise(
        Effect.gen(function*() {
          const tm = yield* TaskManager.TaskManager
          const spawner = yield* ChildProcessSpawner
          const results: Array<string> = []
          // The guardian's failure is noticed and reported; the spawns after it must not report it again.
          yield* Effect.promise(() => waitFor("the loss reported", () => warnings.some((w) => w.includes("guardian"))))
          for (let i = 0; i < 3; i++) {
            results.push(yield* tm.run(spawner.string(ChildProcess.make("echo", [`run ${i}`]))))
          }
          return results
        }).pipe(Effect.provide(manager), Effect.provide(logs))
      )
      expect(outputs).toEqual(["run 0\n", "run 1\n", "run 2\n"])
      expect(warnings.filter((w) => w.includes("guardian")).length).toBe(1)
      expect(warnings[0]).toContain("orphaned if this process dies")
    }
  })

  it("Guardian.layer on its own starts a guardian and a journal, as NodeTaskManager.layer does (on by default)", async () => {
    const dir = tempStateDirectory()
    const before = guardians()
    const during = await Effect.runPromise(
      Effect.sync(() => guardians().filter((pid) => !before.includes(pid))).pipe(
        Effect.provide(Guardian.layer({ stateDirectory: dir }))
      )
    )
    expect(during.length).toBe(1)
  })

  it("Guardian.layer closing: a tree the host still owns is killed by the guardian; owning nothing, it is only stopped", async () => {
    const owned = `${prefix}7/1/`
    const cleaned = `${prefix}7/2/`
    const kept = spawnWithCookie("sleep", ["1000"], owned)
    const released = spawnWithCookie("sleep", ["1000"], cleaned)
    await waitFor("processes up", () => cookieCarriers(prefix).length === 2)
    const run = (clean: boolean) =>
      Effect.runPromise(
        Effect.gen(function*() {
          const observer = yield* TaskProcesses.ProcessObserver
          const before = guardians()
          observer.started(released, cleaned)
          observer.cleaned(cleaned)
          if (!clean) observer.started(kept, owned)
          return before
        }).pipe(Effect.provide(Guardian.layer({ guardian: true, journal: false, grace: "200 millis" })))
      )
    // Everything cleaned: the guardian is gone when the layer has closed, and what the host let go of runs on.
    await run(true)
    expect(guardians()).toEqual([])
    expect(aliveAs(released.pid, released.startTime)).toBe(true)
    expect(aliveAs(kept.pid, kept.startTime)).toBe(true)
    // A tree still owned at close: the guardian gets the close line, kills it, and only then exits.
    await run(false)
    expect(guardians()).toEqual([])
    expect(aliveAs(kept.pid, kept.startTime)).toBe(false)
    expect(aliveAs(released.pid, released.startTime)).toBe(true)
  })

  it("costs little on the hot path (measured)", async () => {
    const dir = tempStateDirectory()
    const calls = 20_000
    const result = await Effect.runPromise(
      Effect.gen(function*() {
        const observer = yield* TaskProcesses.ProcessObserver
        const started = performance.now()
        for (let i = 0; i < calls; i++) observer.started({ pid: 1_000_000 + i, startTime: 1 }, `${prefix}9/${i}/`)
        for (let i = 0; i < calls; i++) observer.cleaned(`${prefix}9/${i}/`)
        const perCall = ((performance.now() - started) * 1000) / (2 * calls)
        const guardians = Array.from(
          readFileSync("/proc/self/task/" + process.pid + "/children", "utf8").trim().split(" ").filter(Boolean),
          Number
        ).filter((pid) => readCmdline(pid).includes("guardian-main"))
        yield* Effect.sleep(300)
        const rss = guardians.map((pid) => {
          const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS"))
          return line?.replace(/\s+/g, " ")
        })
        return { perCall, rss }
      }).pipe(Effect.provide(Guardian.layer({ guardian: true, stateDirectory: dir })))
    )
    console.log(`observer call with guardian + journal: ${result.perCall.toFixed(2)} us; guardian ${result.rss}`)
    expect(result.perCall).toBeLessThan(200)
  })
})
