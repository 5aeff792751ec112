/**
 * A load generator: one busy-looping child process that keeps another core busy while a benchmark runs, so
 * tail latencies can be read on a machine that is doing something else too (as a CI box or a laptop is).
 *
 * The child is pinned with `taskset` to the last CPU this process may use, and this process to the others, so
 * the load takes one whole core and the benchmark gets the rest. Where `taskset` is missing or only one CPU
 * is allowed, the child runs unpinned and the description says so.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { readFileSync } from "node:fs"

/** A running load generator. */
export interface Load {
  /** One line for a benchmark's notes: what the load was. */
  readonly description: string
  /** Stops the busy child and gives this process its CPUs back. */
  readonly stop: () => Promise<void>
}

/** Expands a kernel CPU list such as `0-3,6` into CPU numbers. */
export const parseCpuList = (list: string): Array<number> => {
  const cpus: Array<number> = []
  for (const part of list.trim().split(",")) {
    if (part === "") continue
    const [from, to] = part.split("-").map(Number)
    if (!Number.isInteger(from)) continue
    for (let cpu = from!; cpu <= (to ?? from!); cpu++) cpus.push(cpu)
  }
  return cpus
}

const allowedCpus = (): Array<number> => {
  try {
    const status = readFileSync("/proc/self/status", "utf8")
    const line = status.split("\n").find((l) => l.startsWith("Cpus_allowed_list:"))
    return line === undefined ? [] : parseCpuList(line.slice(line.indexOf(":") + 1))
  } catch {
    return []
  }
}

const taskset = (args: ReadonlyArray<string>): boolean => {
  try {
    execFileSync("taskset", args, { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

/**
 * The child's program: spin, and every few hundred million iterations check that the benchmark that started
 * it is still its parent, so a benchmark killed mid-run leaves no core spinning for ever.
 */
export const BUSY_LOOP =
  "const parent = process.ppid; for (let i = 1; ; i++) if (i % 3e8 === 0 && process.ppid !== parent) process.exit(0)"

/** Starts the load: one busy child on the last allowed CPU (this process keeps the others). */
export const startLoad = async (): Promise<Load> => {
  const cpus = allowedCpus()
  const child: ChildProcess = spawn(process.execPath, ["-e", BUSY_LOOP], { stdio: "ignore" })
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", () => resolve())
    child.once("error", reject)
  })
  let description = "one busy-looping node process, unpinned (no taskset, or a single CPU)"
  let restore: (() => void) | undefined
  if (cpus.length >= 2 && child.pid !== undefined) {
    const loadCpu = cpus[cpus.length - 1]!
    const rest = cpus.slice(0, -1).join(",")
    if (
      taskset(["-p", "-c", String(loadCpu), String(child.pid)]) &&
      taskset(["-a", "-p", "-c", rest, String(process.pid)])
    ) {
      description = `one busy-looping node process pinned to CPU ${loadCpu}, the benchmark to CPU ${rest}`
      restore = () => {
        taskset(["-a", "-p", "-c", cpus.join(","), String(process.pid)])
      }
    }
  }
  return {
    description,
    stop: async () => {
      restore?.()
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
      child.kill("SIGKILL")
      await exited
    }
  }
}

/** Runs `f` while the load runs, and stops the load however `f` ends. */
export const withLoad = async <A>(f: (load: Load) => Promise<A>): Promise<A> => {
  const load = await startLoad()
  try {
    return await f(load)
  } finally {
    await load.stop()
  }
}
