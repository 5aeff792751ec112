// Proves the published packages work outside the workspace: pack @effect-tasks/core,
// @effect-tasks/node and @effect-tasks/server, install the tarballs into a fresh temporary project with
// npm, and from plain Node ESM (no TypeScript, no aliases, no workspace links) run a task, then serve the
// manager and read it back over HTTP with the token.
import { execFileSync } from "node:child_process"
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const root = new URL("..", import.meta.url).pathname
const work = mkdtempSync(join(tmpdir(), "effect-tasks-smoke-"))
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" })

try {
  for (const pkg of ["core", "node", "server"]) {
    run("pnpm", ["pack", "--pack-destination", work], join(root, "packages", pkg))
  }
  const tarballs = readdirSync(work).filter((f) => f.endsWith(".tgz"))
  const version = (name) =>
    JSON.parse(
      run("node", ["-p", `JSON.stringify(require("${name}/package.json").version)`], join(root, "packages/node"))
    )
  writeFileSync(
    join(work, "package.json"),
    JSON.stringify({
      name: "smoke",
      private: true,
      type: "module",
      dependencies: {
        ...Object.fromEntries(
          tarballs.map((t) => [`@effect-tasks/${/^effect-tasks-([a-z]+)-/.exec(t)[1]}`, `file:./${t}`])
        ),
        effect: version("effect"),
        "@effect/platform-node": version("@effect/platform-node")
      }
    })
  )
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], work)
  writeFileSync(
    join(work, "main.mjs"),
    `
import { TaskManager } from "@effect-tasks/core"
import { NodeTaskManager } from "@effect-tasks/node"
import { TaskServer } from "@effect-tasks/server"
import { Context, Effect, Layer } from "effect"
import { ChildProcess } from "effect/process"
import { ChildProcessSpawner } from "effect/process/ChildProcessSpawner"

const program = Effect.gen(function*() {
  const tm = yield* TaskManager.TaskManager
  const spawner = yield* ChildProcessSpawner
  const hello = yield* tm.submit(spawner.string(ChildProcess.make("sh", ["-c", "echo hello from a task"])), { name: "hello" })
  const text = yield* tm.join(hello)
  const sleeper = yield* tm.submit(spawner.exitCode(ChildProcess.make("sh", ["-c", "sleep 100 & sleep 100; wait"])), { name: "sleeper" })
  yield* Effect.sleep("200 millis")
  const revoked = yield* tm.revoke(sleeper.id)
  const served = yield* Layer.build(TaskServer.layer({ port: 0, token: "smoke-token" }))
  const { connect } = Context.get(served, TaskServer.TaskServer)
  const listed = yield* Effect.promise(() =>
    fetch(connect + "/api/tasks", { headers: { authorization: "Bearer smoke-token" } }).then((r) => r.json())
  )
  const page = yield* Effect.promise(() => fetch(connect + "/").then((r) => r.text()))
  return {
    text: text.trim(),
    revoked: revoked.state,
    processes: revoked.processes.length,
    served: listed.map((task) => task.name),
    dashboard: page.includes("<title>effect-tasks</title>")
  }
}).pipe(Effect.scoped)
const result = await Effect.runPromise(program.pipe(Effect.provide(NodeTaskManager.layer)))
console.log(JSON.stringify(result))
if (result.text !== "hello from a task" || result.revoked !== "REVOKED" || result.processes !== 1) process.exit(1)
if (result.served.join() !== "hello,sleeper" || !result.dashboard) process.exit(1)
// Internals are not part of the package: the exports map hides them.
const hidden = await import("@effect-tasks/core/internal/eventHub").then(() => "importable", (e) => e.code)
if (hidden !== "ERR_PACKAGE_PATH_NOT_EXPORTED") {
  console.log(\`@effect-tasks/core/internal/eventHub: \${hidden}\`)
  process.exit(1)
}
`
  )
  const out = run("node", ["main.mjs"], work)
  process.stdout.write(`smoke: ${out}`)
  console.log("smoke: packed packages installed, ran a task and served it outside the workspace")
} finally {
  rmSync(work, { recursive: true, force: true })
}
