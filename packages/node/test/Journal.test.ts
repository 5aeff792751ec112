/**
 * The journal: what it writes, how it replays, and what `reap` does with each kind of journal it finds, on real
 * processes (the leftovers are spawned here with a cookie; a recycled pid is forged with a wrong start time).
 */
import { Journal } from "@effect-tasks/node"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs"
import { homedir, hostname } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import * as JournalFile from "../src/internal/JournalFile.js"
import * as Leftovers from "../src/internal/Leftovers.js"
import { cgroupMissing, cgroupOfPid, cgroupsUnder, pidsUnder, removeTestRoot, testRoot } from "./fixtures/cgroups.js"
import {
  aliveAs,
  cookieCarriers,
  cookieSpawner,
  journals,
  running,
  sleep,
  stat,
  tempStateDirectory,
  waitFor
} from "./fixtures/host-helpers.js"
import { beacon, fixture as procFixture, killNewest, python } from "./fixtures/procs.js"

const linux = process.platform === "linux"
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
const prefix = `jtest-${process.pid}-${Math.random().toString(36).slice(2, 8)}/`
const bootId = linux ? readFileSync("/proc/sys/kernel/random/boot_id", "latin1").trim() : undefined

const { cleanup, spawnWithCookie } = cookieSpawner(prefix)

afterEach(cleanup)
afterAll(removeTestRoot)

const header = (host: { pid: number; startTime: number }, overrides: Record<string, unknown> = {}) =>
  `${
    JSON.stringify({
      type: "header",
      version: 1,
      host,
      hostname: hostname(),
      bootId,
      platform: process.platform,
      createdAt: Date.now(),
      ...overrides
    })
  }\n`

/** A host that is dead by identity: this process's pid with a start time it never had. */
const deadHost = () => ({ pid: process.pid, startTime: 3 })

