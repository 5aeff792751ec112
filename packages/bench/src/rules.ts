/**
 * What each rule of a task costs in B1's workload (`node --expose-gc dist/diagnose.js rules [passes]`).
 *
 * A profile spreads a rule's cost over the functions it calls and the garbage it leaves, so this measures it
 * instead: it copies the built core once per rule, takes that rule's work out of the copy (a patch of the built
 * `TaskManager.js`, which fails loudly once the code it patches has changed), and times B1's round (100k no-op
 * tasks, submit then join) on every copy, on the unmodified core and with `FiberSet.run`. Each subject runs in a
 * process of its own (copies sharing one heap and one JIT disturb each other), the subjects in rotating order,
 * `passes` times. A copy is not a correct task manager: it only shows what its rule costs.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import { execFileSync } from "node:child_process"
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { fileURLToPath, pathToFileURL } from "node:url"
import { median } from "./harness.js"
import { formatNumber, formatRatio } from "./report.js"

const TASKS = 100_000

/** One rule and the patches that take its work out of `TaskManager.js`: [text of the build, replacement]. */
export interface Rule {
  readonly name: string
  readonly rule: string
  readonly patches: ReadonlyArray<readonly [string, string]>
}

const RECORDS: Rule = {
  name: "records",
  rule: "the records map (`Ref<HashMap>` writes and evictions)",
  patches: [
    ["    const write = (task) => {\n        task.writes++;", "    const write = (task) => {\n        return;"],
    [
      "    const forget = (task) => {\n        const record = task.record;",
      "    const forget = (task) => {\n        return;"
    ],
    [
      "    const flush = () => {\n        if (pending.length === 0)",
      "    const flush = () => {\n        pending.length = 0;\n        if (pending.length === 0)"
    ]
  ]
}

const SERVICES: Rule = {
  name: "services",
  rule: "a scope and three services in the task's context (`Scope`, `CurrentTask`, `TaskContext`)",
  patches: [
    ["const scope = TaskScope.make();", "const scope = undefined;"],
    [
      "const context = Context.add(Context.add(Context.add(withTaskServices(submitter), CurrentTask, record.id), TaskContext, TaskContextImpl.make(task, hooks, scope)), Scope.Scope, scope);",
      "const context = withTaskServices(submitter);"
    ],
    ["            return Scope.closeUnsafe(scope, exit);", "            return undefined;"]
  ]
}

const WRAPPER: Rule = {
  name: "wrapper",
  rule: "keeping the body's exit and closing the scope inside the fiber",
  patches: [[
    "        const scoped = Effect.onExitPrimitive(body, (exit) => {\n            task.bodyExit = exit;\n            return Scope.closeUnsafe(scope, exit);\n        });",
    "        const scoped = body;"
  ]]
}

const CLOCK: Rule = {
  name: "clock",
  rule: "the Clock readings of a record's timestamps",
  patches: [["const now = () => clock.currentTimeMillisUnsafe();", "const now = () => 0;"]]
}

/** The rules `rules` takes out, one copy each, and a copy without all four. */
export const RULES: ReadonlyArray<Rule> = [RECORDS, SERVICES, WRAPPER, CLOCK, {
  name: "all",
  rule: "all four",
  patches: [...RECORDS.patches, ...SERVICES.patches.slice(0, 2), WRAPPER.patches[0]!, ...CLOCK.patches]
}]

interface TaskManagerModule {
  readonly TaskManager: {
    readonly TaskManager: any
    readonly layerWith: (config: object) => any
  }
}

const taskManagerRound = (core: TaskManagerModule) =>
  Effect.gen(function*() {
    const tm = yield* core.TaskManager.TaskManager
    const start = performance.now()
    const tasks: Array<any> = []
    for (let i = 0; i < TASKS; i++) tasks[i] = yield* tm.submit(Effect.void)
    for (let i = 0; i < TASKS; i++) yield* tm.join(tasks[i])
    return performance.now() - start
  }).pipe(Effect.provide(core.TaskManager.layerWith({}))) as Effect.Effect<number>

