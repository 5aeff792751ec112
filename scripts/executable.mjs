// Finishes the build of the `tasks` executable after `tsc -b`: bundles it (packages/cli/scripts/bundle.mjs),
// and marks dist/bin.js executable (tsc writes plain files), so that `packages/cli/dist/bin.js <command>` runs it
// directly after `pnpm build`, as the installed `tasks` does.
import { chmodSync, statSync } from "node:fs"

await import("../packages/cli/scripts/bundle.mjs")
const bin = new URL("../packages/cli/dist/bin.js", import.meta.url)
const mode = statSync(bin).mode
if ((mode & 0o111) !== 0o111) chmodSync(bin, mode | 0o111)
