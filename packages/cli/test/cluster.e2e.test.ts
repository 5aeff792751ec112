/**
 * `tasks cluster` end to end, with the built binary: a runner process, then submit, ls, revoke from other
 * processes, a bad URL, SIGTERM draining the runner, and the demo.
 */
import { execFile, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bin, ensureBuilt, node } from "./helpers/binary.js"

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

const tasks = (
  args: ReadonlyArray<string>,
  timeout = 120_000
): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) =>
    execFile(
      node,
      [bin, ...args],
      { timeout },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr })
    )
  )

describe("tasks cluster", () => {
  const dir = mkdtempSync(join(tmpdir(), "tasks-cluster-e2e-"))
  const db = `sqlite:${join(dir, "cluster.db")}`
  let runner: ReturnType<typeof spawn>
  let address = ""
  let runnerOutput = ""

  beforeAll(async () => {
    ensureBuilt()
    const port = await freePort()
    address = `127.0.0.1:${port}`
    runner = spawn(node, [bin, "cluster", "runner", "--db", db, "--port", String(port), "--host", "127.0.0.1"], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`runner did not start:\n${runnerOutput}`)), 120_000)
      const onData = (chunk: Buffer) => {
        runnerOutput += chunk
        if (runnerOutput.includes(`runner ${address} is up`)) {
          clearTimeout(timer)
          resolve()
        }
      }
      runner.stdout!.on("data", onData)
      runner.stderr!.on("data", onData)
    })
  }, 180_000)

  afterAll(() => {
    if (runner.exitCode === null) runner.kill("SIGKILL")
    rmSync(dir, { recursive: true, force: true })
  })

  it("submit prints the new id; ls shows id, name, state, attempt, runner and error; revoke stops a task", async () => {
    const ok = await tasks(["cluster", "submit", "--db", db, "--name", "hello", "--", "echo hi"])
    expect(ok.code).toBe(0)
    expect(ok.stdout).toMatch(/^\d+\n$/)
    const id = Number(ok.stdout)
    const slow = await tasks(["cluster", "submit", "--db", db, "--name", "slow", "--retry", "2", "--", "sleep 60"])
    const slowId = Number(slow.stdout)
    // A duplicate submit with the same key prints the existing id.
    const first = await tasks(["cluster", "submit", "--db", db, "--key", "deploy-1", "--", "true"])
    const again = await tasks(["cluster", "submit", "--db", db, "--key", "deploy-1", "--", "true"])
    expect(again.stdout).toBe(first.stdout)

    let listed: Array<Record<string, unknown>> = []
    for (let i = 0; i < 200; i++) {
      listed = JSON.parse((await tasks(["cluster", "ls", "--db", db, "--json"])).stdout)
      const hello = listed.find((t) => t.id === id)
      const running = listed.find((t) => t.id === slowId)
      if (hello?.state === "SUCCESS" && running?.state === "RUNNING") break
      await new Promise((r) => setTimeout(r, 500))
    }
    for (const record of listed) {
      for (const field of ["id", "name", "state", "attempt", "runner", "error"]) expect(record).toHaveProperty(field)
    }
    expect(listed.find((t) => t.id === id)).toMatchObject({
      name: "hello",
      state: "SUCCESS",
      attempt: 1,
      runner: address
    })
    expect(listed.find((t) => t.id === slowId)).toMatchObject({ name: "slow", state: "RUNNING", maxAttempts: 3 })

    const table = await tasks(["cluster", "ls", "--db", db])
    expect(table.stdout.split("\n")[0]).toMatch(/^\s*ID\s+NAME\s+STATE\s+ATTEMPT\s+RUNNER\s+ERROR$/)

    const revoked = await tasks(["cluster", "revoke", "--db", db, String(slowId)])
    expect(revoked.code).toBe(0)
    expect(revoked.stdout).toBe(`${slowId} REVOKED on ${address}\n`)
  }, 600_000)

  it("bad input gets one clear line and exit code 1", async () => {
    const url = await tasks(["cluster", "ls", "--db", "mysql://nowhere"])
    expect(url.code).toBe(1)
    expect(url.stderr).toContain("invalid database URL")
    const missing = await tasks(["cluster", "revoke", "--db", db, "999999"])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain("no task with id 999999")
  }, 120_000)

  it("SIGTERM drains the runner and it exits by itself", async () => {
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      runner.once("exit", (code, signal) => resolve({ code, signal }))
    )
    runner.kill("SIGTERM")
    const exit = await exited
    expect(exit.signal).toBeNull()
    expect(runnerOutput).toContain(`runner ${address} drains`)
  }, 120_000)
})

describe("tasks cluster demo", () => {
  it("settles the killed runner's tasks and leaves nothing running", async () => {
    ensureBuilt()
    const demo = await tasks(["cluster", "demo"], 280_000)
    expect(demo.stdout).toContain("SIGKILL runner")
    expect(demo.stdout).toMatch(/RunnerLost/)
    expect(demo.stdout).toContain("0 of the demo's processes still alive")
    expect(demo.code).toBe(0)
  }, 300_000)
})
