#!/usr/bin/env node
/**
 * The `tasks` executable. It turns on Node's compile cache before loading the program (`main.js`), so that
 * later starts reuse the compiled code of the modules instead of compiling them again (a quarter of the CPU a
 * start takes; `NODE_DISABLE_COMPILE_CACHE=1` turns it off).
 *
 * @since 0.1.0
 */
import * as NodeModule from "node:module" // Since Node 22.1; an older Node fails later, with the message its `engines` field explains.
;(NodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.()
await import("./main.js")
