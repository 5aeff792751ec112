/**
 * `tasks cluster demo`: three runners on a temporary SQLite file, nine tasks, one runner SIGKILLed while they
 * run. It shows the dead runner's tasks settled by their policy (at most once: FAILURE with RunnerLost; with
 * `--retry`: running again on a survivor), and checks in `/proc`, by a marker of its own, that nothing the
 * dead runner's tasks started is still alive. About 20 seconds.
 *
 * @since 0.1.0
 */
import { type ClusterTask, ClusterTasks, CommandJob } from "@effect-tasks/cluster"
import { TaskState } from "@effect-tasks/core"
import { Command } from "effect/cli"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { renderTasks } from "./shared.js"

const MARK = "TASKS_CLUSTER_DEMO"

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

interface Runner {
  readonly address: string
  readonly child: ChildProcess
  readonly exited: Promise<void>
}

const startRunner = async (db: string): Promise<Runner> => {
  const port = await freePort()
  const address = `127.0.0.1:${port}`
  const child = spawn(
    process.execPath,
    [process.argv[1]!, "cluster", "runner", "--db", db, "--port", String(port), "--host", "127.0.0.1", "--drain", "2s"],
    { stdio: ["ignore", "pipe", "pipe"] }
  )
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  let out = ""
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`runner ${address} did not start:\n${out}`)), 90_000)
    const onData = (chunk: Buffer) => {
      out += chunk
      if (out.includes(`runner ${address} is up`)) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    child.once("exit", () => reject(new Error(`runner ${address} exited:\n${out}`)))
  })
  child.stdout!.resume()
  child.stderr!.resume()
  return { address, child, exited }
}

/** Live processes carrying this demo's marker (read from /proc, not from the library). */
const markedAlive = (value: string): Array<number> => {
  const alive: Array<number> = []
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (!readFileSync(`/proc/${entry}/environ`, "utf8").split("\0").includes(`${MARK}=${value}`)) continue
      const stat = readFileSync(`/proc/${entry}/stat`, "latin1")
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
      if (state !== "Z" && state !== "X") alive.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return alive
}

const say = (line: string) => Effect.sync(() => process.stdout.write(`${line}\n`))

