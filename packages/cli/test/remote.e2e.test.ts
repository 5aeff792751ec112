/**
 * The remote commands on the built binary, against a manager served in this process by @effect-tasks/server
 * (real processes): the same table as the local commands, `--json`, exit codes, one-line errors, the
 * connection flags and their environment variables, and the token file `--serve` writes.
 */
import { TaskId, TaskManager } from "@effect-tasks/core"
import { NodeTaskManager } from "@effect-tasks/node"
import { TaskServer } from "@effect-tasks/server"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as TokenFile from "../src/remote/tokenFile.js"
import * as Color from "../src/render/color.js"
import * as Tasks from "../src/render/tasks.js"
import * as ShellTask from "../src/shellTask.js"
import { ensureBuilt, env, marksFor, plain, run, start } from "./helpers/binary.js"

beforeAll(ensureBuilt, 120_000)

const { cleanup, fresh } = marksFor()
const dirs: Array<string> = []
afterAll(() => {
  cleanup()
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

const TOKEN = "remote-e2e-token-0123456789"

/** What the local commands run: `sh -c script`, failing with `CommandFailed`. */
const sh = (script: string) => ShellTask.run(script)

/** A served manager for one test, and `tasks <args>` against it. */
const served = (options: Partial<TaskServer.Options> = {}) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      TaskServer.layer({ port: 0, token: TOKEN, ...options }).pipe(
        Layer.provideMerge(NodeTaskManager.layerWith({ guardian: false }))
      )
    )
    const server = Context.get(context, TaskServer.TaskServer)
    const tm = Context.get(context, TaskManager.TaskManager)
    const mark = fresh()
    const tasks = (args: ReadonlyArray<string>, extra: Record<string, string | undefined> = {}) =>
      Effect.promise(() =>
        run(args, env(mark, { TASKS_CONNECT: server.connect, TASKS_TOKEN: TOKEN, ...extra }), 150_000)
      )
    return { server, tm, tasks, mark }
  })

const live = <A, E>(effect: Effect.Effect<A, E, any>) =>
  effect.pipe(Effect.scoped, Effect.provide(NodeServices.layer)) as Effect.Effect<A, E>

describe("tasks ls | show | logs", () => {
  it.live("ls prints the same table as the local commands, and --json the records", () =>
    live(Effect.gen(function*() {
      const { tasks, tm } = yield* served()
      const empty = yield* tasks(["ls"])
      expect(empty.code).toBe(0)
      expect(empty.stdout).toBe("no tasks yet\n")
      const ok = yield* tm.submit(sh("echo fine"), { name: "fine", mode: "build" })
      const bad = yield* tm.submit(sh("echo broken >&2; exit 3"), { name: "broken" })
      yield* tm.await(ok.id)
      yield* tm.await(bad.id)
      const result = yield* tasks(["ls"])
      expect(result.code).toBe(0)
      expect(result.stderr).toBe("")
      // The records of finished tasks, rendered by the local commands' own table code.
      const local = Tasks.table(yield* tm.list, Tasks.defaultFields, { palette: Color.palette(false), now: Date.now() })
      expect(result.stdout).toBe(`${local.join("\n")}\n`)
      expect(plain(result.stdout).split("\n")[0]).toMatch(
        /^ID\s+NAME\s+MODE\s+STATE\s+DURATION\s+EXIT \/ REASON\s+PROCESSES$/
      )
      expect(result.stdout).toMatch(/ 2\s+broken\s+default\s+FAILURE\s+\S+\s+exit 3\s+\d+ exit 3/)

      const json = yield* tasks(["ls", "--json"])
      expect(json.code).toBe(0)
      const records = JSON.parse(json.stdout)
      expect(records.map((r: any) => [r.id, r.name, r.state, r.exitCode])).toEqual([
        [1, "fine", "SUCCESS", 0],
        [2, "broken", "FAILURE", 3]
      ])
      expect(records[0]).toMatchObject({ mode: "build", processes: [{ command: "sh", exitCode: 0 }] })
    })), 180_000)

  it.live(
    "show prints one task with its processes; logs prints its output on the right streams",
    () =>
      live(Effect.gen(function*() {
        const { tasks, tm } = yield* served()
        const task = yield* tm.submit(sh("echo out-line; echo err-line >&2; exit 5"), { name: "talker" })
        yield* tm.await(task.id)
        const show = yield* tasks(["show", "1"])
        expect(show.code).toBe(0)
        expect(show.stdout).toMatch(/ 1\s+talker\s+default\s+FAILURE/)
        expect(show.stdout).toContain("sh -c echo out-line; echo err-line >&2; exit 5")
        expect(show.stdout).not.toContain("    at ")
        const shown = JSON.parse((yield* tasks(["show", "1", "--json"])).stdout)
        expect(shown).toMatchObject({ id: 1, name: "talker", state: "FAILURE", exitCode: 5 })

        const logs = yield* tasks(["logs", "1"])
        expect(logs.code).toBe(0)
        expect(logs.stdout).toBe("out-line\n")
        expect(logs.stderr).toBe("err-line\n")
        const logsJson = JSON.parse((yield* tasks(["logs", "1", "--json"])).stdout)
        expect(logsJson).toEqual({ stdout: "out-line\n", stderr: "err-line\n", droppedStdout: 0, droppedStderr: 0 })
      })),
    180_000
  )

  it.live(
    "an unknown id, a bad id, no server, a wrong token: one line on stderr and exit 1",
    () =>
      live(Effect.gen(function*() {
        const { tasks, server } = yield* served()
        const cases: ReadonlyArray<readonly [ReadonlyArray<string>, Record<string, string | undefined>, string]> = [
          [["show", "42"], {}, "no task with id 42"],
          [["logs", "42"], {}, "no task with id 42"],
          [["revoke", "42"], {}, "no task with id 42"],
          [["follow", "42"], {}, "no task with id 42"],
          [["show", "0"], {}, "positive integer"],
          [["show", "abc"], {}, "id"],
          [["ls"], { TASKS_TOKEN: "wrong" }, "refused the token"],
          [["ls", "--token", "wrong"], {}, "refused the token"],
          [["ls"], { TASKS_CONNECT: undefined }, "--connect"],
          [["ls", "--connect", "http://127.0.0.1:1"], {}, "cannot reach http://127.0.0.1:1"],
          [["ls", "--connect", "/nonexistent/tasks.sock"], {}, "cannot reach /nonexistent/tasks.sock"]
        ]
        const results = yield* Effect.forEach(cases, ([args, extra]) => tasks(args, extra), { concurrency: 4 })
        results.forEach((result, i) => oneLine(result, cases[i]![2]))
        // The flags win over the environment.
        const flags = yield* tasks(["ls", "--connect", server.connect, "--token", TOKEN], {
          TASKS_CONNECT: "http://127.0.0.1:1",
          TASKS_TOKEN: "wrong"
        })
        expect(flags.code).toBe(0)
      })),
    180_000
  )
})

