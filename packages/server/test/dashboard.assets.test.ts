/**
 * The dashboard is served from src/internal/dashboard.ts, generated from packages/server/dashboard/: the two
 * must not drift apart (edit the files in dashboard/, then `pnpm --filter @effect-tasks/server dashboard`).
 */
import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { files } from "../src/internal/dashboard.js"

const root = fileURLToPath(new URL("../", import.meta.url))

describe("the embedded dashboard", () => {
  it("is the same as the files in dashboard/", () => {
    expect(() => execFileSync(process.execPath, ["scripts/embed-dashboard.mjs", "--check"], { cwd: root })).not
      .toThrow()
    expect(files["/dashboard.js"]!.body).toBe(readFileSync(`${root}dashboard/dashboard.js`, "utf8"))
  })

  it("loads its script and styles from its own origin only (the CSP allows nothing else)", () => {
    const html = files["/"]!.body
    expect(html).toContain("<script src=\"/dashboard.js\" defer></script>")
    expect(html).toContain("<link rel=\"stylesheet\" href=\"/dashboard.css\">")
    expect(html).not.toMatch(/<script>[^<]/)
    expect(html).not.toMatch(/ on[a-z]+=/)
    expect(html).not.toMatch(/https?:\/\//)
  })
})
