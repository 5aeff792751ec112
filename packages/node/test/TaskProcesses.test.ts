/**
 * The guarantee of @effect-tasks/node, end to end: a task's processes, and everything they start,
 * never outlive the task; nothing the task did not start is touched. Real processes, real signals,
 * checked in /proc with a marker the library does not know about. Every suite runs in both containment modes
 * (`/proc` and cgroup); in cgroup mode the per-run test cgroup is also checked to hold no task cgroup and no
 * process once a task has ended, and nothing at all once the manager is closed.
 */
import { TaskManager } from "@effect-tasks/core"
import { NodeTaskManager } from "@effect-tasks/node"
import { afterAll, afterEach, describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Scope, Stream } from "effect"
import { ChildProcess } from "effect/process"
import { ChildProcessSpawner } from "effect/process/ChildProcessSpawner"
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { leftInTestRoot, modeConfig, modes, removeTestRoot } from "./fixtures/cgroups.js"
import { eventually, freshMarker, isAlive, killMarked, withMarker } from "./helpers.js"

const MARK = "EFFECT_TASKS_TEST_MARK"
let marker = freshMarker()
afterEach(() => {
  killMarked(MARK, marker)
  marker = freshMarker()
})
afterAll(removeTestRoot)

const sh = (script: string) => ChildProcess.make("sh", ["-c", script], { env: { [MARK]: marker }, extendEnv: true })
const exitCodeOf = (script: string) => Effect.flatMap(ChildProcessSpawner, (spawner) => spawner.exitCode(sh(script)))

const sleepMarked = Effect.flatMap(
  ChildProcessSpawner,
  (spawner) => spawner.exitCode(ChildProcess.make("sleep", ["1000"], { env: { [MARK]: marker }, extendEnv: true }))
)

/** Whether `pid` runs `sleep 1000` (an exec'd process, past whatever its shell set up before). */
const sleeping = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "latin1") === "sleep\u00001000\u0000"
  } catch {
    return false
  }
}

const python = (code: string) => `python3 -c '${code}'`
const DOUBLE_FORK = python(
  "import os,time\nif os.fork()==0:\n  os.setsid()\n  if os.fork()==0:\n    time.sleep(1000)\n  os._exit(0)\nos.wait()"
)

