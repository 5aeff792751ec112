/**
 * Running the built `tasks` binary in end-to-end tests, and checking `/proc` for anything it left.
 */
import { execFileSync, spawn, type SpawnOptions } from "node:child_process"
import { randomUUID } from "node:crypto"
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync } from "node:fs"
import { fileURLToPath } from "node:url"

/** The repository root. */
export const root = fileURLToPath(new URL("../../../../", import.meta.url))

/** The built entry point. */
export const bin = `${root}packages/cli/dist/bin.js`

/** The node that runs it: the one running the tests (node 24 from node_modules). */
export const node = process.execPath

const sleepSync = (millis: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, millis)

/**
 * Builds `packages/cli` (and the packages it references) once per test run: `tsc -b` is a no-op
 * when dist is fresh; a lock directory keeps test files running in parallel from building at once.
 */
export const ensureBuilt = (): void => {
  const lock = `${root}packages/cli/.tsbuild/e2e-build.lock`
  mkdirSync(`${root}packages/cli/.tsbuild`, { recursive: true })
  const deadline = Date.now() + 120_000
  while (true) {
    try {
      mkdirSync(lock)
      break
    } catch {
      // A lock older than two minutes was left by a killed run.
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now())
      if (age > 120_000) rmdirSync(lock)
      if (Date.now() > deadline) throw new Error(`could not take ${lock}`)
      sleepSync(100)
    }
  }
  try {
    execFileSync(`${root}node_modules/.bin/tsc`, ["-b", "packages/cli/tsconfig.build.json"], {
      cwd: root,
      stdio: "inherit"
    })
    // The step of `pnpm build` that makes dist/bin.js executable.
    execFileSync(node, [`${root}scripts/executable.mjs`], { cwd: root, stdio: "inherit" })
  } finally {
    rmdirSync(lock)
  }
  if (!existsSync(bin)) throw new Error(`${bin} was not built`)
}

/** A unique marker: put in the binary's environment, every process it starts inherits it. */
export const makeMark = (): string => `tasks-e2e-${randomUUID()}`

/** The environment of a test run: no colours, no CI-specific terminal, plus the marker. */
export const env = (mark: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv => {
  const base: NodeJS.ProcessEnv = { ...process.env, TASKS_E2E_MARK: mark, FORCE_COLOR: undefined, NO_COLOR: undefined }
  for (const [key, value] of Object.entries(extra)) base[key] = value
  for (const key of Object.keys(base)) if (base[key] === undefined) delete base[key]
  return base
}

/** What a finished run of the binary produced. */
export interface Result {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly millis: number
}

/** A running binary: its process, its output so far, and its end. */
export interface Running {
  readonly pid: number
  readonly output: () => { readonly stdout: string; readonly stderr: string }
  /** Resolves once stdout (or stderr) contains `text`; rejects after `timeout` ms or if the process ends first. */
  readonly waitFor: (text: string, timeout?: number) => Promise<void>
  readonly kill: (signal: NodeJS.Signals) => void
  readonly done: Promise<Result>
  /** Its standard input, when started with `stdio: ["pipe", ...]`. */
  readonly stdin: NodeJS.WritableStream | null
}

/** Starts `tasks <args>` with the given environment. */
export const start = (args: ReadonlyArray<string>, environment: NodeJS.ProcessEnv, options: SpawnOptions = {}) => {
  const started = Date.now()
  const child = spawn(node, [bin, ...args], { env: environment, stdio: ["ignore", "pipe", "pipe"], ...options })
  let stdout = ""
  let stderr = ""
  let ended = false
  const waiters = new Set<() => void>()
  const notify = () => waiters.forEach((check) => check())
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk
    notify()
  })
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk
    notify()
  })
  const done = new Promise<Result>((resolve) => {
    child.on("close", (code, signal) => {
      ended = true
      notify()
      resolve({ code, signal, stdout, stderr, millis: Date.now() - started })
    })
  })
  const running: Running = {
    pid: child.pid!,
    output: () => ({ stdout, stderr }),
    waitFor: (text, timeout = 10_000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`timed out waiting for ${JSON.stringify(text)}; stdout:\n${stdout}\nstderr:\n${stderr}`))
        }, timeout)
        const check = () => {
          if (stdout.includes(text) || stderr.includes(text)) {
            clearTimeout(timer)
            waiters.delete(check)
            resolve()
          } else if (ended) {
            clearTimeout(timer)
            waiters.delete(check)
            reject(new Error(`ended before printing ${JSON.stringify(text)}; stdout:\n${stdout}\nstderr:\n${stderr}`))
          }
        }
        waiters.add(check)
        check()
      }),
    kill: (signal) => child.kill(signal),
    done,
    stdin: child.stdin
  }
  return running
}

/** Runs `tasks <args>` to completion (killing it after `timeout` ms). */
export const run = async (
  args: ReadonlyArray<string>,
  environment: NodeJS.ProcessEnv,
  timeout = 30_000
): Promise<Result> => {
  const running = start(args, environment)
  const timer = setTimeout(() => running.kill("SIGKILL"), timeout)
  try {
    return await running.done
  } finally {
    clearTimeout(timer)
  }
}

const isZombie = (pid: string): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1")
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
    return state === "Z" || state === "X"
  } catch {
    return true
  }
}

/**
 * Live processes (zombies count as dead) whose environment carries `TASKS_E2E_MARK=<mark>`, or an
 * `EFFECT_TASKS_COOKIE` of the `tasks` process `pid`: what a run left behind. Each is `pid command`.
 */
export const leftovers = (mark: string, pid?: number): Array<string> => {
  const found: Array<string> = []
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    let environ: string
    try {
      environ = readFileSync(`/proc/${entry}/environ`, "latin1")
    } catch {
      continue
    }
    const vars = environ.split("\0")
    const marked = vars.includes(`TASKS_E2E_MARK=${mark}`)
    const cookie = pid !== undefined && vars.some((v) => v.startsWith(`EFFECT_TASKS_COOKIE=${pid}-`))
    if ((marked || cookie) && !isZombie(entry)) {
      let command = "?"
      try {
        command = readFileSync(`/proc/${entry}/cmdline`, "latin1").replaceAll("\0", " ").trim()
      } catch {
        // gone meanwhile
      }
      found.push(`${entry} ${command}`)
    }
  }
  return found
}

/** Kills (SIGKILL) whatever a failed test left, so one failure does not leak into the next. */
export const killLeftovers = (mark: string): void => {
  for (const line of leftovers(mark)) {
    try {
      process.kill(Number(line.split(" ")[0]), "SIGKILL")
    } catch {
      // already gone
    }
  }
}

/** Polls `check` until it returns true, for at most `timeout` ms; returns its last answer. */
export const eventually = async (check: () => boolean, timeout = 5000, interval = 50): Promise<boolean> => {
  const deadline = Date.now() + timeout
  while (true) {
    if (check()) return true
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, interval))
  }
}

/** Strips ANSI escapes. */
// oxlint-disable-next-line no-control-regex
export const plain = (text: string): string => text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "")

/**
 * A source of fresh marks for one test file, and the cleanup that kills whatever any of them left:
 * `const { fresh, cleanup } = marksFor(); afterAll(cleanup)`.
 */
export const marksFor = () => {
  const marks: Array<string> = []
  const fresh = (): string => {
    const mark = makeMark()
    marks.push(mark)
    return mark
  }
  return { fresh, cleanup: () => marks.forEach(killLeftovers) }
}
