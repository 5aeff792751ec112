import { ProcessIdentity } from "@effect-tasks/node"
import { describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as Survivors from "../src/survivors.js"

const sleeper = (env: NodeJS.ProcessEnv) => {
  const child = spawn("sleep", ["30"], { env: { ...process.env, ...env }, stdio: "ignore" })
  return {
    pid: child.pid!,
    stop: () => new Promise<void>((resolve) => child.once("exit", () => resolve()).kill("SIGKILL"))
  }
}

describe("survivors", () => {
  it("finds a live process by its cookie, and no longer once it is dead", async () => {
    const since = ProcessIdentity.startTimeNow()
    const prefix = `${Survivors.cookiePrefix()}test${Math.random().toString(36).slice(2)}/`
    const child = sleeper({ EFFECT_TASKS_COOKIE: `${prefix}1/1/` })
    try {
      await new Promise((resolve) => setTimeout(resolve, 100))
      const found = Survivors.find({ pids: [], prefix, since })
      expect(found).toEqual([{ pid: child.pid, command: "sleep 30", via: "cookie" }])
    } finally {
      await child.stop()
    }
    expect(Survivors.find({ pids: [child.pid], prefix, since })).toEqual([])
  })

  it("counts a recorded pid without our cookie only if it started after the run began", async () => {
    const before = ProcessIdentity.startTimeNow()
    const child = sleeper({})
    try {
      await new Promise((resolve) => setTimeout(resolve, 100))
      const prefix = "no-such-prefix/"
      expect(Survivors.find({ pids: [child.pid], prefix, since: before })).toMatchObject([{
        pid: child.pid,
        via: "pid"
      }])
      expect(Survivors.find({ pids: [child.pid], prefix, since: ProcessIdentity.startTimeNow() + 1000 })).toEqual([])
      // A recorded pid that carries someone else's cookie was reused: not ours.
    } finally {
      await child.stop()
    }
  })

  it("ignores a recorded pid that carries another run's cookie", async () => {
    const child = sleeper({ EFFECT_TASKS_COOKIE: "1-other/1/1/" })
    try {
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(Survivors.find({ pids: [child.pid], prefix: "2-mine/", since: 0 })).toEqual([])
    } finally {
      await child.stop()
    }
  })
})
