/**
 * `tasks reap` on the built binary: a `tasks run` whose process and guardian are both SIGKILLed leaves
 * its commands running; `reap --dry-run` reports them without touching them, `reap` kills them all
 * (a setsid'd one included) from the journal in the state directory. Where `tasks run` contained its commands
 * in cgroups (containment "auto" as root, or in a delegated cgroup), reap also removes the dead manager's cgroup.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ensureBuilt, env, eventually, killLeftovers, leftovers, makeMark, run, start } from "./helpers/binary.js"

beforeAll(ensureBuilt, 120_000)

const mark = makeMark()
const stateHome = mkdtempSync(join(tmpdir(), "tasks-reap-"))
const stateDir = join(stateHome, "effect-tasks")
afterAll(() => {
  killLeftovers(mark)
  rmSync(stateHome, { recursive: true, force: true })
})

describe("tasks reap", () => {
  it("kills what a SIGKILLed tasks run and its guardian left, after a dry run that touches nothing", async () => {
    const environment = env(mark, { XDG_STATE_HOME: stateHome })
    const host = start(["run", "--names", "plain,escapee", "--", "sleep 1000", "setsid sleep 1000 & wait"], environment)
    const commands = () => leftovers(mark).filter((line) => /^\d+ sleep 1000$/.test(line))
    const guardians = () => leftovers(mark).filter((line) => line.includes("guardian-main"))
    expect(await eventually(() => commands().length === 2 && guardians().length === 1, 10_000)).toBe(true)

    // The manager cgroup the commands run in, if `tasks run` chose cgroup containment (read before any kill).
    const cgroupLine = readFileSync(`/proc/${commands()[0]!.split(" ")[0]}/cgroup`, "latin1")
      .split("\n").find((line) => line.startsWith("0::"))
    const manager = /\/(effect-tasks-\d+-\d+-[0-9a-z]+(?:-journal)?)\//.exec(cgroupLine ?? "")?.[1]

    // The host dies without cleaning up, and so does its guardian: nothing is left to stop the commands.
    for (const line of guardians()) process.kill(Number(line.split(" ")[0]), "SIGKILL")
    host.kill("SIGKILL")
    await host.done
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(commands()).toHaveLength(2)

    const dry = await run(["reap", "--dry-run", "--state-dir", stateDir], environment)
    expect(dry.code).toBe(0)
    expect(Number(/would kill (\d+) leftover/.exec(dry.stdout)?.[1]), dry.stdout).toBeGreaterThanOrEqual(2)
    expect(commands()).toHaveLength(2)

    const reaped = await run(["reap", "--state-dir", stateDir], environment)
    expect(reaped.code).toBe(0)
    expect(Number(/killed (\d+) leftover/.exec(reaped.stdout)?.[1]), reaped.stdout).toBeGreaterThanOrEqual(2)
    expect(commands()).toEqual([])
    if (manager !== undefined) {
      const removed = reaped.stdout.split("\n").find((line) =>
        line.includes(`removed cgroup `) && line.includes(manager)
      )
      expect(removed).toBeDefined()
      expect(existsSync(removed!.trim().replace(/^removed cgroup /, "").split(" ")[0]!)).toBe(false)
    }

    const again = await run(["reap", "--state-dir", stateDir, "--json"], environment)
    expect(again.code).toBe(0)
    expect(JSON.parse(again.stdout).journals).toEqual([])
  }, 60_000)
})
