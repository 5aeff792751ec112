/**
 * Helpers for tests with real runner processes: temporary databases, free ports, runner processes
 * (fixtures/runner.mjs over the built package), and an independent `/proc` reader that finds the processes a
 * test's commands started by an environment marker of the test's own (never by the library's cookie).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

export const runnerFixture = fileURLToPath(new URL("./fixtures/runner.mjs", import.meta.url))

/** A fresh directory, removed by `cleanup`. */
export const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), "effect-tasks-cluster-"))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A TCP port free right now on 127.0.0.1. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

export interface RunnerProcess {
  readonly child: ChildProcess
  readonly address: string
  readonly pid: number
  readonly output: () => string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

const children: Array<ChildProcess> = []
const cleanups: Array<() => void> = []

/** Starts a runner and resolves once it is up (rejects after 90 s). */
export const startRunner = async (config: Record<string, unknown>): Promise<RunnerProcess> => {
  const port = (config.port as number | undefined) ?? await freePort()
  const full = { host: "127.0.0.1", ...config, port }
  const child = spawn(process.execPath, [runnerFixture, JSON.stringify(full)], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, HOST: "", PORT: "" }
  })
  children.push(child)
  let out = ""
  child.stdout!.on("data", (chunk) => out += chunk)
  child.stderr!.on("data", (chunk) => out += chunk)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal }))
  )
  const address = `${full.host}:${port}`
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`runner did not start:\n${out}`)), 90_000)
    const check = () => {
      if (out.includes(`ready ${address}`)) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout!.on("data", check)
    child.once("exit", () => {
      clearTimeout(timer)
      reject(new Error(`runner exited before it was up:\n${out}`))
    })
  })
  return { child, address, pid: child.pid!, output: () => out, exited }
}

/** SIGKILLs every runner still running and removes temporary directories. */
export const cleanup = () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  }
  for (const f of cleanups.splice(0)) f()
}

/** `/proc/<pid>/stat`'s state and start time, read without the library. */
export const stat = (pid: number): { readonly state: string; readonly startTime: number } | undefined => {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "latin1")
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ")
    return { state: fields[0]!, startTime: Number(fields[19]) }
  } catch {
    return undefined
  }
}

/** Live (not zombie) processes whose environment has `NAME=value` with value starting with `prefix`. */
export const marked = (name: string, prefix: string): Array<{ pid: number; startTime: number; value: string }> => {
  const found: Array<{ pid: number; startTime: number; value: string }> = []
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    const pid = Number(entry)
    let environ: Array<string>
    try {
      environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")
    } catch {
      continue
    }
    const hit = environ.find((kv) => kv.startsWith(`${name}=${prefix}`))
    if (hit === undefined) continue
    const s = stat(pid)
    if (s === undefined || s.state === "Z" || s.state === "X") continue
    found.push({ pid, startTime: s.startTime, value: hit.slice(name.length + 1) })
  }
  return found
}

/** Whether a process found earlier is still alive (same start time, not a zombie). */
export const stillAlive = (p: { pid: number; startTime: number }): boolean => {
  const s = stat(p.pid)
  return s !== undefined && s.startTime === p.startTime && s.state !== "Z" && s.state !== "X"
}

/** Polls `check` every 50 ms until it returns a value, or fails after `timeoutMs`. */
export const eventually = async <A>(
  check: () => Promise<A | undefined> | A | undefined,
  timeoutMs: number,
  what: string
) => {
  const deadline = Date.now() + timeoutMs
  while (true) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
