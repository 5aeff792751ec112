/**
 * The host dies; nothing its tasks started survives. Each test starts a real host process (host-manager.mjs,
 * running the BUILT package) with five tasks: a shell with background grandchildren, a double-forked setsid
 * daemon reparented to init, a SIGTERM-ignoring child, a shell whose background child ignores SIGTERM, and a
 * `setsid` escapee. Survival is checked through `/proc` (cookie carriers and recorded identities; zombies count
 * as dead), independently of the code under test. Every test runs in both containment modes; in cgroup mode the
 * host also runs a daemon that only its cgroup holds (env -i, setsid, double fork), and the test's cgroup must end
 * up empty and without the manager's cgroups.
 */
import { NodeTaskManager } from "@effect-tasks/node"
import { Effect, Layer } from "effect"
import { spawn } from "node:child_process"
import { writeFileSync } from "node:fs"
import { hostname } from "node:os"
import { join } from "node:path"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import { leftInTestRoot, modeConfig, modes, removeTestRoot } from "./fixtures/cgroups.js"
import {
  aliveAs,
  cleanupHosts,
  journals,
  leftovers,
  readCmdline,
  removeStateDirectories,
  running,
  sleep,
  startHost,
  stat,
  tempStateDirectory,
  waitFor
} from "./fixtures/host-helpers.js"

const linux = process.platform === "linux"

afterEach(() => {
  cleanupHosts()
  removeStateDirectories()
})
afterAll(removeTestRoot)

/** Every distinct process the host reported (cookie carriers, and in cgroup mode the cgroups' members). */
const reported = (host: Awaited<ReturnType<typeof startHost>>) =>
  new Set([...host.report.processes, ...host.report.members].map((p) => p.pid)).size