describe("tasks follow | revoke | revoke-all", () => {
  it.live("follow prints the output as it comes and exits with the task's code", () =>
    live(Effect.gen(function*() {
      const { tasks, tm } = yield* served()
      const slow = yield* tm.submit(sh("echo one; sleep 1; echo two >&2; sleep 0.5; echo three; exit 7"), {
        name: "slow"
      })
      const followed = yield* tasks(["follow", String(slow.id)])
      expect(followed.code).toBe(7)
      expect(followed.stdout).toBe("one\nthree\n")
      expect(followed.stderr).toContain("two\n")
      expect(plain(followed.stderr)).toContain("[1] exited with code 7")
      const ok = yield* tm.submit(sh("echo ok"), { name: "ok" })
      yield* tm.await(ok.id)
      const done = yield* tasks(["follow", String(ok.id)])
      expect(done.code).toBe(0)
      expect(done.stdout).toBe("ok\n")
    })), 180_000)

  it.live(
    "revoke stops a task (checked in /proc) and prints its final row; --force kills at once",
    () =>
      live(Effect.gen(function*() {
        const { tasks, tm } = yield* served()
        const graceful = yield* tm.submit(sh("sleep 1000"), { name: "sleeper" })
        const stubborn = yield* tm.submit(sh("trap '' TERM; sleep 1000"), { name: "stubborn" })
        yield* waitForProcesses(tm, [graceful.id, stubborn.id])
        const revoked = yield* tasks(["revoke", String(graceful.id)])
        expect(revoked.code).toBe(0)
        // SIGTERM, or SIGKILL after the grace on a machine too loaded to let `sh` exit within it.
        expect(revoked.stdout).toMatch(/ 1\s+sleeper\s+default\s+REVOKED\s+\S+\s+revoked: user\s+\d+ SIG(TERM|KILL)/)
        expect(revoked.stderr).toContain("[1] revoking sleeper")
        const record = yield* tm.get(graceful.id)
        expect(record.state).toBe("REVOKED")
        expect(alivePid(record.processes[0]!.pid)).toBe(false)

        const forced = yield* tasks(["revoke", String(stubborn.id), "--force", "--json"])
        expect(forced.code).toBe(0)
        const json = JSON.parse(forced.stdout)
        expect(json).toMatchObject({ state: "REVOKED", revocation: { reason: "user", graceful: false } })
        expect(json.processes[0].signal).toBe("SIGKILL")
        expect(alivePid(json.processes[0].pid)).toBe(false)

        const again = yield* tasks(["revoke", String(graceful.id)])
        expect(again.code).toBe(0)
        expect(again.stderr).toContain("already finished (REVOKED)")
      })),
    180_000
  )

  it.live("revoke-all stops every active task and prints their final rows", () =>
    live(Effect.gen(function*() {
      const { tasks, tm } = yield* served()
      const nothing = yield* tasks(["revoke-all"])
      expect(nothing.code).toBe(0)
      expect(nothing.stdout).toBe("nothing was running\n")
      const a = yield* tm.submit(sh("sleep 1000"), { name: "a" })
      const b = yield* tm.submit(sh("sleep 1000"), { name: "b" })
      yield* waitForProcesses(tm, [a.id, b.id])
      const all = yield* tasks(["revoke-all", "--force"])
      expect(all.code).toBe(0)
      expect(plain(all.stdout)).toMatch(/ 1\s+a\s+default\s+REVOKED\s+\S+\s+revoked: user, kill -9/)
      expect(plain(all.stdout)).toMatch(/ 2\s+b\s+default\s+REVOKED/)
      for (const task of yield* tm.list) {
        expect(task.state).toBe("REVOKED")
        expect(alivePid(task.processes[0]!.pid)).toBe(false)
      }
    })), 180_000)

  it.live("connects over a Unix socket too", () =>
    live(Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "tasks-remote-"))
      dirs.push(dir)
      const socket = join(dir, "tasks.sock")
      const { tasks, tm } = yield* served({ socket })
      yield* tm.submit(Effect.void, { name: "via-socket" })
      const result = yield* tasks(["ls", "--connect", socket])
      expect(result.code).toBe(0)
      expect(result.stdout).toMatch(/ 1\s+via-socket\s+default\s+SUCCESS/)
    })), 180_000)
})

