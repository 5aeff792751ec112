/**
 * `tasks run` on the built binary, as a child process: prefixed output, exit codes, limits, and the
 * promise that matters most: after Ctrl-C, SIGTERM or SIGHUP nothing any command started is left,
 * not even a daemon that escaped with setsid (found in /proc by the marker every descendant inherits).
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { ensureBuilt, env, leftovers, marksFor, plain, run, start } from "./helpers/binary.js"

beforeAll(ensureBuilt, 120_000)

const { cleanup, fresh } = marksFor()
afterAll(cleanup)

/** A command that daemonizes (setsid + double fork: reparented to init, its own session) and stays. */
const daemonizing = "(setsid sleep 1000 &); sh -c 'sleep 1000 & wait' & echo started; wait"

describe.concurrent("tasks run", () => {
  it("prefixes each command's lines, keeps stderr on stderr, exits with the first failure's code", async () => {
    const mark = fresh()
    const result = await run(
      ["run", "--names", "ok,bad,slow", "--", "echo out; echo err >&2", "sleep 0.2; exit 3", "sleep 0.8; echo late"],
      env(mark)
    )
    expect(result.code).toBe(3)
    expect(result.stdout).toContain("[ok  ] out\n")
    expect(result.stderr).toContain("[ok  ] err\n")
    expect(result.stdout).toContain("[bad ] exited with code 3")
    expect(result.stdout).toContain("[slow] late\n")
    expect(result.stdout).toMatch(/bad\s+sleep 0\.2; exit 3\s+FAILURE\s+\S+\s+exit 3/)
    expect(result.stdout).toMatch(/slow\s+sleep 0\.8; echo late\s+SUCCESS/)
    expect(result.stdout).not.toContain("\x1b[")
    expect(leftovers(mark)).toEqual([])
  })

  it("the first failure decides the exit code, not the last", async () => {
    const result = await run(["run", "--", "sleep 0.1; exit 4", "sleep 0.6; exit 5", "true"], env(fresh()))
    expect(result.code).toBe(4)
    expect(result.stdout).toContain("[0] exited with code 4")
    expect(result.stdout).toContain("[1] exited with code 5")
  })

  it("exits 0 when every command succeeds; a command that daemonizes and returns leaves nothing", async () => {
    const mark = fresh()
    const result = await run(["run", "--", "setsid sleep 1000 & echo spawned", "echo fine"], env(mark))
    expect(result.code).toBe(0)
    expect(result.stdout).toContain("[0] spawned")
    expect(leftovers(mark)).toEqual([])
  })

  it("--kill-others-on-fail revokes the others gracefully as soon as one fails", async () => {
    const mark = fresh()
    const result = await run(["run", "--kill-others-on-fail", "--", "sleep 30", "sleep 0.3; exit 2"], env(mark))
    expect(result.code).toBe(2)
    expect(result.millis).toBeLessThan(10_000)
    expect(result.stdout).toContain("--> 1 exited with code 2: stopping 1 other command(s) (kill-others, grace 5.0s)")
    expect(result.stdout).toContain("[0] revoked: kill-others → killed by SIGTERM")
    expect(result.stdout).toMatch(/sleep 30\s+REVOKED\s+\S+\s+revoked: kill-others\s+\d+ SIGTERM/)
    expect(leftovers(mark)).toEqual([])
  })

  it("--kill-others stops the rest when any command ends, even with 0; the stopped ones say kill-others", async () => {
    const mark = fresh()
    const result = await run(
      [
        "run",
        "--kill-others",
        "--names",
        "server,worker,test",
        "--",
        daemonizing,
        "trap 'exit 0' TERM; echo working; while :; do sleep 0.1; done",
        "sleep 0.5; echo pass"
      ],
      env(mark)
    )
    expect(result.stdout).toContain("[test  ] exited with code 0")
    expect(result.stdout).toContain("--> test exited with code 0: stopping 2 other command(s) (kill-others")
    expect(result.stdout).toContain("[server] revoked: kill-others → killed by SIGTERM")
    // The worker exits with 0 on SIGTERM: its process says so (what it printed while stopping is the
    // lossless-output work's to show).
    expect(result.stdout).toMatch(/worker\s+.*REVOKED\s+\S+\s+revoked: kill-others\s+\d+ exit 0/)
    expect(result.stdout).toMatch(/server\s+.*REVOKED\s+\S+\s+revoked: kill-others/)
    expect(result.stdout).toMatch(/worker\s+.*REVOKED\s+\S+\s+revoked: kill-others/)
    expect(result.stdout).not.toContain("revoked: user")
    // --success all (the default), as concurrently: the server, killed by SIGTERM, did not exit with 0.
    expect(result.code).toBe(143)
    expect(leftovers(mark)).toEqual([])
  })

  it("--success first|last|command-NAME|!command-NAME decide the exit code as concurrently does", async () => {
    const serverAndTests = (success: string, test: string) =>
      run(
        ["run", "--kill-others", "--success", success, "--names", "server,test", "--", "sleep 30", test],
        env(fresh())
      )
    const [first, firstFails, byName, byIndex, allButServer, last] = await Promise.all([
      serverAndTests("first", "sleep 0.3; exit 0"),
      serverAndTests("first", "sleep 0.3; exit 4"),
      serverAndTests("command-test", "sleep 0.3; exit 0"),
      serverAndTests("command-1", "sleep 0.3; exit 5"),
      serverAndTests("!command-server", "sleep 0.3; exit 0"),
      serverAndTests("last", "sleep 0.3; exit 0")
    ])
    expect(first.code).toBe(0)
    expect(firstFails.code).toBe(4)
    expect(byName.code).toBe(0)
    expect(byIndex.code).toBe(5)
    expect(allButServer.code).toBe(0)
    // The last to end is the server, stopped by SIGTERM: 128 + 15.
    expect(last.code).toBe(143)
    for (const result of [first, byName, allButServer, last]) {
      expect(result.stdout).toMatch(/server\s+sleep 30\s+REVOKED\s+\S+\s+revoked: kill-others/)
    }
    // Without kill-others: the first command to end decides, whatever the others do later.
    const order = await run(["run", "--success", "first", "--", "sleep 0.6; exit 6", "sleep 0.1"], env(fresh()))
    expect(order.code).toBe(0)
    const lastOrder = await run(
      ["run", "--success", "last", "--", "sleep 0.6; exit 6", "sleep 0.1; exit 2"],
      env(fresh())
    )
    expect(lastOrder.code).toBe(6)
  })

  it("--success command-X naming no command is a one-line error before anything runs", async () => {
    const mark = fresh()
    const result = await run(
      ["run", "--success", "command-tset", "--names", "server,test", "--", "touch x", "true"],
      env(mark)
    )
    expect(result.code).toBe(1)
    expect(result.stdout).toBe("")
    expect(result.stderr.trimEnd().split("\n")).toEqual([
      `tasks run: --success command-tset: no command is named or numbered "tset" (names: server, test) (see 'tasks run --help')`
    ])
  })

  it("--json gives a failure's error as one readable line, without a stack trace", async () => {
    const result = await run(["run", "--json", "--", "exit 3", "kill -9 $$"], env(fresh()))
    const summary = JSON.parse(result.stdout) as { tasks: Array<{ error?: string; exitCode: number }> }
    expect(summary.tasks.map((task) => [task.error, task.exitCode])).toEqual([
      ["CommandFailed: exit 3", 3],
      ["CommandFailed: killed by SIGKILL", 137]
    ])
    expect(result.stdout).not.toMatch(/\bat /)
  })

  it("--max 1 runs one command at a time, in order; --json prints the summary alone on stdout", async () => {
    const result = await run(["run", "--max", "1", "--json", "--", "sleep 0.3; echo a", "echo b"], env(fresh()))
    expect(result.code).toBe(0)
    const summary = JSON.parse(result.stdout) as {
      exitCode: number
      tasks: Array<{ state: string; startedAt: number; finishedAt: number; command: string; exitCode: number }>
    }
    expect(summary.exitCode).toBe(0)
    expect(summary.tasks.map((task) => [task.command, task.state, task.exitCode])).toEqual([
      ["sleep 0.3; echo a", "SUCCESS", 0],
      ["echo b", "SUCCESS", 0]
    ])
    expect(summary.tasks[1]!.startedAt).toBeGreaterThanOrEqual(summary.tasks[0]!.finishedAt)
    expect(result.stderr).toContain("[0] a")
  })

  for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130], ["SIGHUP", 129]] as const) {
    it(`${signal} revokes everything gracefully and leaves no orphan, even a setsid daemon`, async () => {
      const mark = fresh()
      const tasks = start(["run", "--", daemonizing, "sleep 1000"], env(mark))
      await tasks.waitFor("[0] started")
      // The daemon and its friends are alive before the signal: the check below can fail.
      expect(leftovers(mark).length).toBeGreaterThanOrEqual(4)
      tasks.kill(signal)
      const result = await tasks.done
      expect(result.code).toBe(code)
      expect(result.stdout).toContain(`--> ${signal}: stopping 2 command(s) gracefully`)
      expect(result.stdout).toMatch(/\[0\] revoked: shutdown/)
      expect(result.stdout).toMatch(/sleep 1000\s+REVOKED\s+\S+\s+revoked: shutdown/)
      expect(leftovers(mark, tasks.pid)).toEqual([])
    })
  }

  it("a second signal kills at once instead of waiting out the grace period", async () => {
    const mark = fresh()
    const tasks = start(["run", "--grace", "30s", "--", "trap '' TERM; echo ready; sleep 1000"], env(mark))
    await tasks.waitFor("[0] ready")
    tasks.kill("SIGTERM")
    await tasks.waitFor("--> SIGTERM")
    tasks.kill("SIGTERM")
    const result = await tasks.done
    expect(result.millis).toBeLessThan(15_000)
    expect(result.stdout).toContain("--> second signal: killing everything at once")
    expect(result.stdout).toMatch(/REVOKED\s+\S+\s+revoked: shutdown, kill -9\s+\d+ SIGKILL/)
    expect(result.code).toBe(143)
    expect(leftovers(mark)).toEqual([])
  })

  it("colours only on request: FORCE_COLOR turns them on, NO_COLOR wins over it", async () => {
    const args = ["run", "--", "echo hi"]
    const colored = await run(args, env(fresh(), { FORCE_COLOR: "1" }))
    expect(colored.stdout).toContain("\x1b[36m[0]\x1b[39m hi")
    const plainRun = await run(args, env(fresh(), { FORCE_COLOR: "1", NO_COLOR: "1" }))
    expect(plainRun.stdout).not.toContain("\x1b[")
    expect(plain(colored.stdout)).toContain("[0] hi\n")
  })
})
