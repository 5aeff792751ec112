// Proves the model test (packages/core/test/model.test.ts) catches real bugs: applies each deliberate bug
// below to the manager's source, one at a time, runs the model test, and expects it to FAIL; the source is
// restored after each run, whatever happens. Run with `pnpm mutants` (about a minute).
//
// Each bug names the exact text it replaces, which must occur exactly once: if the source has moved on and the
// text is gone, the script says so and fails, rather than testing nothing.
import { spawnSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const root = new URL("..", import.meta.url).pathname
const src = (file) => join(root, "packages/core/src", file)

const mutants = [
  {
    name: "queued tasks never start",
    file: src("internal/pool.ts"),
    from: "  while (pool.running < pool.limit) {",
    to: "  while (pool.running < 0) {"
  },
  {
    name: "timeouts never fire",
    file: src("TaskManager.ts"),
    from: "    if (task.timeout !== undefined) {",
    to: "    if (task.timeout !== undefined && task.timeout === null) {"
  },
  {
    name: "the queue runs LIFO instead of FIFO",
    file: src("internal/pool.ts"),
    from: "  MutableList.append(pool.line, member)",
    to: "  MutableList.prepend(pool.line, member)"
  },
  {
    name: "a graceful revoke acts as a forced one",
    file: src("TaskManager.ts"),
    from: "  const requestRevokeUnsafe = (task: Task.Task, revocation: Revocation) => {",
    to: "  const requestRevokeUnsafe = (task: Task.Task, asked: Revocation) => {\n"
      + "    const revocation = { ...asked, graceful: false }"
  },
  {
    name: "a revoke during the cleanup discards the result the body computed",
    file: src("internal/task.ts"),
    from: "  if (body === undefined || Exit.isSuccess(fiber) || !Cause.hasInterrupts(fiber.cause)) return fiber",
    to: "  if (body !== null) return fiber"
  }
]

const modelTest = () =>
  spawnSync(
    "pnpm",
    ["exec", "vitest", "run", "--config", "vitest.workspace.ts", "--project", "core", "test/model.test.ts"],
    { cwd: root, encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" } }
  )

/** The line of the property's failure report that says what differed (the assertion's message). */
const firstFailure = (output) => {
  // oxlint-disable-next-line no-control-regex
  const lines = output.replace(/\u001b\[[0-9;]*m/g, "").split("\n")
  const falsified = lines.find((line) => line.includes("Property falsified"))?.replace(/^.*Error: /, "") ?? ""
  const failure = lines.find((line) => line.startsWith("Failure: ")) ?? "(no assertion line found)"
  return `${falsified}; ${failure}`
}

const clean = modelTest()
if (clean.status !== 0) {
  console.error(`the model test fails without any bug:\n${clean.stdout}${clean.stderr}`)
  process.exit(1)
}
console.log("unmutated: the model test passes")

let escaped = 0
for (const mutant of mutants) {
  const original = readFileSync(mutant.file, "utf8")
  const occurrences = original.split(mutant.from).length - 1
  if (occurrences !== 1) {
    console.error(`${mutant.name}: expected the text to replace once in ${mutant.file}, found ${occurrences}`)
    process.exit(1)
  }
  let result
  try {
    writeFileSync(mutant.file, original.replace(mutant.from, mutant.to))
    result = modelTest()
  } finally {
    writeFileSync(mutant.file, original)
  }
  if (result.status === 0) {
    escaped++
    console.log(`${mutant.name}: NOT caught (the model test passed)`)
  } else {
    console.log(`${mutant.name}: caught: ${firstFailure(result.stdout + result.stderr)}`)
  }
}
if (escaped > 0) process.exit(1)
console.log("every bug was caught")
