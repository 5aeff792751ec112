import { afterEach, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import {
  isAlive,
  parseStat,
  readIdentity,
  readStat,
  signalGroupIfSame,
  signalIfSame,
  startTimeNow
} from "../src/internal/ProcessIdentity.js"
import { processesWithCookie, readEnvironCookie, readProcessTable } from "../src/internal/ProcessTable.js"
import { type Caller, currentCaller, discoverTree, findTree, type TreeSpec } from "../src/internal/ProcessTree.js"
import {
  awaitExit,
  childrenOf,
  cleanup,
  COOKIE_NAME,
  cookiePids,
  fixture,
  freshPrefix,
  python,
  running,
  spawnEscapees,
  spawnProcess,
  stat,
  track,
  waitUntil
} from "./fixtures/procs.js"

afterEach(() => cleanup())

const specFor = (prefix: string | undefined, roots: ReadonlyArray<{ pid: number; startTime: number }>): TreeSpec => ({
  roots: roots.map(({ pid, startTime }) => ({ pid, startTime })),
  cookie: prefix === undefined ? undefined : { name: COOKIE_NAME, prefix },
  minStartTime: Math.min(...roots.map((root) => root.startTime))
})

const pidsOf = (members: ReadonlyArray<{ pid: number }>) =>
  members.map((member) => member.pid).toSorted((a, b) => a - b)
const sorted = (pids: ReadonlyArray<number>) => pids.toSorted((a, b) => a - b)

describe("ProcessIdentity", () => {
  it("parseStat splits after the last ')' of the command name", () => {
    const tail = Array.from({ length: 49 }, (_, i) => String(i + 4))
    tail[0] = "42" // ppid (field 4)
    tail[1] = "43" // pgid (field 5)
    tail[2] = "44" // sid (field 6)
    tail[18] = "987654" // starttime (field 22)
    const text = `1234 (we ird) (name)) S ${tail.join(" ")}\n`
    expect(parseStat(text)).toEqual({ pid: 1234, ppid: 42, pgid: 43, sid: 44, state: "S", startTime: 987654 })
    expect(parseStat("garbage")).toBeUndefined()
  })

  it.live("readStat reads this process and a child; isAlive checks the start time", () =>
    Effect.gen(function*() {
      const self = readStat(process.pid)!
      expect(self.pid).toBe(process.pid)
      expect(self.ppid).toBe(process.ppid)
      expect(self.startTime).toBe(stat(process.pid)!.startTime)
      expect(self.startTime).toBeLessThanOrEqual(startTimeNow())

      const sleeper = spawnProcess("sleep", ["1000"], undefined)
      const identity = readIdentity(sleeper.pid)!
      expect(identity).toEqual({ pid: sleeper.pid, startTime: sleeper.startTime })
      const child = readStat(sleeper.pid)!
      expect(child.ppid).toBe(process.pid)
      expect(child.pgid).toBe(sleeper.pid) // detached: own group
      expect(child.sid).toBe(sleeper.pid) // and own session
      expect(isAlive(identity)).toBe(true)
      expect(isAlive({ pid: sleeper.pid, startTime: sleeper.startTime + 1 })).toBe(false)

      process.kill(sleeper.pid, "SIGKILL")
      yield* awaitExit(sleeper)
      expect(readStat(sleeper.pid)).toBeUndefined()
      expect(isAlive(identity)).toBe(false)
      expect(readStat(2 ** 30)).toBeUndefined()
    }))

  it.live("zombies count as dead and are never signalled", () =>
    Effect.gen(function*() {
      const parent = spawnProcess(python, [fixture("zombie-parent.py")], undefined)
      let zombie = 0
      yield* waitUntil("zombie child", () => {
        for (const entry of readProcessTable().values()) {
          if (entry.ppid === parent.pid && entry.state === "Z") zombie = entry.pid
        }
        return zombie !== 0
      })
      const identity = readIdentity(zombie)!
      expect(readStat(zombie)!.state).toBe("Z")
      expect(isAlive(identity)).toBe(false)
      expect(signalIfSame(identity, "SIGKILL")).toBe(false)
      expect(isAlive({ pid: parent.pid, startTime: parent.startTime })).toBe(true)
    }))

  it.live("signalIfSame only signals the same incarnation, never pid <= 1 or this process", () =>
    Effect.gen(function*() {
      const sleeper = spawnProcess("sleep", ["1000"], undefined)
      expect(signalIfSame({ pid: sleeper.pid, startTime: sleeper.startTime + 1 }, "SIGKILL")).toBe(false)
      expect(signalIfSame({ pid: sleeper.pid, startTime: sleeper.startTime - 1 }, "SIGKILL")).toBe(false)
      yield* Effect.sleep(20)
      expect(running(sleeper.pid)).toBe(true)

      const selfStart = stat(process.pid)!.startTime
      let received = 0
      const onSignal = () => {
        received++
      }
      process.on("SIGWINCH", onSignal)
      try {
        expect(signalIfSame({ pid: process.pid, startTime: selfStart }, "SIGWINCH")).toBe(false)
        expect(signalIfSame({ pid: 1, startTime: stat(1)!.startTime }, "SIGWINCH")).toBe(false)
        expect(signalIfSame({ pid: 0, startTime: 0 }, "SIGWINCH")).toBe(false)
        expect(signalIfSame({ pid: -1, startTime: 0 }, "SIGWINCH")).toBe(false)
        // The caller's own process group is never signalled as a group.
        expect(signalGroupIfSame(stat(process.pid)!.pgid, { pid: process.pid, startTime: selfStart }, "SIGWINCH"))
          .toBe(false)
        yield* Effect.sleep(20)
        expect(received).toBe(0)
      } finally {
        process.off("SIGWINCH", onSignal)
      }

      expect(signalIfSame({ pid: sleeper.pid, startTime: sleeper.startTime }, "SIGKILL")).toBe(true)
      yield* awaitExit(sleeper)
      expect(sleeper.child.signalCode).toBe("SIGKILL")
      // Gone (reaped): nothing to signal, no throw.
      expect(signalIfSame({ pid: sleeper.pid, startTime: sleeper.startTime }, "SIGKILL")).toBe(false)
    }))
})

describe("ProcessTable", () => {
  it.live("snapshot contains this process and a spawned child with its parent", () =>
    Effect.sync(() => {
      const sleeper = spawnProcess("sleep", ["1000"], undefined)
      const table = readProcessTable()
      expect(table.get(process.pid)?.pid).toBe(process.pid)
      expect(table.get(sleeper.pid)).toMatchObject({
        ppid: process.pid,
        pgid: sleeper.pid,
        startTime: sleeper.startTime
      })
      expect(table.size).toBeGreaterThan(2)
    }))

  it.live("readEnvironCookie reads one variable of another process", () =>
    Effect.sync(() => {
      const prefix = freshPrefix()
      const sleeper = spawnProcess("sleep", ["1000"], prefix)
      expect(readEnvironCookie(sleeper.pid, COOKIE_NAME)).toBe(`${prefix}task`)
      expect(readEnvironCookie(sleeper.pid, "EFFECT_TASKS_NO_SUCH_VARIABLE")).toBeUndefined()
      expect(readEnvironCookie(2 ** 30, COOKIE_NAME)).toBeUndefined()
    }))

  it.live("processesWithCookie only reads processes started at or after minStartTime", () =>
    Effect.sync(() => {
      const prefix = freshPrefix()
      const sleeper = spawnProcess("sleep", ["1000"], prefix)
      const table = readProcessTable()
      const cookie = { name: COOKIE_NAME, prefix }
      expect(processesWithCookie(table, cookie, sleeper.startTime)).toEqual([sleeper.pid])
      const read: Array<number> = []
      const spy = (pid: number, name: string) => {
        read.push(pid)
        return readEnvironCookie(pid, name)
      }
      expect(processesWithCookie(table, cookie, sleeper.startTime + 1, spy)).toEqual([])
      expect(read).not.toContain(sleeper.pid)
      expect(read).not.toContain(1)
    }))
})

describe("findTree", () => {
  it.live("(b) grandchildren in the root's group are found through the parent relation", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const root = spawnProcess("sh", ["-c", "sleep 1000 & sleep 1000 & wait"], prefix)
      yield* waitUntil("two sleeps", () => childrenOf(root.pid).length === 2)
      const kids = childrenOf(root.pid)
      const tree = findTree(specFor(undefined, [root]))
      expect(pidsOf(tree)).toEqual(sorted([root.pid, ...kids]))
      expect(tree.find((m) => m.pid === root.pid)?.via).toBe("root")
      for (const member of tree) expect(member.pgid).toBe(root.pid)
      expect(pidsOf(findTree(specFor(prefix, [root])))).toEqual(sorted([root.pid, ...kids]))
    }))

  it.live("(c) a descendant in another process group and (d) one in a new session are found", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const root = yield* spawnEscapees(prefix)
      const kids = childrenOf(root.pid)
      for (const spec of [specFor(undefined, [root]), specFor(prefix, [root])]) {
        const tree = findTree(spec)
        expect(pidsOf(tree)).toEqual(sorted([root.pid, ...kids]))
      }
      const setsidKid = kids.map((pid) => stat(pid)!).find((kid) => kid.sid === kid.pid)
      expect(setsidKid).toBeDefined()
    }))

  it.live("(e) a double-forked daemon reparented to init is found by the cookie only", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const root = spawnProcess(python, [fixture("daemon.py")], prefix)
      yield* awaitExit(root)
      yield* waitUntil("daemon", () => cookiePids(prefix).length === 1)
      const daemon = stat(cookiePids(prefix)[0]!)!
      expect(daemon.ppid).not.toBe(root.pid)
      expect(daemon.sid).toBe(daemon.pgid)
      expect(daemon.sid).not.toBe(root.pid)

      const tree = findTree(specFor(prefix, [root]))
      expect(tree.map((m) => [m.pid, m.via])).toEqual([[daemon.pid, "cookie"]])
      expect(findTree(specFor(undefined, [root]))).toEqual([])
    }))

  it.live("(g) a background job whose shell already exited is found by cookie, and by group without one", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const root = spawnProcess("sh", ["-c", "sleep 1000 & exit 0"], prefix)
      yield* awaitExit(root)
      yield* waitUntil("orphaned sleep", () => cookiePids(prefix).length === 1)
      const orphan = cookiePids(prefix)[0]!
      expect(stat(orphan)!.pgid).toBe(root.pid)

      expect(findTree(specFor(prefix, [root])).map((m) => [m.pid, m.via])).toEqual([[orphan, "cookie"]])
      expect(findTree(specFor(undefined, [root])).map((m) => [m.pid, m.via])).toEqual([[orphan, "group"]])
    }))

  it.live("PID-reuse guard: a wrong start time for a live unrelated process finds nothing", () =>
    Effect.sync(() => {
      const unrelated = spawnProcess("sh", ["-c", "sleep 1000 & wait"], undefined)
      const fake = { pid: unrelated.pid, startTime: unrelated.startTime + 1 }
      expect(findTree({ roots: [fake], cookie: undefined, minStartTime: 0 })).toEqual([])
      expect(findTree({ roots: [fake], cookie: { name: COOKIE_NAME, prefix: freshPrefix() }, minStartTime: 0 }))
        .toEqual([])
      // An empty prefix would match every task's cookie: treated as no cookie.
      expect(findTree({ roots: [], cookie: { name: COOKIE_NAME, prefix: "" }, minStartTime: 0 })).toEqual([])
    }))

  it.live("never returns this process or its parent, even when they carry the cookie", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const previous = process.env[COOKIE_NAME]
      process.env[COOKIE_NAME] = `${prefix}self`
      try {
        const root = spawnProcess("sleep", ["1000"], prefix)
        const always = () => `${prefix}self`
        const tree = discoverTree(readProcessTable(), {
          roots: [root],
          cookie: { name: COOKIE_NAME, prefix },
          minStartTime: 0
        }, {
          readCookie: always // every process claims the cookie, this one and its ancestors included
        })
        const pids = pidsOf(tree)
        expect(pids).toContain(root.pid)
        expect(pids).not.toContain(process.pid)
        expect(pids).not.toContain(process.ppid)
        expect(pids).not.toContain(1)
        for (const ancestor of currentCaller(readProcessTable()).ancestors) expect(pids).not.toContain(ancestor)
        yield* Effect.void
      } finally {
        if (previous === undefined) delete process.env[COOKIE_NAME]
        else process.env[COOKIE_NAME] = previous
      }
    }))

  it.live("the caller's own group is reached only through cookie or parent, never through membership", () =>
    Effect.gen(function*() {
      // A cookie-carrying process in this test's own process group (not detached) is found by its cookie.
      const prefix = freshPrefix()
      const sibling = spawnProcess("sleep", ["1000"], prefix, { detached: false })
      expect(stat(sibling.pid)!.pgid).toBe(stat(process.pid)!.pgid)
      const spec = { roots: [], cookie: { name: COOKIE_NAME, prefix }, minStartTime: 0 }
      expect(findTree(spec).map((m) => [m.pid, m.via])).toEqual([[sibling.pid, "cookie"]])

      // An orphaned background job found only through its (gone) root's group is dropped when that group is
      // the caller's: pretend to be a caller in that group.
      const root = spawnProcess("sh", ["-c", "sleep 1000 & exit 0"], undefined)
      yield* awaitExit(root)
      let orphan = 0
      yield* waitUntil("orphaned sleep", () => {
        for (const entry of readProcessTable().values()) {
          if (entry.pgid === root.pid && entry.state !== "Z") orphan = entry.pid
        }
        return orphan !== 0
      })
      track(orphan, stat(orphan)!.startTime)
      const table = readProcessTable()
      const noCookie = specFor(undefined, [root])
      expect(pidsOf(discoverTree(table, noCookie))).toEqual([orphan])
      const caller: Caller = { pid: process.pid, pgid: root.pid, sid: -1, ancestors: new Set() }
      expect(discoverTree(table, noCookie, { caller })).toEqual([])
      // Injected caller = the orphan itself: never returned.
      const asOrphan: Caller = { pid: orphan, pgid: 0, sid: -1, ancestors: new Set() }
      expect(discoverTree(table, noCookie, { caller: asOrphan })).toEqual([])
    }))

  it.live("a root whose exit was seen is never matched again, even by a process born in the same clock tick", () =>
    Effect.gen(function*() {
      // Start times have a clock tick's resolution: a pid recycled within the tick has the old identity. The
      // process below stands for such a stranger: the same pid and start time as a root we saw exit.
      const stranger = spawnProcess("sleep", ["1000"], undefined)
      const identity = { pid: stranger.pid, startTime: stat(stranger.pid)!.startTime }
      const table = readProcessTable()
      const live = specFor(undefined, [identity])
      expect(pidsOf(discoverTree(table, live))).toEqual([stranger.pid])
      const exited: TreeSpec = { ...live, roots: [{ ...identity, exitTick: identity.startTime }] }
      expect(discoverTree(table, exited)).toEqual([])
      // Nor does an earlier look's finding of that identity bring it back.
      expect(discoverTree(table, exited, { known: [identity] })).toEqual([])
      yield* Effect.void
    }))

  it.live("an orphan in a group led by a live member is found through that group, without a cookie", () =>
    Effect.gen(function*() {
      // The root's child C starts a new session (and group); C's child forks a grandchild and exits, so the
      // grandchild is reparented to init and is tied to the tree only by C's group and session.
      const root = spawnProcess(python, [
        "-c",
        [
          "import os, time",
          "if os.fork() == 0:",
          "    os.setsid()",
          "    if os.fork() == 0:",
          "        if os.fork() == 0:",
          "            time.sleep(1000)",
          "        os._exit(0)",
          "    os.wait()",
          "    time.sleep(1000)",
          "    os._exit(0)",
          "time.sleep(1000)"
        ].join("\n")
      ], undefined)
      let leader = 0
      let orphan = 0
      yield* waitUntil("orphan in the child's group", () => {
        leader = childrenOf(root.pid)[0] ?? 0
        orphan = 0
        if (leader === 0) return false
        for (const entry of readProcessTable().values()) {
          if (entry.pgid === leader && entry.pid !== leader && entry.ppid !== leader && entry.state !== "Z") {
            orphan = entry.pid
          }
        }
        return orphan !== 0
      })
      track(leader, stat(leader)!.startTime)
      track(orphan, stat(orphan)!.startTime)
      const tree = findTree(specFor(undefined, [root]))
      expect(pidsOf(tree)).toEqual(sorted([root.pid, leader, orphan]))
      expect(tree.find((m) => m.pid === orphan)?.via).toBe("group")
    }))
})