describe("tasks demo --serve and tasks shell --serve", () => {
  it.live(
    "serve their own manager, print the address and how to connect, and write a 0600 token file",
    () =>
      Effect.gen(function*() {
        const state = mkdtempSync(join(tmpdir(), "tasks-state-"))
        dirs.push(state)
        const mark = fresh()
        const port = String(20000 + Math.floor(Math.random() * 20000))
        const environment = env(mark, { XDG_STATE_HOME: state, TASKS_TOKEN: undefined, TASKS_CONNECT: undefined })
        const demo = start(["demo", "--serve", port], environment)
        try {
          yield* Effect.promise(() => demo.waitFor("paste the token", 120_000))
          const { stderr } = demo.output()
          expect(stderr).toContain(`serving this manager's tasks on http://127.0.0.1:${port}`)
          expect(stderr).toContain(`tasks ls --connect http://127.0.0.1:${port}`)
          const file = TokenFile.path(`http://127.0.0.1:${port}`, join(state, "effect-tasks"))
          expect(stderr).toContain(file)
          expect(statSync(file).mode & 0o777).toBe(0o600)
          expect(statSync(join(state, "effect-tasks", "server")).mode & 0o777).toBe(0o700)
          // The token file is found by address: no token needed on the command line.
          const listed = yield* Effect.promise(() =>
            run(["ls", "--connect", `http://127.0.0.1:${port}`], environment, 150_000)
          )
          expect(listed.code).toBe(0)
          expect(listed.stdout).toContain("quick")
          // The demo ends, and keeps serving its records until interrupted.
          yield* Effect.promise(() => demo.waitFor("still serving", 150_000))
          const after = yield* Effect.promise(() => run(["ls", "--json", "--connect", port], environment, 150_000))
          expect(JSON.parse(after.stdout).every((task: any) => task.state !== "RUNNING")).toBe(true)
        } finally {
          demo.kill("SIGINT")
        }
        const result = yield* Effect.promise(() => demo.done)
        expect(result.code).toBe(130)
      }),
    240_000
  )

  it.live("shell --serve=SOCKET serves on a 0600 socket until the shell ends", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "tasks-shell-"))
      dirs.push(dir)
      const socket = join(dir, "shell.sock")
      const mark = fresh()
      const environment = env(mark, { XDG_STATE_HOME: dir, TASKS_TOKEN: "shell-token-abcdefgh" })
      const shell = start(["shell", `--serve=${socket}`], environment, { stdio: ["pipe", "pipe", "pipe"] })
      const stdin = shell.stdin
      try {
        yield* Effect.promise(() => shell.waitFor("curl --unix-socket", 120_000))
        expect(statSync(socket).mode & 0o777).toBe(0o600)
        expect(shell.output().stderr).toContain("(from TASKS_TOKEN)")
        const listed = yield* Effect.promise(() => run(["ls", "--connect", socket], environment, 150_000))
        expect(listed.code).toBe(0)
        expect(listed.stdout).toBe("no tasks yet\n")
      } finally {
        stdin?.end()
        shell.kill("SIGTERM")
      }
      yield* Effect.promise(() => shell.done)
    }), 180_000)
})

/** A failed run: exit 1, nothing on stdout, one line on stderr that says `text`. */
const oneLine = (result: { code: number | null; stdout: string; stderr: string }, text: string) => {
  expect(result.code).toBe(1)
  expect(result.stdout).toBe("")
  expect(result.stderr.trimEnd().split("\n")).toHaveLength(1)
  expect(result.stderr).toContain(text)
}

/** Waits until each task has started its process. */
const waitForProcesses = (tm: TaskManager.TaskManager["Service"], ids: ReadonlyArray<TaskId.TaskId>) =>
  Effect.gen(function*() {
    for (const id of ids) {
      while ((yield* tm.get(id)).processes.length === 0) yield* Effect.sleep("20 millis")
    }
  })

/** Whether a pid is a live (non-zombie) process, read from /proc. */
const alivePid = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1")
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
    return state !== "Z" && state !== "X"
  } catch {
    return false
  }
}
