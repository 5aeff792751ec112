import { afterAll, afterEach, beforeAll, describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { existsSync } from "node:fs"
import type { ProcessIdentity } from "../src/internal/ProcessIdentity.js"
import type { TreeSpec } from "../src/internal/ProcessTree.js"
import { killTree, type KillTreeOptions, type KillTreeSummary } from "../src/internal/TreeKill.js"
import { modes, removeTestRoot, targetOf, testRoot } from "./fixtures/cgroups.js"
import {
  awaitExit,
  awaitReady,
  childrenOf,
  cleanup,
  containIn,
  COOKIE_NAME,
  cookiePids,
  fixture,
  freshPrefix,
  leafOf,
  python,
  running,
  type Spawned,
  spawnEscapees,
  spawnProcess,
  stat,
  waitUntil
} from "./fixtures/procs.js"

afterEach(() => cleanup())

const timings: Array<string> = []
afterAll(() => {
  console.log(`killTree timings:\n  ${timings.join("\n  ")}`)
  removeTestRoot()
})

/** The spec of a tree; in cgroup mode, with the cgroup its processes entered (see `containIn`). */
const specFor = (prefix: string | undefined, roots: ReadonlyArray<Spawned>): TreeSpec => {
  const leaf = prefix === undefined ? undefined : leafOf(prefix)
  return {
    roots: roots.map(({ pid, startTime }) => ({ pid, startTime })),
    cookie: prefix === undefined ? undefined : { name: COOKIE_NAME, prefix },
    minStartTime: Math.min(...roots.map((root) => root.startTime)),
    cgroup: leaf === undefined ? undefined : targetOf(leaf)
  }
}

/** Identities of every process currently carrying the cookie (the tree as the test sees it). */
const snapshot = (prefix: string): Array<ProcessIdentity> =>
  cookiePids(prefix).flatMap((pid) => {
    const s = stat(pid)
    return s === undefined ? [] : [{ pid, startTime: s.startTime }]
  })

const stillRunning = (identities: ReadonlyArray<ProcessIdentity>) =>
  identities.filter(({ pid, startTime }) => running(pid) && stat(pid)?.startTime === startTime)

/** Kills, records the timing, and checks via /proc that nothing with the cookie and none of `seen` survives. */
const killAndCheck = (
  label: string,
  prefix: string,
  spec: TreeSpec,
  options: KillTreeOptions,
  seen: ReadonlyArray<ProcessIdentity> = snapshot(prefix)
) =>
  Effect.gen(function*() {
    const summary = yield* killTree(spec, options)
    timings.push(`${label}: ${summary.durationMillis} ms (${summary.signalled} signalled, ${summary.killed} SIGKILLed)`)
    expect(summary.survivors).toEqual([])
    expect(stillRunning(seen)).toEqual([])
    expect(cookiePids(prefix)).toEqual([])
    // In cgroup mode the cgroup found them (or the root by identity), and its cgroup is gone.
    if (spec.cgroup !== undefined) {
      expect(summary.found.filter((found) => found.via !== "cgroup" && found.via !== "root")).toEqual([])
      expect(existsSync(spec.cgroup.dir)).toBe(false)
    }
    return summary
  })

/** A real-time pause, for tests running on TestClock (where Effect.sleep would not wake). */
const realPause = (millis: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, millis)))

/** `waitUntil` in real time, for tests running on TestClock. */
const waitForReal = (predicate: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1000 && !predicate(); i++) yield* realPause(5)
    expect(predicate()).toBe(true)
  })

const graceful: KillTreeOptions = { graceful: true, grace: "5 seconds" }