// Each mode's suites run below; cgroup mode is skipped (with the reason in the suite's name) only where this
// machine cannot create cgroups and CI is not set (see fixtures/cgroups.ts).
for (const { mode, skip } of modes) {
  const within = skip === undefined ? `[${mode}]` : `[${mode}] (skipped: ${skip})`

  /** In cgroup mode: no task cgroup and no process left; `closed`: not even the manager's cgroup. */
  const expectNothingLeft = (closed: boolean) => {
    if (mode !== "cgroup") return
    const left = leftInTestRoot()
    expect(left.pids).toEqual([])
    expect(left.cgroups.filter((dir) => closed || dir.includes("/"))).toEqual([])
  }

  const managerWith = (config: NodeTaskManager.NodeTaskManagerConfig) =>
    NodeTaskManager.layerWith({ ...config, ...modeConfig(mode) })

  const provide = <A, E>(effect: Effect.Effect<A, E, TaskManager.TaskManager | ChildProcessSpawner | Scope.Scope>) =>
    Effect.provide(Effect.scoped(effect), managerWith({ grace: "300 millis" })).pipe(
      Effect.tap(() => Effect.sync(() => expectNothingLeft(true)))
    )

  /** Runs `script` as a task, waits until `expected` marked processes live, revokes it, and checks none survive. */
  const revokeScenario = (script: string, expected: number, options: { graceful?: boolean } = {}) =>
    provide(Effect.gen(function*() {
      const tm = yield* TaskManager.TaskManager
      const task = yield* tm.submit(exitCodeOf(script), { name: "scenario" })
      yield* eventually(() => withMarker(MARK, marker).length >= expected, 5000, `${expected} processes`)
      const before = withMarker(MARK, marker)
      const done = yield* tm.revoke(task.id, options)
      expect(done.state).toBe("REVOKED")
      expect(withMarker(MARK, marker)).toEqual([])
      for (const pid of before) expect(isAlive(pid)).toBe(false)
      expectNothingLeft(false)
      return done
    }))

  describe.skipIf(skip !== undefined)(`${within} a task's processes never outlive it`, () => {
    it.live("(a) the direct child", () =>
      provide(Effect.gen(function*() {
        const tm = yield* TaskManager.TaskManager
        const task = yield* tm.submit(Effect.suspend(() => sleepMarked))
        yield* eventually(() => withMarker(MARK, marker).length === 1)
        const [pid] = withMarker(MARK, marker)
        const done = yield* tm.revoke(task.id)
        expect(done.state).toBe("REVOKED")
        expect(isAlive(pid!)).toBe(false)
        expect(done.processes).toHaveLength(1)
        expect(done.processes[0]!.pid).toBe(pid)
        expect(done.processes[0]!.signal).toBe("SIGTERM")
      })))

    it.live("(b) grandchildren in the same process group", () => revokeScenario("sleep 1000 & sleep 1000 & wait", 3))

    it.live("(c) a descendant that moved to another process group", () =>
      revokeScenario(`${python("import os,time\nos.setpgid(0,0)\ntime.sleep(1000)")} & wait`, 2))

    it.live("(d) a descendant that called setsid", () => revokeScenario("setsid sleep 1000 & wait", 2))

    it.live("(e) a double-forked daemon reparented to init", () =>
      Effect.gen(function*() {
        yield* revokeScenario(`${DOUBLE_FORK}; sleep 1000`, 2)
      }))

    it.live("(f) a process that ignores SIGTERM gets SIGKILL after the grace period", () =>
      Effect.gen(function*() {
        const start = Date.now()
        const done = yield* revokeScenario("trap '' TERM; sleep 1000", 2)
        expect(Date.now() - start).toBeGreaterThanOrEqual(300)
        expect(done.processes[0]!.signal).toBe("SIGKILL")
      }))

    it.live("(f') graceful: false kills at once, without waiting for the grace period", () =>
      Effect.gen(function*() {
        const done = yield* revokeScenario("trap '' TERM; sleep 1000", 2, { graceful: false })
        expect(done.revocation).toEqual({ reason: "user", graceful: false })
        expect(done.processes[0]!.signal).toBe("SIGKILL")
      }))

    it.live("(g) a background job whose leader already exited; the task succeeds and leaves nothing", () =>
      provide(Effect.gen(function*() {
        const tm = yield* TaskManager.TaskManager
        const task = yield* tm.submit(exitCodeOf("sleep 1000 & echo started; exit 0"))
        const done = yield* tm.await(task.id)
        expect(done.state).toBe("SUCCESS")
        expect(done.processes[0]!.exitCode).toBe(0)
        expect(withMarker(MARK, marker)).toEqual([])
      })))

    it.live("(h) processes spawned while the revoke is under way", () =>
      revokeScenario("trap '' TERM; while true; do sleep 1000 & sleep 0.01; done", 3))

    it.live("(h') a cleanup that spawns during the revoke and waits on it is bounded by the grace period", () =>
      provide(Effect.gen(function*() {
        const tm = yield* TaskManager.TaskManager
        const stuckCleanup = Effect.ensuring(Effect.never, Effect.ignore(exitCodeOf("trap '' TERM; sleep 1000")))
        const task = yield* tm.submit(stuckCleanup)
        yield* Effect.sleep("50 millis")
        const done = yield* tm.revoke(task.id)
        expect(done.state).toBe("REVOKED")
        expect(done.processes).toHaveLength(1)
        expect(done.processes[0]!.signal).toBe("SIGKILL")
        expect(withMarker(MARK, marker)).toEqual([])
      })))

    it.live("processes started from fibers forked inside the task belong to it", () =>
      provide(Effect.gen(function*() {
        const tm = yield* TaskManager.TaskManager
        const task = yield* tm.submit(Effect.gen(function*() {
          yield* Effect.forkChild(Effect.suspend(() => sleepMarked))
          yield* Effect.forkChild(Effect.suspend(() => sleepMarked))
          return yield* Effect.never
        }))
        yield* eventually(() => withMarker(MARK, marker).length === 2)
        const done = yield* tm.revoke(task.id)
        expect(done.processes).toHaveLength(2)
        expect(withMarker(MARK, marker)).toEqual([])
      })))

    it.live("a process started some other way can be attached by pid", () =>
      provide(Effect.gen(function*() {
        const tm = yield* TaskManager.TaskManager
        const task = yield* tm.submit(Effect.gen(function*() {
          const child = spawn("sleep", ["1000"], {
            env: { ...process.env, [MARK]: marker },
            detached: true,
            stdio: "ignore"
          })
          yield* NodeTaskManager.attach(child.pid!)
          return yield* Effect.never
        }))
        yield* eventually(() => withMarker(MARK, marker).length === 1)
        const done = yield* tm.revoke(task.id)
        expect(done.processes.map((p) => p.command)).toEqual([expect.stringContaining("pid")])
        expect(withMarker(MARK, marker)).toEqual([])
      })))

    it.live("attaching a pid that does not exist fails with ProcessNotFound", () =>
      provide(Effect.gen(function*() {
        const tm = yield* TaskManager.TaskManager
        const task = yield* tm.submit(NodeTaskManager.attach(2 ** 22 + 12345))
        const done = yield* tm.await(task.id)
        expect(done.state).toBe("FAILURE")
        const error = yield* Effect.flip(tm.join(task))
        expect(error._tag).toBe("ProcessNotFound")
      })))

    it.live("a timed-out task's processes are gone", () =>
      provide(Effect.gen(function*() {
        const tm = yield* TaskManager.TaskManager
        const task = yield* tm.submit(exitCodeOf("sleep 1000 & sleep 1000; wait"), { timeout: "300 millis" })
        const done = yield* tm.await(task.id)
        expect(done.state).toBe("REVOKED")
        expect(done.revocation).toEqual({ reason: "timeout", graceful: true })
        expect(withMarker(MARK, marker)).toEqual([])
      })))

    it.live("nothing the task did not start is touched, and the manager's own group is never signalled", () =>
      provide(Effect.gen(function*() {
        const tm = yield* TaskManager.TaskManager
        // A bystander in the test's own process group, carrying the same marker but started by no task.
        const bystander = spawn("sleep", ["1000"], { env: { ...process.env, [MARK]: marker }, stdio: "ignore" })
        try {
          yield* tm.submit(exitCodeOf("sleep 1000 & wait"))
          yield* eventually(() => withMarker(MARK, marker).length === 3)
          yield* tm.revokeAll({ graceful: false })
          expect(isAlive(bystander.pid!)).toBe(true)
          expect(isAlive(process.pid)).toBe(true)
          expect(withMarker(MARK, marker)).toEqual([bystander.pid])
        } finally {
          bystander.kill("SIGKILL")
        }
      })))
  })

  describe.skipIf(skip !== undefined)(`${within} records, output and errors`, () => {
    it.live("exit codes and killing signals are on the process record, with events", () =>
      provide(Effect.gen(function*() {
        const tm = yield* TaskManager.TaskManager
        const events = yield* tm.subscribe
        const collected = yield* Effect.forkChild(Stream.runCollect(events), { startImmediately: true })
        const three = yield* tm.submit(exitCodeOf("exit 3"))
        const killed = yield* tm.submit(exitCodeOf("kill -9 $$"))
        const a = yield* tm.await(three.id)
        const b = yield* tm.await(killed.id)
        expect(a.state).toBe("SUCCESS")
        expect(a.processes[0]!.exitCode).toBe(3)
        expect(b.state).toBe("FAILURE")
        expect(b.processes[0]!.signal).toBe("SIGKILL")
        yield* tm.shutdown
        const tags = (yield* Fiber.join(collected)).filter((e) => "id" in e && e.id === three.id).map((e) => e._tag)
        expect(tags).toEqual(["TaskSubmitted", "TaskStarted", "ProcessStarted", "ProcessExited", "TaskFinished"])
      })))

    it.live("what the kill stopped besides the root is on the record: a leftover background job", () =>
      provide(Effect.gen(function*() {
        const tm = yield* TaskManager.TaskManager
        const events = yield* tm.subscribe
        const collected = yield* Effect.forkChild(Stream.runCollect(events), { startImmediately: true })
        const task = yield* tm.submit(exitCodeOf("sleep 500 & sleep 0.2"))
        const done = yield* tm.await(task.id)
        expect(done.state).toBe("SUCCESS")
        const root = done.processes[0]!
        expect(root.exitCode).toBe(0)
        expect(root.stopped).toEqual([{ pid: expect.any(Number), command: "sleep 500", signal: "SIGTERM" }])
        expect(root.escalated).toBe(false)
        yield* tm.shutdown
        const stopped = (yield* Fiber.join(collected)).filter((e) => e._tag === "ProcessesStopped")
        expect(stopped).toEqual([{
          _tag: "ProcessesStopped",
          id: task.id,
          pid: root.pid,
          stopped: root.stopped,
          escalated: false,
          at: expect.any(Number)
        }])
      })))

    it.live("a revoke that had to SIGKILL a grandchild says so, besides the shell's own SIGTERM", () =>
      provide(Effect.gen(function*() {
        const tm = yield* TaskManager.TaskManager
        const task = yield* tm.submit(exitCodeOf("sh -c 'trap \"\" TERM; exec sleep 1000' & wait"))
        // The grandchild ignores SIGTERM once it runs sleep (the trap is set before the exec).
        yield* eventually(() => withMarker(MARK, marker).some(sleeping), 5000, "the grandchild's sleep")
        const done = yield* tm.revoke(task.id)
        const root = done.processes[0]!
        expect(root.signal).toBe("SIGTERM")
        expect(root.escalated).toBe(true)
        expect(root.stopped).toEqual([{ pid: expect.any(Number), command: "sleep 1000", signal: "SIGKILL" }])
        expect(withMarker(MARK, marker)).toEqual([])
      })))

    it.live("a missing binary fails the task with the platform error", () =>
      provide(Effect.gen(function*() {
        const tm = yield* TaskManager.TaskManager
        const task = yield* tm.submit(
          Effect.flatMap(ChildProcessSpawner, (s) => s.exitCode(ChildProcess.make("no-such-binary-effect-tasks")))
        )
        const done = yield* tm.await(task.id)
        expect(done.state).toBe("FAILURE")
        const error = yield* Effect.flip(tm.join(task))
        expect(error._tag).toBe("PlatformError")
        expect(String(error)).toMatch(/NotFound|ENOENT/)
      })))

    it.live("a child never reads the terminal: its stdin is a pipe", () =>
      provide(Effect.gen(function*() {
        const tm = yield* TaskManager.TaskManager
        const task = yield* tm.submit(
          Effect.flatMap(ChildProcessSpawner, (s) => s.string(sh("readlink /proc/self/fd/0")))
        )
        // Node's pipes are socket pairs; what matters is that it is not the terminal.
        expect(yield* tm.join(task)).toMatch(/^(pipe|socket):/)
      })))

    it.live("an output flood is drained and bounded, even when nobody reads it", () =>
      Effect.gen(function*() {
        const tm = yield* TaskManager.TaskManager
        const before = process.memoryUsage().rss
        // 200 MB on stdout; the task only waits for the exit code and never reads the pipe.
        const task = yield* tm.submit(Effect.scoped(Effect.gen(function*() {
          const handle = yield* sh("head -c 200000000 /dev/zero | tr '\\0' x; echo done >&2")
          return yield* handle.exitCode
        })))
        const done = yield* tm.await(task.id)
        expect(done.state).toBe("SUCCESS")
        const output = yield* tm.output(task.id)
        expect(output.stdout.length).toBe(4096)
        expect(output.stdout).toBe("x".repeat(4096))
        expect(output.droppedStdout).toBe(200_000_000 - 4096)
        expect(output.stderr).toBe("done\n")
        expect(process.memoryUsage().rss - before).toBeLessThan(150 * 1024 * 1024)
      }).pipe(
        Effect.provide(managerWith({ outputTail: 4096 })),
        Effect.tap(() => Effect.sync(() => expectNothingLeft(true)))
      ))
  })

  describe.skipIf(skip !== undefined)(`${within} shutdown`, () => {
    it.live("50 SIGTERM-ignoring process groups: shutdown returns within grace plus one second, nothing left", () =>
      Effect.gen(function*() {
        const tm = yield* TaskManager.TaskManager
        for (let i = 0; i < 50; i++) yield* tm.submit(exitCodeOf("trap '' TERM; sleep 1000 & sleep 1000; wait"))
        yield* eventually(() => withMarker(MARK, marker).length >= 150, 10_000, "150 processes")
        const start = Date.now()
        yield* tm.shutdown
        const took = Date.now() - start
        expect(took).toBeLessThan(500 + 1000)
        expect(withMarker(MARK, marker)).toEqual([])
        const all = yield* tm.list
        expect(all.every((t) => t.state === "REVOKED" && t.revocation?.reason === "shutdown")).toBe(true)
      }).pipe(
        Effect.provide(managerWith({ grace: "500 millis" })),
        Effect.tap(() => Effect.sync(() => expectNothingLeft(true)))
      ))
  })
}
