import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

// The one definition of the test projects: `pnpm test` runs `vitest run --config vitest.workspace.ts`.
// Workspace packages resolve to their sources, so tests never run against a stale dist/.
const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url))
const alias = {
  "@effect-tasks/core": src("core"),
  "@effect-tasks/node": src("node"),
  "@effect-tasks/server": src("server"),
  "@effect-tasks/cluster": src("cluster")
}

export default defineConfig({
  test: {
    projects: ["core", "node", "server", "cluster", "cli", "bench"].map((name) => ({
      resolve: { alias },
      test: {
        name,
        root: `./packages/${name}`,
        include: ["test/**/*.test.ts"],
        testTimeout: 30_000,
        hookTimeout: 30_000
      }
    }))
  }
})