describe("Journal", () => {
  it("defaultStateDirectory follows XDG_STATE_HOME, else ~/.local/state", () => {
    expect(Journal.defaultStateDirectory({ XDG_STATE_HOME: "/x/state" })).toBe("/x/state/effect-tasks")
    expect(Journal.defaultStateDirectory({ XDG_STATE_HOME: "relative" })).toBe(
      join(homedir(), ".local", "state", "effect-tasks")
    )
    expect(Journal.defaultStateDirectory({})).toBe(join(homedir(), ".local", "state", "effect-tasks"))
  })

  it("records, replays (spawn and task prefixes), ignores a torn line, and is removed when closed empty", () => {
    const dir = tempStateDirectory()
    const journal = JournalFile.open(join(dir, "nested"))
    journal.started({ pid: 10, startTime: 100 }, "i/1/1/")
    journal.started({ pid: 11, startTime: 101 }, "i/1/2/")
    journal.started({ pid: 12, startTime: 102 }, "i/2/3/")
    journal.started({ pid: 13, startTime: 103 }, "i/2/") // attached to task 2
    journal.started({ pid: 14, startTime: 104 }, "i/3/4/")
    journal.cleaned("i/1/2/")
    journal.cleaned("i/2/")
    writeFileSync(journal.file, "{\"type\":\"started\",\"pid\":99,\"sta", { flag: "a" })
    const contents = JournalFile.read(journal.file)!
    expect(contents.header.host.pid).toBe(process.pid)
    expect(contents.header.hostname).toBe(hostname())
    expect(contents.live.entries()).toEqual([
      { cookie: "i/1/1/", roots: [{ pid: 10, startTime: 100 }] },
      { cookie: "i/3/4/", roots: [{ pid: 14, startTime: 104 }] }
    ])
    journal.cleaned("i/")
    journal.close()
    expect(existsSync(journal.file)).toBe(false)
  })

  it("keeps a journal closed with live trees, and compacts as it grows", () => {
    const dir = tempStateDirectory()
    const journal = JournalFile.open(dir, { compactAfter: 16 })
    for (let i = 0; i < 1000; i++) {
      journal.started({ pid: 1000 + i, startTime: i }, `c/${i}/${i}/`)
      if (i % 10 !== 0) journal.cleaned(`c/${i}/`)
    }
    journal.close()
    const lines = readFileSync(journal.file, "utf8").trim().split("\n")
    // 100 live trees; compaction keeps the file near that instead of 1900 records.
    expect(lines.length).toBeLessThan(500)
    const live = JournalFile.read(journal.file)!.live
    expect(live.size).toBe(100)
    expect(live.entries()[0]).toEqual({ cookie: "c/0/0/", roots: [{ pid: 1000, startTime: 0 }] })
  })

  it("reap on a missing directory reports nothing", async () => {
    const report = await Effect.runPromise(Journal.reap("/nonexistent/effect-tasks-state"))
    expect(report.journals).toEqual([])
  })

  it.runIf(linux)(
    "reap: kills a dead host's trees, never a recycled pid; leaves live, foreign, unreadable",
    async () => {
      const dir = tempStateDirectory()
      const a = `${prefix}1/1/`
      const b = `${prefix}1/2/`
      const tree = spawnWithCookie("sh", ["-c", "sleep 1000 & sleep 1000 & wait"], a)
      const daemon = spawnWithCookie("python3", [fixture("daemon.py")], b)
      const stubborn = spawnWithCookie("python3", [fixture("ignore-term.py")], b)
      const unrelated = spawnWithCookie("sleep", ["1000"], undefined)
      // Settled: sh + 2 sleeps, the stubborn child, and the daemon reparented to init (its parents gone).
      await waitFor("leftovers up", () => {
        const carriers = cookieCarriers(prefix)
        return carriers.length === 5 && carriers.some((s) => s.ppid === 1) && !running(daemon.pid)
      })
      await stubborn.ready // python has installed its SIGTERM handler
      const carriersBefore = cookieCarriers(prefix).length

      const dead = join(dir, "dead.journal")
      writeFileSync(
        dead,
        header(deadHost()) +
          Leftovers.encodeStarted(tree, a) +
          Leftovers.encodeStarted(daemon, b) +
          Leftovers.encodeStarted(stubborn, b) +
          Leftovers.encodeStarted({ pid: unrelated.pid, startTime: unrelated.startTime + 5 }, `${prefix}2/3/`) +
          Leftovers.encodeStarted({ pid: 2_000_000, startTime: 1 }, `${prefix}2/4/`)
      )
      const live = join(dir, "live.journal")
      writeFileSync(live, header({ pid: process.pid, startTime: stat(process.pid)!.startTime }))
      const foreign = join(dir, "foreign.journal")
      writeFileSync(foreign, header(deadHost(), { hostname: `not-${hostname()}` }) + Leftovers.encodeStarted(tree, a))
      const previousBoot = join(dir, "previous-boot.journal")
      writeFileSync(previousBoot, header(deadHost(), { bootId: "00000000-0000-0000-0000-000000000000" }))
      const garbage = join(dir, "garbage.journal")
      writeFileSync(garbage, "not json\n")

      // A dry run finds the same processes and changes nothing.
      const dry = await Effect.runPromise(Journal.reap(dir, { dryRun: true }))
      expect(dry.journals.find((j) => j.file === dead)!.found.length).toBe(carriersBefore)
      expect(cookieCarriers(prefix).length).toBe(carriersBefore)
      expect(journals(dir).length).toBe(5)

      const started = Date.now()
      const report = await Effect.runPromise(Journal.reap(dir, { grace: 200 }))
      const took = Date.now() - started
      const byFile = new Map(report.journals.map((j) => [j.file, j]))

      const reaped = byFile.get(dead)!
      expect(reaped.status).toBe("reaped")
      expect(reaped.trees).toBe(4)
      expect(reaped.found.length).toBe(carriersBefore)
      expect(new Set(reaped.found.map((p) => p.cookie))).toEqual(new Set([a, b]))
      expect(reaped.found.some((p) => p.via === "cookie" && p.ppid === 1)).toBe(true) // the daemon
      expect(reaped.mismatched).toEqual([{ pid: unrelated.pid, startTime: unrelated.startTime + 5 }])
      expect(reaped.survivors).toEqual([])
      expect(reaped.removed).toBe(true)
      expect(cookieCarriers(prefix)).toEqual([])
      expect(aliveAs(unrelated.pid, unrelated.startTime)).toBe(true)

      expect(byFile.get(live)!.status).toBe("host-alive")
      expect(byFile.get(foreign)!.status).toBe("other-machine")
      expect(byFile.get(previousBoot)!.status).toBe("previous-boot")
      expect(byFile.get(previousBoot)!.removed).toBe(true)
      expect(byFile.get(garbage)!.status).toBe("unreadable")
      expect(journals(dir).toSorted()).toEqual(["foreign.journal", "garbage.journal", "live.journal"])
      // grace 200 ms, then SIGKILL for the SIGTERM-ignoring child
      expect(took).toBeLessThan(1_500)
    }
  )

  it.runIf(linux)("reap chases down a SIGTERM-ignoring pid hopper before it returns", async () => {
    const dir = tempStateDirectory()
    const alive = beacon()
    try {
      const hopper = spawnWithCookie(python, [procFixture("hopper.py"), "20", alive.path], `${prefix}1/1/`)
      await alive.opened
      writeFileSync(join(dir, "dead.journal"), header(deadHost()) + Leftovers.encodeStarted(hopper, `${prefix}1/1/`))
      const report = await Effect.runPromise(Journal.reap(dir, { grace: 200 }))
      const returned = Date.now()
      const closedAt = await Promise.race([alive.closed, sleep(5_000).then(() => Number.POSITIVE_INFINITY)])
      expect(closedAt).toBeLessThanOrEqual(returned + 500)
      expect(report.journals[0]!.survivors).toEqual([])
    } finally {
      await killNewest("EFFECT_TASKS_COOKIE", `${prefix}1/1/`, alive.isClosed)
      alive.dispose()
    }
  })
})

