/**
 * The command line itself, on the built binary: help, version, and one-line errors with a non-zero
 * exit for unknown commands, unknown flags, bad values and missing arguments.
 */
import { beforeAll, describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { readdirSync, readFileSync, statSync, utimesSync } from "node:fs"
import { dirname } from "node:path"
import { bin, ensureBuilt, env, eventually, makeMark, node, root, run, start } from "./helpers/binary.js"

beforeAll(ensureBuilt, 120_000)

const mark = makeMark()

const manifest = (path: string) =>
  JSON.parse(readFileSync(path, "utf8")) as {
    engines?: { node?: string }
    dependencies?: Record<string, string>
  }

/** `>=22.19.0` as [22, 19, 0]. */
const version = (range: string) => range.replace(/^>=/, "").split(".").map(Number)

const atLeast = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0)
  }
  return true
}
const tasks = (...args: ReadonlyArray<string>) => run(args, env(mark))

const oneLineError = async (args: ReadonlyArray<string>, ...expected: ReadonlyArray<string>) => {
  const result = await tasks(...args)
  expect(result.code).toBe(1)
  expect(result.stdout).toBe("")
  const lines = result.stderr.trimEnd().split("\n")
  expect(lines).toHaveLength(1)
  for (const text of expected) expect(lines[0]).toContain(text)
  return lines[0]!
}

describe.concurrent("tasks (command line)", () => {
  it("--help lists the four commands and exits 0", async () => {
    const result = await tasks("--help")
    expect(result.code).toBe(0)
    for (const name of ["demo", "shell", "run", "reap"]) {
      expect(result.stdout).toMatch(new RegExp(`^\\s+${name}\\s`, "m"))
    }
    expect(result.stdout).toContain("--version")
    expect(result.stdout).not.toContain("--wizard")
    expect(result.stderr).toBe("")
  })

  it("run --help documents every flag", async () => {
    const result = await tasks("run", "--help")
    expect(result.code).toBe(0)
    for (
      const flag of ["--grace", "--kill-others", "--kill-others-on-fail", "--success", "--names", "--max", "--json"]
    ) {
      expect(result.stdout).toContain(flag)
    }
  })

  it("--version prints the package version", async () => {
    const { version } = JSON.parse(readFileSync(`${root}packages/cli/package.json`, "utf8")) as { version: string }
    const result = await tasks("--version")
    expect(result.code).toBe(0)
    expect(result.stdout.trim()).toBe(`tasks ${version}`)
  })

  it("an unknown command is one line on stderr and exit 1", async () => {
    const line = await oneLineError(["bogus"], "Unknown subcommand", "bogus")
    expect(line).toContain("tasks --help")
  })

  it("an unknown flag is one line on stderr and exit 1", async () => {
    await oneLineError(["demo", "--nope"], "--nope")
  })

  it("a bad duration is one line naming the flag and the value", async () => {
    await oneLineError(["run", "--grace", "5x", "--", "true"], "--grace", "5x", "500ms")
    await oneLineError(["shell", "--grace", "5"], "--grace", "duration")
  })

  it("a bad --success is one line listing the accepted values", async () => {
    await oneLineError(["run", "--success", "most", "--", "true"], "--success", "most", "first, last, all")
  })

  it("a bad --max and a missing command are one line each", async () => {
    await oneLineError(["run", "--max", "0", "true"], "--max")
    await oneLineError(["run", "--max", "two", "true"], "--max")
    await oneLineError(["run"], "command")
  })

  it("the packages declare the node they need: at least what @effect/platform-node asks for, when they use it", () => {
    const platform = manifest(`${root}packages/node/node_modules/@effect/platform-node/package.json`)
    const needed = platform.engines?.node
    expect(needed).toMatch(/^>=\d+\.\d+/)
    for (const pkg of ["core", "node", "cli", "bench"]) {
      const own = manifest(`${root}packages/${pkg}/package.json`)
      expect(own.engines?.node, pkg).toMatch(/^>=\d+/)
      if (own.dependencies?.["@effect/platform-node"] !== undefined) {
        expect(atLeast(version(own.engines!.node!), version(needed!)), `${pkg}: ${own.engines!.node} vs ${needed}`)
          .toBe(true)
      }
    }
  })
})

/** The guardian script `tasks run` started, read from its command line. */
const guardianOf = async () => {
  const running = start(["run", "--", "sleep 30"], env(mark))
  let script: string | undefined
  try {
    const found = await eventually(() => {
      for (const entry of readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue
        try {
          const stat = readFileSync(`/proc/${entry}/stat`, "latin1")
          if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) !== running.pid) continue
          script = readFileSync(`/proc/${entry}/cmdline`, "latin1").split("\0").find((arg) =>
            arg.endsWith("guardian-main.js")
          )
          if (script !== undefined) return true
        } catch {
          // gone meanwhile
        }
      }
      return false
    })
    expect(found, "a guardian child").toBe(true)
  } finally {
    running.kill("SIGTERM")
    await running.done
  }
  return script!
}

// Not concurrent with the tests above: `pnpm tasks` runs tsc first, which would slow every one of them down.
describe("tasks from a clone", () => {
  it("dist/bin.js is executable and runs by its #! line; pnpm tasks runs the CLI from the repository", async () => {
    expect(statSync(bin).mode & 0o111).toBe(0o111)
    // The #! line finds `node` on PATH: put the node running these tests first, as pnpm does.
    const path = `${dirname(node)}:${process.env.PATH ?? ""}`
    const direct = await new Promise<string>((resolve, reject) =>
      execFile(
        bin,
        ["--version"],
        { env: { ...env(mark), PATH: path } },
        (error, stdout) => error === null ? resolve(stdout) : reject(error)
      )
    )
    expect(direct.trim()).toMatch(/^tasks \d+\.\d+\.\d+$/)
    const viaPnpm = await new Promise<string>((resolve, reject) =>
      execFile(
        "pnpm",
        ["-s", "tasks", "run", "--", "echo from-pnpm"],
        { cwd: root, env: env(mark) },
        (error, stdout) => error === null ? resolve(stdout) : reject(error)
      )
    )
    expect(viaPnpm).toContain("[0] from-pnpm")
  }, 120_000)

  it("runs bundled, its guardian too; after a tsc -b newer than the bundle it runs the modules tsc wrote", async () => {
    expect(await guardianOf()).toBe(`${root}packages/cli/dist/bundle/internal/guardian-main.js`)
    const info = `${root}packages/core/.tsbuild/build.tsbuildinfo`
    const { atime, mtime } = statSync(info)
    const bundled = statSync(`${root}packages/cli/dist/bundle/main.js`).mtimeMs
    utimesSync(info, atime, new Date(bundled + 60_000))
    try {
      expect(await guardianOf()).toBe(`${root}packages/node/dist/internal/guardian-main.js`)
    } finally {
      utimesSync(info, atime, mtime)
    }
  }, 60_000)
})
