/**
 * What each rule of a task costs in B1's workload (`node --expose-gc dist/diagnose.js rules [rounds]`).
 *
 * A profile spreads a rule's cost over the functions it calls and the garbage it leaves, so this measures it
 * instead: it copies the built core once per rule, takes that rule's work out of the copy (a patch of the built
 * `TaskManager.js`, which fails loudly once the code it patches has changed), and times B1's round (100k no-op
 * tasks, submit then join) on every copy against the unmodified core and `FiberSet.run`, in rotating order in one
 * process. A copy is not a correct task manager: it only shows what its rule costs.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { fileURLToPath, pathToFileURL } from "node:url"
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
    ["        if (pending.push(record) >= PENDING_BATCH)\n            flush();", "        return;"],
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
    ["const scope = Scope.makeUnsafe();", "const scope = undefined;"],
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

const median = (xs: ReadonlyArray<number>): number => {
  const sorted = xs.toSorted((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

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

/** Runs the comparison and prints one line per subject. */
export const rules = async (rounds: number, print: (line: string) => void): Promise<void> => {
  const coreDir = fileURLToPath(new URL("../../core/", import.meta.url))
  const copies: Array<string> = []
  try {
    const base = (await import(pathToFileURL(`${coreDir}dist/index.js`).href)) as TaskManagerModule
    const subjects: Array<{ readonly label: string; readonly run: () => Promise<number> }> = [
      { label: "every rule (the real core)", run: () => Effect.runPromise(taskManagerRound(base)) },
      { label: "FiberSet.run", run: () => Effect.runPromise(fiberSetRound) }
    ]
    for (const rule of RULES) {
      const copy = patchedCopy(coreDir, rule)
      copies.push(copy)
      const core = (await import(pathToFileURL(`${copy}/index.js`).href)) as TaskManagerModule
      subjects.push({ label: `without ${rule.rule}`, run: () => Effect.runPromise(taskManagerRound(core)) })
    }
    const gc = (globalThis as { gc?: () => void }).gc
    const samples = subjects.map(() => [] as Array<number>)
    // One warm-up round, then `rounds` measured ones, each subject after a full collection, in rotating order.
    for (let round = -1; round < rounds; round++) {
      for (let k = 0; k < subjects.length; k++) {
        const index = (k + Math.max(0, round)) % subjects.length
        gc?.()
        const millis = await subjects[index]!.run()
        if (round >= 0) samples[index]!.push(millis)
      }
    }
    const real = median(samples[0]!)
    const fiberSet = median(samples[1]!)
    const perTask = (ms: number) => `${formatNumber((ms * 1000) / TASKS)} us/task`
    print(`B1's round, ${TASKS} tasks, median of ${rounds} rounds${gc === undefined ? " (run with --expose-gc)" : ""}:`)
    subjects.forEach((subject, index) => {
      const ms = median(samples[index]!)
      const share = index < 2 ? "" : `, ${formatNumber((1 - ms / real) * 100)}% of a task`
      print(
        `  ${subject.label}: ${perTask(ms)}, ${formatRatio(ms / fiberSet)} FiberSet.run${share}`
      )
    })
  } finally {
    for (const copy of copies) rmSync(copy, { recursive: true, force: true })
  }
}