// Every scenario runs in both modes: in cgroup mode each test's processes enter a cgroup of their cookie prefix
// under the per-run test cgroup before they run anything, and the kill is the cgroup method's (skipped, with the
// reason in the suite's name, only where this machine cannot create cgroups and CI is not set).
for (const { mode, skip } of modes) {
  describe.skipIf(skip !== undefined)(`[${mode}]${skip === undefined ? "" : ` (skipped: ${skip})`} killTree`, () => {
    beforeAll(() => containIn(mode === "cgroup" ? testRoot() : undefined))
    afterAll(() => containIn(undefined))

    it.live("(a) a direct child dies on SIGTERM within milliseconds", () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const root = spawnProcess("sleep", ["1000"], prefix)
        const summary = yield* killAndCheck("(a) direct child, SIGTERM", prefix, specFor(prefix, [root]), graceful)
        expect(summary).toMatchObject({ signalled: 1, killed: 0, escalated: false })
        expect(summary.durationMillis).toBeLessThan(1000)
        yield* awaitExit(root)
        expect(root.child.signalCode).toBe("SIGTERM")
      }))

    it.live("(a) not graceful: SIGKILL at once", () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const root = spawnProcess("sleep", ["1000"], prefix)
        const summary = yield* killAndCheck("(a) direct child, SIGKILL", prefix, specFor(prefix, [root]), {
          graceful: false,
          grace: 0
        })
        expect(summary).toMatchObject({ signalled: 1, killed: 1, escalated: false })
        yield* awaitExit(root)
        expect(root.child.signalCode).toBe("SIGKILL")
      }))

    it.live("(b) grandchildren in the same group; no wait on orphaned zombies", () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const root = spawnProcess("sh", ["-c", "sleep 1000 & sleep 1000 & wait"], prefix)
        yield* waitUntil("two sleeps", () => childrenOf(root.pid).length === 2)
        const summary = yield* killAndCheck("(b) sh + 2 background sleeps", prefix, specFor(prefix, [root]), graceful)
        expect(summary).toMatchObject({ signalled: 3, escalated: false })
        expect(summary.durationMillis).toBeLessThan(1000)
      }))

    it.live("(c) a descendant in another process group and (d) one in a new session", () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const root = yield* spawnEscapees(prefix)
        const summary = yield* killAndCheck(
          "(c)+(d) setpgid + setsid children",
          prefix,
          specFor(prefix, [root]),
          graceful
        )
        expect(summary).toMatchObject({ signalled: 3, escalated: false })
        expect(summary.durationMillis).toBeLessThan(1000)
      }))

    it.live("(c)/(d) without a cookie: escaped descendants are still reached through the parent relation", () =>
      Effect.gen(function*() {
        const root = spawnProcess("sh", ["-c", "setsid sleep 1000 & wait"], undefined)
        yield* waitUntil("setsid child", () => childrenOf(root.pid).length === 1)
        const kid = childrenOf(root.pid)[0]!
        const seen = [{ pid: root.pid, startTime: root.startTime }, { pid: kid, startTime: stat(kid)!.startTime }]
        const summary = yield* killTree(specFor(undefined, [root]), graceful)
        expect(summary).toMatchObject({ signalled: 2, survivors: [] })
        expect(stillRunning(seen)).toEqual([])
      }))

    it.live("(e) a double-forked daemon reparented to init is killed through the cookie", () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const root = spawnProcess(python, [fixture("daemon.py")], prefix)
        yield* awaitExit(root)
        yield* waitUntil("daemon", () => cookiePids(prefix).length === 1)
        const summary = yield* killAndCheck("(e) double-forked daemon", prefix, specFor(prefix, [root]), graceful)
        expect(summary).toMatchObject({ signalled: 1, escalated: false })
      }))

    it.live("(f) a shell that ignores SIGTERM gets SIGKILL once the grace elapses", () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const root = spawnProcess("sh", ["-c", "trap '' TERM; sleep 1000"], prefix)
        yield* waitUntil("sleep", () => childrenOf(root.pid).length === 1)
        const summary = yield* killAndCheck("(f) sh trap '' TERM, grace 300 ms", prefix, specFor(prefix, [root]), {
          graceful: true,
          grace: "300 millis"
        })
        expect(summary).toMatchObject({ signalled: 2, killed: 2, escalated: true })
        expect(summary.durationMillis).toBeGreaterThanOrEqual(300)
        expect(summary.durationMillis).toBeLessThan(1300)
      }))

    it.live("(f) node and python processes that ignore SIGTERM get SIGKILL after the grace", () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const node = spawnProcess(process.execPath, [fixture("ignore-term.mjs")], prefix, { pipeStdout: true })
        const py = spawnProcess(python, [fixture("ignore-term.py")], prefix, { pipeStdout: true })
        yield* awaitReady(node)
        yield* awaitReady(py)
        const summary = yield* killAndCheck(
          "(f) node + python ignoring TERM, grace 300 ms",
          prefix,
          specFor(prefix, [node, py]),
          { graceful: true, grace: 300 }
        )
        expect(summary).toMatchObject({ signalled: 2, killed: 2, escalated: true })
        expect(summary.durationMillis).toBeGreaterThanOrEqual(300)
        expect(summary.durationMillis).toBeLessThan(1300)
        yield* awaitExit(node)
        yield* awaitExit(py)
        expect(node.child.signalCode).toBe("SIGKILL")
        expect(py.child.signalCode).toBe("SIGKILL")
      }))

    it.live("forced upgrades a graceful kill to SIGKILL before the grace elapses", () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const root = spawnProcess("sh", ["-c", "trap '' TERM; sleep 1000"], prefix)
        yield* waitUntil("sleep", () => childrenOf(root.pid).length === 1)
        const summary = yield* killAndCheck("forced after 100 ms (grace 10 s)", prefix, specFor(prefix, [root]), {
          graceful: true,
          grace: "10 seconds",
          forced: Effect.sleep(100)
        })
        expect(summary).toMatchObject({ killed: 2, escalated: true })
        expect(summary.durationMillis).toBeGreaterThanOrEqual(100)
        expect(summary.durationMillis).toBeLessThan(1100)
      }))

    it.live("inside an uninterruptible region (a finalizer) with a forced that never completes", () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const root = spawnProcess("sh", ["-c", "trap '' TERM; sleep 1000"], prefix)
        yield* waitUntil("sleep", () => childrenOf(root.pid).length === 1)
        const seen = snapshot(prefix)
        const summary = yield* Effect.uninterruptible(
          killTree(specFor(prefix, [root]), { graceful: true, grace: 200, forced: Effect.never })
        )
        timings.push(`uninterruptible, forced never, grace 200 ms: ${summary.durationMillis} ms`)
        expect(summary).toMatchObject({ killed: 2, escalated: true, survivors: [] })
        expect(summary.durationMillis).toBeGreaterThanOrEqual(200)
        expect(summary.durationMillis).toBeLessThan(1200)
        expect(stillRunning(seen)).toEqual([])
      }))

    it.effect("waits on the Effect Clock: a 30 second grace passes under TestClock", () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const root = spawnProcess("sh", ["-c", "trap '' TERM; sleep 1000"], prefix)
        yield* waitForReal(() => childrenOf(root.pid).length === 1)
        const seen = snapshot(prefix)
        const fiber = yield* killTree(specFor(prefix, [root]), { graceful: true, grace: "30 seconds" }).pipe(
          Effect.forkChild({ startImmediately: true })
        )
        yield* TestClock.adjust("10 seconds")
        yield* realPause(30)
        expect(stillRunning(seen).length).toBe(2) // SIGTERM ignored, grace not over
        for (let i = 0; i < 200 && fiber.pollUnsafe() === undefined; i++) {
          yield* TestClock.adjust("5 seconds")
          yield* realPause(5)
        }
        const summary = yield* Fiber.join(fiber)
        expect(summary).toMatchObject({ killed: 2, escalated: true, survivors: [] })
        expect(summary.durationMillis).toBeGreaterThanOrEqual(30_000)
        expect(stillRunning(seen)).toEqual([])
      }))

    it.live("(g) a background job whose shell already exited is killed (cookie, and group without cookie)", () =>
      Effect.gen(function*() {
        for (const useCookie of [true, false]) {
          const prefix = freshPrefix()
          const root = spawnProcess("sh", ["-c", "sleep 1000 & exit 0"], prefix)
          yield* awaitExit(root)
          yield* waitUntil("orphaned sleep", () => cookiePids(prefix).length === 1)
          const summary = yield* killAndCheck(
            `(g) orphaned background job, ${useCookie ? "cookie" : "group only"}`,
            prefix,
            specFor(useCookie ? prefix : undefined, [root]),
            graceful
          )
          expect(summary).toMatchObject({ signalled: 1, escalated: false })
        }
      }))

    it.live("(h) a shell that keeps forking and ignores SIGTERM: the kill converges", () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const root = spawnProcess("sh", ["-c", "trap '' TERM; while true; do sleep 1000 & sleep 0.01; done"], prefix)
        yield* waitUntil("a few background sleeps", () => cookiePids(prefix).length >= 6)
        const summary = yield* killAndCheck(
          "(h) fork loop ignoring TERM, grace 200 ms",
          prefix,
          specFor(prefix, [root]),
          {
            graceful: true,
            grace: 200
          }
        )
        expect(summary.escalated).toBe(true)
        expect(summary.signalled).toBeGreaterThanOrEqual(6)
        expect(summary.durationMillis).toBeLessThan(1200)
        // nothing respawns afterwards
        yield* Effect.sleep(50)
        expect(cookiePids(prefix)).toEqual([])
      }))

    it.live("(h) a process that appears while the kill is running is caught", () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const root = spawnProcess("sh", ["-c", "trap '' TERM; sleep 1000"], prefix)
        yield* waitUntil("sleep", () => childrenOf(root.pid).length === 1)
        // The kill waits on its SIGTERM for as long as the test needs: it escalates only when told to.
        const escalate = yield* Deferred.make<void>()
        const fiber = yield* killTree(specFor(prefix, [root]), {
          graceful: true,
          grace: Duration.infinity,
          forced: Deferred.await(escalate)
        }).pipe(Effect.forkChild({ startImmediately: true }))
        // A new, unrelated-looking process of the task (own session, not a descendant of the root), deaf to
        // SIGTERM from its first instant: the running kill may find it at once.
        const late = spawnProcess("sh", ["-c", "sleep 1000"], prefix, { ignoreTerm: true })
        yield* waitUntil("late sleep", () => childrenOf(late.pid).length === 1)
        const seen = snapshot(prefix)
        expect(seen.length).toBe(4)
        expect(fiber.pollUnsafe()).toBeUndefined()
        yield* Deferred.succeed(escalate, undefined)
        const summary: KillTreeSummary = yield* Fiber.join(fiber)
        timings.push(`(h) late process during the SIGTERM phase: ${summary.durationMillis} ms`)
        expect(summary).toMatchObject({ signalled: 4, killed: 4, escalated: true, survivors: [] })
        expect(stillRunning(seen)).toEqual([])
        expect(cookiePids(prefix)).toEqual([])
      }))

    it.live("is safe and immediate when everything is already dead", () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const root = spawnProcess("true", [], prefix)
        yield* awaitExit(root)
        const summary = yield* killAndCheck("already dead", prefix, specFor(prefix, [root]), graceful)
        expect(summary).toMatchObject({ signalled: 0, killed: 0, escalated: false })
        expect(summary.durationMillis).toBeLessThan(500)
        const empty = yield* killTree({ roots: [], cookie: undefined, minStartTime: 0 }, graceful)
        expect(empty.signalled).toBe(0)
      }))

    it.live("PID-reuse guard: a root identity with the wrong start time is never signalled", () =>
      Effect.gen(function*() {
        const unrelated = spawnProcess("sh", ["-c", "sleep 1000 & wait"], undefined)
        yield* waitUntil("sleep", () => childrenOf(unrelated.pid).length === 1)
        const kid = childrenOf(unrelated.pid)[0]!
        const fake = { pid: unrelated.pid, startTime: unrelated.startTime + 1 }
        for (const cookie of [undefined, { name: COOKIE_NAME, prefix: freshPrefix() }]) {
          const summary = yield* killTree({ roots: [fake], cookie, minStartTime: 0 }, { graceful: false, grace: 0 })
          expect(summary.signalled).toBe(0)
        }
        yield* Effect.sleep(20)
        expect(running(unrelated.pid)).toBe(true)
        expect(running(kid)).toBe(true)
        expect(unrelated.child.signalCode).toBeNull()
      }))

    it.live("never signals the caller, its process group, or processes without the cookie", () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const previous = process.env[COOKIE_NAME]
        let received = 0
        const onTerm = () => {
          received++
        }
        process.on("SIGTERM", onTerm)
        process.env[COOKIE_NAME] = `${prefix}self`
        try {
          // A sibling in this process's own group, without the cookie.
          const sibling = spawnProcess("sleep", ["1000"], undefined, { detached: false })
          expect(stat(sibling.pid)!.pgid).toBe(stat(process.pid)!.pgid)
          const root = spawnProcess("sh", ["-c", "sleep 1000 & wait"], prefix)
          yield* waitUntil("sleep", () => childrenOf(root.pid).length === 1)
          yield* killAndCheck("(b') sh + 1 sleep, caller carries the cookie", prefix, {
            roots: [{ pid: root.pid, startTime: root.startTime }],
            cookie: { name: COOKIE_NAME, prefix },
            minStartTime: 0
          }, graceful)
          yield* Effect.sleep(20)
          expect(received).toBe(0)
          expect(running(process.pid)).toBe(true)
          expect(running(sibling.pid)).toBe(true)
        } finally {
          process.off("SIGTERM", onTerm)
          if (previous === undefined) delete process.env[COOKIE_NAME]
          else process.env[COOKIE_NAME] = previous
        }
      }))
  })
}
