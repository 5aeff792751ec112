import * as NodeServices from "@effect/platform-node/NodeServices"
import { describe, expect, it } from "@effect/vitest"
import { CliError, CliOutput, Command } from "effect/cli"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { readFileSync } from "node:fs"
import * as Cli from "../src/cli.js"
import * as Run from "../src/commands/run.js"
import { version } from "../src/version.js"

/** Parses `tasks run <args>` with the real flag definitions, capturing the config instead of running. */
const parseRun = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    let parsed: Run.RunConfig | undefined
    const capture = Command.make("run", Run.config, (config) => Effect.sync(() => void (parsed = config)))
    const exit = yield* Effect.exit(Command.runWith(capture, { version })(args))
    return { exit, parsed }
  }).pipe(
    Effect.provideService(CliOutput.Presenter, { present: () => Effect.void }),
    Effect.provide(NodeServices.layer)
  )

describe("command line parsing", () => {
  it.effect("run: flags, names and the commands after --", () =>
    Effect.gen(function*() {
      const { exit, parsed } = yield* parseRun([
        "--grace",
        "1m30s",
        "--kill-others-on-fail",
        "--kill-others",
        "--success",
        "command-api",
        "--names",
        "web, api",
        "--max",
        "2",
        "--",
        "npm start",
        "sleep 5 --flag-of-the-command"
      ])
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(Duration.toMillis(parsed!.grace)).toBe(90_000)
      expect(parsed!.killOthersOnFail).toBe(true)
      expect(parsed!.killOthers).toBe(true)
      expect(parsed!.success).toEqual({ _tag: "Command", target: "api", negated: false })
      expect(parsed!.names).toEqual(["web", "api"])
      expect(parsed!.max).toEqual(Option.some(2))
      expect(parsed!.json).toBe(false)
      expect(parsed!.commands).toEqual(["npm start", "sleep 5 --flag-of-the-command"])
    }))

  it.effect("run: defaults", () =>
    Effect.gen(function*() {
      const { parsed } = yield* parseRun(["echo a"])
      expect(Duration.toMillis(parsed!.grace)).toBe(5000)
      expect(parsed!.killOthersOnFail).toBe(false)
      expect(parsed!.killOthers).toBe(false)
      expect(parsed!.success).toEqual({ _tag: "All" })
      expect(parsed!.names).toEqual([])
      expect(parsed!.max).toEqual(Option.none())
      expect(parsed!.commands).toEqual(["echo a"])
    }))

  it.effect("run: a bad duration or --max fails to parse", () =>
    Effect.gen(function*() {
      for (const args of [["--grace", "soon", "x"], ["--max", "0", "x"], ["--success", "command-", "x"], []]) {
        const { exit, parsed } = yield* parseRun(args)
        expect(Exit.isFailure(exit), args.join(" ")).toBe(true)
        expect(parsed).toBeUndefined()
      }
    }))

  it("formats parse errors as one line pointing at --help", () => {
    const line = Cli.errorLine(["tasks", "run"], [
      new CliError.UnrecognizedOption({ option: "--nope", suggestions: [], command: ["tasks", "run"] })
    ])
    expect(line).not.toContain("\n")
    expect(line).toMatch(/^tasks run: .*--nope.* \(see 'tasks run --help'\)$/)
  })

  it("the version is package.json's", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
    expect(version).toBe(pkg.version)
  })
})

describe("run helpers", () => {
  it("names commands by --names, else by index", () => {
    expect(Run.parseNames("a, b,,c")).toEqual(["a", "b", "", "c"])
    expect([0, 1, 2, 3, 4].map((i) => Run.nameOf(["a", "b", "", "c"], i))).toEqual(["a", "b", "2", "c", "4"])
  })
})
