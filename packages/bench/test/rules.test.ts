/**
 * `diagnose rules` patches the built core; these tests fail as soon as a change to the core leaves a patch behind,
 * so the tool never quietly measures nothing. They read the build `pnpm test` makes first.
 */
import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { atMost } from "../src/benchmark.js"
import { applyRule, RULES } from "../src/rules.js"

const built = readFileSync(new URL("../../core/dist/TaskManager.js", import.meta.url), "utf8")

describe("diagnose rules", () => {
  for (const rule of RULES) {
    it(`takes out ${rule.rule} from the current build`, () => {
      const patched = applyRule(built, rule)
      expect(patched).not.toBe(built)
      for (const [from] of rule.patches) expect(patched.includes(from)).toBe(false)
    })
  }

  it("fails loudly on a build the patches no longer match", () => {
    expect(() => applyRule("const now = () => Date.now();", RULES.find((rule) => rule.name === "clock")!)).toThrow(
      /no longer applies/
    )
  })
})

describe("a verdict", () => {
  it("a miss that rounds to its bound shows the unrounded ratio; a plain miss or a met bound does not", () => {
    expect(atMost("t", 1.0512, 1.05, "1.05x")).toEqual({
      target: "t",
      result: "1.05x, 1.0512 unrounded",
      verdict: "missed"
    })
    expect(atMost("t", 1.2, 1.05, "1.20x")).toEqual({ target: "t", result: "1.20x", verdict: "missed" })
    expect(atMost("t", 1.049, 1.05, "1.05x")).toEqual({ target: "t", result: "1.05x", verdict: "met" })
  })
})
