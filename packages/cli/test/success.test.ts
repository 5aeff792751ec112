import { describe, expect, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Success from "../src/success.js"

const condition = (text: string): Success.Condition => Option.getOrThrow(Success.parse(text))

/** Commands in the order they ended: [index, name, code, failed on its own]. */
const ended = (...rows: ReadonlyArray<readonly [number, string, number, boolean]>): Array<Success.Outcome> =>
  rows.map(([index, name, code, failed]) => ({ index, name, code, failed }))

describe("--success", () => {
  it("parses the conditions concurrently knows and refuses anything else", () => {
    expect(condition("all")).toEqual({ _tag: "All" })
    expect(condition("first")).toEqual({ _tag: "First" })
    expect(condition("last")).toEqual({ _tag: "Last" })
    expect(condition("command-test")).toEqual({ _tag: "Command", target: "test", negated: false })
    expect(condition("!command-0")).toEqual({ _tag: "Command", target: "0", negated: true })
    for (const bad of ["", "most", "command-", "!first", "cmd-test"]) {
      expect(Option.isNone(Success.parse(bad)), bad).toBe(true)
    }
    expect(Success.check(condition("command-tset"), ["server", "test"])).toContain(
      `no command is named or numbered "tset"`
    )
    expect(Success.check(condition("command-1"), ["server", "test"])).toBeUndefined()
    expect(Success.check(condition("first"), [])).toBeUndefined()
  })

  it("server plus tests with --kill-others: the test's result, whichever way it is named", () => {
    // The tests pass and end first; the server is stopped by kill-others with SIGTERM (143).
    const run = ended([1, "test", 0, false], [0, "server", 143, false])
    expect(Success.exitCode(condition("first"), run, undefined)).toBe(0)
    expect(Success.exitCode(condition("command-test"), run, undefined)).toBe(0)
    expect(Success.exitCode(condition("command-1"), run, undefined)).toBe(0)
    expect(Success.exitCode(condition("!command-server"), run, undefined)).toBe(0)
    // As in concurrently, `all` and `last` count the stopped server as not exiting with 0.
    expect(Success.exitCode(condition("all"), run, undefined)).toBe(143)
    expect(Success.exitCode(condition("last"), run, undefined)).toBe(143)
    const failing = ended([1, "test", 2, true], [0, "server", 143, false])
    expect(Success.exitCode(condition("command-test"), failing, undefined)).toBe(2)
    expect(Success.exitCode(condition("all"), failing, undefined)).toBe(2)
  })

  it("a failure of its own beats a signal, which beats a command stopped by the run", () => {
    const run = ended([0, "a", 0, false], [2, "c", 143, false], [1, "b", 5, true])
    expect(Success.exitCode(condition("all"), run, 130)).toBe(5)
    expect(Success.exitCode(condition("first"), run, 130)).toBe(130)
    expect(Success.exitCode(condition("command-c"), run, undefined)).toBe(143)
    expect(Success.exitCode(condition("first"), run, undefined)).toBe(0)
  })

  it("a named command that never ran fails the run; nothing that ran fails it otherwise", () => {
    expect(Success.exitCode(condition("command-b"), ended([0, "a", 0, false]), undefined)).toBe(1)
    expect(Success.exitCode(condition("!command-b"), ended([1, "b", 9, true]), undefined)).toBe(0)
    expect(Success.exitCode(condition("all"), [], undefined)).toBe(0)
  })
})
