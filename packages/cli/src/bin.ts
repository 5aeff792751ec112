#!/usr/bin/env node
/**
 * The `tasks` executable. It turns on Node's compile cache before loading the program, so that later starts
 * reuse the compiled code of the modules instead of compiling them again (`NODE_DISABLE_COMPILE_CACHE=1` turns
 * it off), and it loads the program bundled (`bundle/main.js`, written by `pnpm build`): resolving and linking
 * the several hundred modules of `main.js` and its imports one by one took more than half of a start.
 *
 * @since 0.1.0
 */
import { statSync } from "node:fs"
import * as NodeModule from "node:module" // Since Node 22.1; an older Node fails later, with the message its `engines` field explains.
;(NodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.()

const bundle = new URL("./bundle/main.js", import.meta.url)

/**
 * Whether the bundle holds the code of the last build. In the repository, `tsc -b` alone (`pnpm check`) rebuilds
 * dist/ without the bundle; until the next `pnpm build` the unbundled modules run, so a change is never hidden
 * by an old bundle. An installed package has no build info: its bundle is the build.
 */
const bundleIsCurrent = (): boolean => {
  const bundled = statSync(bundle, { throwIfNoEntry: false })?.mtimeMs
  if (bundled === undefined) return false
  for (const pkg of ["cli", "cluster", "server", "node", "core"]) {
    const info = new URL(`../../${pkg}/.tsbuild/build.tsbuildinfo`, import.meta.url)
    const built = statSync(info, { throwIfNoEntry: false })?.mtimeMs
    if (built !== undefined && built > bundled) return false
  }
  return true
}

await import(bundleIsCurrent() ? bundle.href : "./main.js")