// cgroup mode is skipped (with the reason in the suite's name) only where this machine cannot create cgroups and
// CI is not set (see fixtures/cgroups.ts).
for (const { mode: containment, skip } of modes) {
  const within = skip === undefined ? `[${containment}]` : `[${containment}] (skipped: ${skip})`

  /** In cgroup mode: waits until the test's cgroup holds neither a process nor the manager's cgroups. */
  const cgroupsGone = async () => {
    if (containment !== "cgroup") return
    await waitFor("the manager's cgroups removed", () => {
      const left = leftInTestRoot()
      return left.cgroups.length === 0 && left.pids.length === 0
    }, 3_000)
  }

  describe.runIf(linux && skip === undefined)(`${within} host death`, () => {
    it("host SIGKILLed: the guardian kills every tree within 2 seconds", async () => {
      const dir = tempStateDirectory()
      const host = await startHost({ mode: "wait", stateDirectory: dir, ...modeConfig(containment) })
      expect(host.report.processes.length).toBe(host.report.expected)
      expect(host.report.guardian).not.toBeNull()
      const guardian = host.report.guardian!
      expect(journals(dir).length).toBe(1)

      const killedAt = Date.now()
      process.kill(host.report.host.pid, "SIGKILL")
      await waitFor("every task process dead", () => leftovers(host).length === 0, 5_000)
      await cgroupsGone()
      const took = Date.now() - killedAt
      expect(took).toBeLessThan(2_000)
      await waitFor("guardian exited", () => !running(guardian), 2_000)
      // The guardian cleaned up after a dead host: the journal is gone too.
      expect(journals(dir)).toEqual([])
      console.log(`SIGKILL: all ${host.report.processes.length} processes dead ${took} ms after the host`)
    })

    it("host calls process.exit() with tasks running: the guardian kills every tree", async () => {
      const dir = tempStateDirectory()
      const host = await startHost({ mode: "exit", stateDirectory: dir, ...modeConfig(containment) })
      const exit = await host.exited
      expect(exit.code).toBe(0)
      const took = await waitFor("every task process dead", () => leftovers(host).length === 0, 5_000)
      await cgroupsGone()
      expect(took).toBeLessThan(2_000)
    })

    for (const signal of ["SIGTERM", "SIGHUP", "SIGINT"] as const) {
      it(`${signal} to the host: graceful shutdown within 2 seconds, guardian and journal gone`, async () => {
        const dir = tempStateDirectory()
        const host = await startHost({ mode: "signals", stateDirectory: dir, ...modeConfig(containment) })
        const guardian = host.report.guardian!
        const killedAt = Date.now()
        process.kill(host.report.host.pid, signal)
        await waitFor("every task process dead", () => leftovers(host).length === 0, 5_000)
        await cgroupsGone()
        const took = Date.now() - killedAt
        expect(took).toBeLessThan(2_000)
        const exit = await host.exited
        // runMain exits with 130 after an interruption.
        expect(exit.code).toBe(130)
        expect(host.stderr()).toContain(`signal ${signal} 1`)
        await waitFor("guardian exited", () => !running(guardian), 2_000)
        expect(journals(dir)).toEqual([])
        console.log(`${signal}: all processes dead ${took} ms after the signal`)
      })
    }

    it("SIGHUP without runMain: HostSignals shuts down gracefully, then exits with 129", async () => {
      const dir = tempStateDirectory()
      const host = await startHost({ mode: "signals-plain", stateDirectory: dir, ...modeConfig(containment) })
      const guardian = host.report.guardian!
      const killedAt = Date.now()
      process.kill(host.report.host.pid, "SIGHUP")
      await waitFor("every task process dead", () => leftovers(host).length === 0, 5_000)
      await cgroupsGone()
      expect(Date.now() - killedAt).toBeLessThan(2_000)
      const exit = await host.exited
      expect(exit).toEqual({ code: 129, signal: null })
      await waitFor("guardian exited", () => !running(guardian), 2_000)
      // The layer never closed (the process exited from the handler): the guardian removed the empty journal.
      await waitFor("journal removed", () => journals(dir).length === 0, 2_000)
    })

    it("a second signal forces the shutdown (grace 30 s, SIGTERM-ignoring children)", async () => {
      const dir = tempStateDirectory()
      const host = await startHost({
        mode: "signals",
        stateDirectory: dir,
        ...modeConfig(containment),
        grace: "30 seconds"
      })
      const killedAt = Date.now()
      process.kill(host.report.host.pid, "SIGTERM")
      await sleep(300)
      // The graceful path is waiting on the children that ignore SIGTERM.
      expect(leftovers(host).length).toBeGreaterThan(0)
      process.kill(host.report.host.pid, "SIGTERM")
      await waitFor("every task process dead", () => leftovers(host).length === 0, 5_000)
      await cgroupsGone()
      const took = Date.now() - killedAt
      expect(took).toBeLessThan(2_000)
      const exit = await host.exited
      expect(exit.code).not.toBe(0)
      expect(host.stderr()).toContain("signal SIGTERM 2")
    })

    it("host and guardian SIGKILLed: the next manager reaps the leftovers, never a recycled pid", async () => {
      const dir = tempStateDirectory()
      const host = await startHost({ mode: "wait", stateDirectory: dir, ...modeConfig(containment) })
      const guardian = host.report.guardian!
      expect(readCmdline(guardian)).toContain("guardian-main")
      process.kill(guardian, "SIGKILL")
      process.kill(host.report.host.pid, "SIGKILL")
      await host.exited
      await sleep(300)
      // Nobody cleaned up: every process is still there.
      expect(leftovers(host).length).toBe(reported(host))
      if (containment === "cgroup") expect(host.report.members.length).toBe(host.report.expected + 1)
      expect(journals(dir).length).toBe(1)

      // A journal of another dead instance naming a pid that now belongs to an unrelated live process.
      const unrelated = spawn("sleep", ["1000"], { stdio: "ignore", detached: true })
      try {
        const unrelatedStat = stat(unrelated.pid!)!
        // Its host: this test process's pid with a wrong start time, i.e. a dead host whose pid was reused.
        const forged = join(dir, `${process.pid}-1-forged.journal`)
        writeFileSync(
          forged,
          `${
            JSON.stringify({
              type: "header",
              version: 1,
              host: { pid: process.pid, startTime: 1 },
              hostname: hostname(),
              bootId: undefined,
              platform: process.platform,
              createdAt: Date.now()
            })
          }\n{"type":"started","pid":${unrelated.pid},"startTime":${
            unrelatedStat.startTime - 7
          },"cookie":"forged-instance/1/1/"}\n`
        )

        const reapStart = Date.now()
        await Effect.runPromise(
          Effect.scoped(
            Layer.build(NodeTaskManager.layerWith({ journal: true, stateDirectory: dir, ...modeConfig(containment) }))
          )
        )
        const took = Date.now() - reapStart
        // Starting the manager reaped: nothing of the dead host survives ...
        await waitFor("every task process dead", () => leftovers(host).length === 0, 1_000)
        await cgroupsGone()
        // ... the unrelated process with the recycled pid was not touched ...
        expect(aliveAs(unrelated.pid!, unrelatedStat.startTime)).toBe(true)
        // ... and every journal is gone (the new manager closed with nothing live).
        expect(journals(dir)).toEqual([])
        console.log(`reap at manager start took ${took} ms`)
      } finally {
        unrelated.kill("SIGKILL")
      }
    })

    it("host exits normally: the guardian exits too and leaves nothing behind", async () => {
      const dir = tempStateDirectory()
      const host = await startHost({ mode: "normal", stateDirectory: dir, ...modeConfig(containment) })
      const guardian = host.report.guardian!
      const guardianStat = stat(guardian)!
      expect(readCmdline(guardian)).toContain("guardian-main")
      // Its own session, and no task cookie.
      expect(guardianStat.sid).toBe(guardian)
      const exit = await host.exited
      expect(exit.code).toBe(0)
      expect(host.stdout()).toContain("closed")
      // The manager killed its tasks itself; the guardian found nothing to kill and is gone with the host.
      expect(leftovers(host)).toEqual([])
      await cgroupsGone()
      await waitFor("guardian exited", () => !aliveAs(guardian, guardianStat.startTime), 1_000)
      expect(journals(dir)).toEqual([])
    })
  })
}