const demo = Effect.gen(function*() {
  const dir = mkdtempSync(join(tmpdir(), "tasks-cluster-demo-"))
  const db = `sqlite:${join(dir, "cluster.db")}`
  const runners: Array<Runner> = []
  yield* Effect.addFinalizer(() =>
    Effect.promise(async () => {
      for (const runner of runners) runner.child.kill("SIGTERM")
      await Promise.all(runners.map((runner) => runner.exited))
      rmSync(dir, { recursive: true, force: true })
    })
  )
  const started = Date.now()
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`
  yield* say(`${elapsed()}  three runners on ${db}`)
  for (const runner of yield* Effect.promise(() => Promise.all([startRunner(db), startRunner(db), startRunner(db)]))) {
    runners.push(runner)
    yield* say(`${elapsed()}  runner ${runner.address} up (pid ${runner.child.pid})`)
  }
  yield* Effect.provide(watch(runners, elapsed), ClusterTasks.layer({ db }))
})

const watch = (runners: Array<Runner>, elapsed: () => string) =>
  Effect.gen(function*() {
    const tasks = yield* ClusterTasks.ClusterTasks
    // Wait until every runner holds shards: small probes until each has run one.
    const serving = new Set<string>()
    while (serving.size < runners.length) {
      const probes = yield* Effect.forEach(
        Array.from({ length: 6 }),
        () =>
          Effect.flatMap(tasks.submit(CommandJob.Command, { shell: "true" }, { name: "probe" }), (t) =>
            tasks.await(t.id)),
        { concurrency: "unbounded" }
      )
      for (const probe of probes) {
        if (probe.runner !== undefined) {
          serving.add(probe.runner)
        }
      }
    }
    yield* say(`${elapsed()}  every runner holds shards; submitting nine tasks`)
    const mark = `${process.pid}-${Date.now()}`
    const shell = (seconds: number) =>
      `export ${MARK}=${mark}; sh -c 'sleep ${seconds}' & sleep ${seconds}; wait`
    const submitted: Array<ClusterTask.ClusterTask> = []
    for (let i = 1; i <= 3; i++) {
      submitted.push(yield* tasks.submit(CommandJob.Command, { shell: shell(1.5) }, { name: `build-${i}` }))
      submitted.push(
        yield* tasks.submit(CommandJob.Command, { shell: shell(5) }, { name: `render-${i}`, retry: { maxAttempts: 2 } })
      )
      submitted.push(yield* tasks.submit(CommandJob.Command, { shell: shell(5) }, { name: `deploy-${i}` }))
    }
    const ids = new Set<number>(submitted.map((t) => t.id))
    let running: ReadonlyArray<ClusterTask.ClusterTask> = []
    while (true) {
      running = (yield* tasks.list).filter((t) => ids.has(t.id))
      if (running.every((t) => t.state === "RUNNING" && t.processes.length > 0)) break
      yield* Effect.sleep(50)
    }
    yield* say(`${elapsed()}  all nine running:`)
    for (const line of renderTasks(running)) yield* say(`         ${line}`)
    // The victim: the runner with the most long tasks.
    const long = running.filter((t) => !t.name.startsWith("build"))
    const victim = runners.toSorted((a, b) =>
      long.filter((t) => t.runner === b.address).length - long.filter((t) => t.runner === a.address).length
    )[0]!
    const victimTasks = running.filter((t) => t.runner === victim.address)
    yield* say(
      `${elapsed()}  SIGKILL runner ${victim.address} (pid ${victim.child.pid}), running ${
        victimTasks.map((t) => t.name).join(", ")
      }`
    )
    const events = yield* tasks.subscribe.pipe(Effect.orDie)
    const killedAt = Date.now()
    victim.child.kill("SIGKILL")
    yield* Effect.promise(() => victim.exited)
    runners.splice(runners.indexOf(victim), 1)
    const names = new Map(submitted.map((t) => [t.id as number, t.name]))
    let left = ids.size
    yield* events.pipe(
      Stream.filter((event) => "id" in event && ids.has(event.id)),
      Stream.takeUntil((event) => event._tag === "TaskFinished" && --left === 0),
      Stream.runForEach((event) => {
        const name = names.get((event as { id: number }).id)
        const since = `${((Date.now() - killedAt) / 1000).toFixed(1)}s after the kill`
        switch (event._tag) {
          case "TaskRetrying":
            return say(
              `${elapsed()}  ${name}: attempt ${event.attempt} lost with ${event.runner}; QUEUED again (${since})`
            )
          case "TaskStarted":
            return event.attempt > 1
              ? say(`${elapsed()}  ${name}: attempt ${event.attempt} on ${event.runner}`)
              : Effect.void
          case "TaskFinished":
            return say(
              `${elapsed()}  ${name}: ${event.state}${
                event.error === undefined ? "" : ` (${event.error.split("\n")[0]})`
              }${victimTasks.some((t) => t.id === event.id) ? `, ${since}` : ""}`
            )
          default:
            return Effect.void
        }
      })
    )
    const final = (yield* Effect.orDie(tasks.list)).filter((t) => ids.has(t.id))
    yield* say(`${elapsed()}  final records:`)
    for (const line of renderTasks(final)) yield* say(`         ${line}`)
    const unsettled = final.filter((t) => !TaskState.isTerminal(t.state)).length
    const alive = markedAlive(mark)
    yield* say(
      `\n${alive.length} of the demo's processes still alive (checked in /proc by the ${MARK} marker)` +
        (unsettled > 0 ? `; ${unsettled} task(s) not settled` : "")
    )
    if (alive.length > 0 || unsettled > 0) process.exitCode = 1
  })

/** The `cluster demo` command. */
export const command = Command.make("demo", {}, () => Effect.scoped(demo)).pipe(
  Command.withDescription("Three runners, nine tasks, one runner SIGKILLed: its tasks settle, nothing is orphaned")
)
