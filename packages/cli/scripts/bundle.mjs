// Bundles the built CLI (dist/main.js, what dist/bin.js runs) with everything it imports into dist/bundle/:
// one module per command (each loaded only when named, as cli.ts does) plus what they share, tree-shaken.
// Node then resolves and links a few dozen modules at start-up instead of several hundred, which takes
// `tasks run -- true` from about 0.5 s to about 0.2 s (`pnpm bench B8`).
//
// The guardian script of @effect-tasks/node is bundled beside it as internal/guardian-main.js: Guardian finds it
// relative to its own module (`./internal/guardian-main.js`), and in the bundle that module is a chunk at the top
// of dist/bundle/, so every chunk must stay there (no subdirectories in chunkFileNames).
//
// Run after `tsc -b` (scripts/executable.mjs runs it as part of `pnpm build`); dist/bin.js falls back to the
// unbundled modules while the bundle is older than the last build of any package it holds.
import { rmSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { build } from "rolldown"

const cli = new URL("../", import.meta.url)
const path = (relative) => fileURLToPath(new URL(relative, cli))
const out = path("dist/bundle")

rmSync(out, { recursive: true, force: true })
await build({
  input: {
    main: path("dist/main.js"),
    "internal/guardian-main": path("node_modules/@effect-tasks/node/dist/internal/guardian-main.js")
  },
  platform: "node",
  logLevel: "warn",
  output: { dir: out, format: "esm", entryFileNames: "[name].js", chunkFileNames: "[name]-[hash].js" }
})
