import { describe, it } from "vitest"
import { chaosSuite } from "./chaos.js"
import { freshPgDatabase, pgUrl, requirePgUnderCi } from "./pg.js"

requirePgUnderCi()

if (pgUrl !== undefined) chaosSuite("Postgres", freshPgDatabase)
else {
  describe("cluster chaos on Postgres", () => {
    // Skipped: no server named by EFFECT_TASKS_PG_URL outside CI (.ci/run starts one and sets it).
    it.skip("needs EFFECT_TASKS_PG_URL", () => {})
  })
}