// Skipped only without the capability (root or a delegated cgroup) and outside CI (see fixtures/cgroups.ts).
const missing = process.env.CI === "true" ? undefined : cgroupMissing()

/** Starts `script` under sh inside cgroup `dir` (entered before it runs anything), in a session of its own. */
const spawnInCgroup = (dir: string, script: string) => {
  const child = spawn("/bin/sh", ["-c", `echo $$ > ${dir}/cgroup.procs && exec /bin/sh -c "$0"`, script], {
    detached: true,
    stdio: "ignore",
    env: {}
  })
  return child
}

describe("Journal and cgroups", () => {
  it("records the cgroups a manager made, keeps the journal while one is there, and compacts them", () => {
    const dir = tempStateDirectory()
    const journal = JournalFile.open(dir, { compactAfter: 16 })
    journal.cgroupCreated("/sys/fs/cgroup/a", "/a")
    journal.cgroupCreated("/sys/fs/cgroup/pids/a", undefined)
    for (let i = 0; i < 100; i++) {
      journal.started({ pid: 1000 + i, startTime: i }, `c/${i}/${i}/`)
      journal.cleaned(`c/${i}/`)
    }
    journal.cgroupRemoved("/sys/fs/cgroup/pids/a")
    journal.close()
    expect(readFileSync(journal.file, "utf8").trim().split("\n").length).toBeLessThan(40)
    const live = JournalFile.read(journal.file)!.live
    expect(live.size).toBe(0)
    expect(live.cgroups()).toEqual([{ dir: "/sys/fs/cgroup/a", path: "/a" }])
    expect(live.cgroupSpecs()).toEqual([
      { roots: [], cookie: undefined, minStartTime: 0, cgroup: { dir: "/sys/fs/cgroup/a", path: "/a" } }
    ])
  })

  it.runIf(missing === undefined)(
    `reap kills what a dead manager's recorded cgroup holds, a daemon without cookie included, and removes it${
      missing === undefined ? "" : ` (skipped: ${missing})`
    }`,
    async () => {
      const dir = tempStateDirectory()
      const manager = join(testRoot()!, `effect-tasks-${process.pid}-3-${Math.random().toString(36).slice(2, 8)}`)
      const leaf = join(manager, "t1", "s1")
      mkdirSync(leaf, { recursive: true })
      // A double-forked daemon with an empty environment: no cookie, no group, session or parent to follow.
      spawnInCgroup(leaf, `${python} ${fixture("daemon.py")}; exec sleep 1000`)
      await waitFor("the daemon and the sleep", () => pidsUnder(manager).length === 2)
      const members = pidsUnder(manager).map((pid) => stat(pid)!)
      const path = dirname(dirname(cgroupOfPid(members[0]!.pid)!))
      writeFileSync(join(dir, "dead.journal"), header(deadHost()) + Leftovers.encodeCgroup(manager, path))

      const dry = await Effect.runPromise(Journal.reap(dir, { dryRun: true }))
      expect(dry.journals[0]!.found.length).toBe(2)
      expect(pidsUnder(manager).length).toBe(2)

      const report = await Effect.runPromise(Journal.reap(dir, { grace: 200 }))
      const reaped = report.journals[0]!
      expect(reaped.status).toBe("reaped")
      expect(reaped.found.map((p) => p.via)).toEqual(["cgroup", "cgroup"])
      expect(reaped.found.every((p) => p.cookie === manager)).toBe(true)
      expect(reaped.cgroups).toEqual([manager])
      expect(reaped.removed).toBe(true)
      for (const member of members) expect(aliveAs(member.pid, member.startTime)).toBe(false)
      expect(existsSync(manager)).toBe(false)
      expect(journals(dir)).toEqual([])
    }
  )

  it.runIf(missing === undefined)(
    `reap removes the cgroups of dead managers no journal names (next to its own), never a live one's${
      missing === undefined ? "" : ` (skipped: ${missing})`
    }`,
    async () => {
      // Next to this process's own cgroup, where its managers would make theirs: what reap scans.
      const own = dirname(testRoot()!)
      const suffix = Math.random().toString(36).slice(2, 8)
      const deadManager = join(own, `effect-tasks-${process.pid}-3-${suffix}`)
      const liveManager = join(own, `effect-tasks-${process.pid}-${stat(process.pid)!.startTime}-${suffix}`)
      // A dead manager whose journal (in some other state directory) records its cgroups: that journal's to reap.
      const journaledManager = join(own, `effect-tasks-${process.pid}-3-${suffix}-journal`)
      try {
        mkdirSync(join(deadManager, "t1", "s1"), { recursive: true })
        mkdirSync(join(deadManager, "t2"), { recursive: true })
        mkdirSync(liveManager)
        mkdirSync(journaledManager)
        spawnInCgroup(join(deadManager, "t1", "s1"), "exec sleep 1000")
        spawnInCgroup(journaledManager, "exec sleep 1000")
        await waitFor(
          "the leftover sleeps",
          () => pidsUnder(deadManager).length === 1 && pidsUnder(journaledManager).length === 1
        )
        const [sleeper] = pidsUnder(deadManager).map((pid) => stat(pid)!)
        const [recorded] = pidsUnder(journaledManager).map((pid) => stat(pid)!)
        const report = await Effect.runPromise(Journal.reap(tempStateDirectory(), { grace: 200 }))
        expect(report.orphanCgroups).not.toContain(journaledManager)
        expect(aliveAs(recorded!.pid, recorded!.startTime)).toBe(true)
        process.kill(recorded!.pid, "SIGKILL")
        await waitFor("the recorded sleep gone", () => pidsUnder(journaledManager).length === 0)
        // Another test's manager starting meanwhile may have reaped it first: what counts is that it is gone.
        expect(report.orphanCgroups.filter((dir) => dir !== deadManager && dir.includes(`-${suffix}`))).toEqual([])
        expect(existsSync(deadManager)).toBe(false)
        expect(aliveAs(sleeper!.pid, sleeper!.startTime)).toBe(false)
        expect(existsSync(liveManager)).toBe(true)
        expect(cgroupsUnder(liveManager)).toEqual([])
      } finally {
        for (const dir of [...cgroupsUnder(deadManager).toReversed(), deadManager, liveManager, journaledManager]) {
          try {
            rmdirSync(dir)
          } catch {
            // already gone
          }
        }
      }
    }
  )
})