const fiberSetRound = Effect.scoped(Effect.gen(function*() {
  const set = yield* FiberSet.make<void>()
  const start = performance.now()
  const fibers: Array<Fiber.Fiber<void>> = []
  for (let i = 0; i < TASKS; i++) fibers[i] = yield* FiberSet.run(set, Effect.void)
  for (let i = 0; i < TASKS; i++) yield* Fiber.await(fibers[i]!)
  return performance.now() - start
}))

/** `TaskManager.js` of the build with `rule` taken out; throws once a patch no longer matches the build. */
export const applyRule = (text: string, rule: Rule): string => {
  let patched = text
  for (const [from, to] of rule.patches) {
    if (!patched.includes(from)) {
      throw new Error(`the patch that takes out ${rule.rule} no longer applies: update rules.ts to the built code`)
    }
    patched = patched.replace(from, to)
  }
  return patched
}

/** Copies core's `dist/` next to it (so that its imports resolve), patched; returns the directory. */
const patchedCopy = (coreDir: string, rule: Rule): string => {
  const copy = `${coreDir}.rules-${rule.name}-${process.pid}`
  cpSync(`${coreDir}dist`, copy, { recursive: true })
  const file = `${copy}/TaskManager.js`
  writeFileSync(file, applyRule(readFileSync(file, "utf8"), rule))
  return copy
}

const ROUNDS_PER_PROCESS = 6

/** In a child process: B1's rounds on the core at `target` (or `FiberSet.run`), printed as a JSON array. */
export const rulesChild = async (target: string): Promise<void> => {
  const core = target === "fiberset" ? undefined : (await import(pathToFileURL(target).href)) as TaskManagerModule
  const gc = (globalThis as { gc?: () => void }).gc
  const millis: Array<number> = []
  // The first round warms the code up and is not kept.
  for (let round = 0; round <= ROUNDS_PER_PROCESS; round++) {
    gc?.()
    const ms = await Effect.runPromise(core === undefined ? fiberSetRound : taskManagerRound(core))
    if (round > 0) millis.push(ms)
  }
  process.stdout.write(`${JSON.stringify(millis)}\n`)
}

/** Runs the comparison and prints one line per subject. */
export const rules = async (passes: number, print: (line: string) => void): Promise<void> => {
  const coreDir = fileURLToPath(new URL("../../core/", import.meta.url))
  const self = fileURLToPath(new URL("./diagnose.js", import.meta.url))
  const copies: Array<string> = []
  try {
    const subjects: Array<{ readonly label: string; readonly target: string }> = [
      { label: "every rule (the real core)", target: `${coreDir}dist/index.js` },
      { label: "FiberSet.run", target: "fiberset" }
    ]
    for (const rule of RULES) {
      const copy = patchedCopy(coreDir, rule)
      copies.push(copy)
      subjects.push({ label: `without ${rule.rule}`, target: `${copy}/index.js` })
    }
    const samples = subjects.map(() => [] as Array<number>)
    for (let pass = 0; pass < passes; pass++) {
      for (let k = 0; k < subjects.length; k++) {
        const index = (k + pass) % subjects.length
        const output = execFileSync(process.execPath, ["--expose-gc", self, "rules-child", subjects[index]!.target], {
          encoding: "utf8"
        })
        samples[index]!.push(...(JSON.parse(output.trim().split("\n").pop()!) as Array<number>))
      }
    }
    const real = median(samples[0]!)
    const fiberSet = median(samples[1]!)
    const perTask = (ms: number) => `${formatNumber((ms * 1000) / TASKS)} us/task`
    print(`B1's round, ${TASKS} tasks: median of ${passes} processes x ${ROUNDS_PER_PROCESS} rounds per subject`)
    subjects.forEach((subject, index) => {
      const ms = median(samples[index]!)
      const share = index < 2 ? "" : `, ${formatNumber((1 - ms / real) * 100)}% of a task`
      print(`  ${subject.label}: ${perTask(ms)}, ${formatRatio(ms / fiberSet)} FiberSet.run${share}`)
    })
  } finally {
    for (const copy of copies) rmSync(copy, { recursive: true, force: true })
  }
}
