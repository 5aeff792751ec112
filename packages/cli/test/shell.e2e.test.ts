/**
 * `tasks shell` in a real pseudo-terminal (tmux): typing commands, built-ins, Ctrl-C, Esc and
 * Ctrl-D as a person would, reading the screen after each step, and checking /proc afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { bin, ensureBuilt, env, eventually, leftovers, marksFor, node } from "./helpers/binary.js"
import * as Tmux from "./helpers/tmux.js"

beforeAll(ensureBuilt, 120_000)

const { cleanup, fresh } = marksFor()
afterAll(cleanup)

/** Runs `tasks shell <args>` in tmux; the pane prints `[exit N]` when it ends and stays open. */
const shell = <A>(mark: string, args: string, f: (tmux: Tmux.Tmux) => Promise<A>) =>
  Tmux.withTmux(
    `env TASKS_E2E_MARK=${mark} ${node} ${bin} shell ${args}; echo "[exit $?]"; sleep 600`,
    env(""),
    async (tmux) => {
      await tmux.waitFor((s) => bottom(s)[1] === "tasks>", "the prompt", 15_000)
      return f(tmux)
    }
  )

/** Types a line and presses Enter. */
const enter = (tmux: Tmux.Tmux, line: string) => {
  tmux.type(line)
  tmux.keys("Enter")
}

/** The screen's last line (the prompt) and the one above it (the status line). */
const bottom = (screen: string) => screen.split("\n").slice(-2)

// Skipped only on a developer machine without tmux (the shell needs a real terminal); .ci/run installs tmux,
// and under CI=true these tests run regardless, so a missing tmux fails CI instead of hiding them.
describe.skipIf(!Tmux.available() && process.env.CI !== "true")("tasks shell", { concurrent: true }, () => {
  it("runs lines as tasks with prefixed output; jobs, kill, kill -9, log, wait, help, exit", async () => {
    const mark = fresh()
    await shell(mark, "", async (tmux) => {
      enter(tmux, "echo hello-from-a-task; echo to-stderr >&2")
      await tmux.waitFor((s) => s.includes("[1] exited with code 0"), "task 1 to finish")
      let screen = tmux.screen()
      expect(screen).toContain("[1] started: echo hello-from-a-task")
      expect(screen).toContain("[1] hello-from-a-task")
      expect(screen).toContain("[1] to-stderr")
      expect(bottom(screen)[1]).toBe("tasks>")

      enter(tmux, "sleep 100")
      screen = await tmux.waitFor((s) => s.includes("[2] started: sleep 100"), "task 2 to start")
      await tmux.waitFor((s) => bottom(s)[0]!.includes("● 1 running"), "the status line to count it")

      enter(tmux, "jobs")
      screen = await tmux.waitFor((s) => /2\s+sleep 100\s+RUNNING/.test(s), "jobs to list task 2")
      expect(screen).toMatch(/1\s+echo hello-from-a-task.*SUCCESS\s+\S+\s+exit 0/)

      enter(tmux, "kill 2")
      await tmux.waitFor((s) => s.includes("[2] revoked: user → killed by SIGTERM"), "task 2 to be revoked")

      enter(tmux, "sh -c 'trap \"\" TERM; echo stubborn; sleep 1000'")
      await tmux.waitFor((s) => s.includes("[3] stubborn"), "task 3 to start")
      enter(tmux, "kill -9 3")
      await tmux.waitFor((s) => s.includes("[3] revoked: user, kill -9 → killed by SIGKILL"), "task 3 to be killed")

      enter(tmux, "printf 'one\\ntwo\\n'; exit 4")
      await tmux.waitFor((s) => s.includes("[4] exited with code 4"), "task 4 to fail")
      enter(tmux, "log 4")
      screen = await tmux.waitFor((s) => s.includes("--- output of [4]"), "the log of task 4")
      expect(screen.slice(screen.indexOf("--- output of [4]"))).toMatch(/\[4\] one\n\[4\] two/)

      enter(tmux, "sleep 1.5; echo waited")
      await tmux.waitFor((s) => s.includes("[5] started"), "task 5 to start")
      enter(tmux, "wait 5")
      await tmux.waitFor((s) => bottom(s)[1]!.includes("waiting for [5]"), "the shell to wait")
      screen = await tmux.waitFor((s) => s.includes("[5] exited with code 0"), "task 5 to end the wait")
      await tmux.waitFor((s) => bottom(s)[1] === "tasks>", "the prompt to come back")

      enter(tmux, "kill 99")
      await tmux.waitFor((s) => s.includes("kill: no task 99"), "an error for a task that does not exist")
      enter(tmux, "help")
      await tmux.waitFor((s) => s.includes("kill -9 N"), "the help text")

      enter(tmux, "exit")
      screen = await tmux.waitFor((s) => s.includes("[exit "), "the shell to exit")
      expect(screen).toContain("exit: nothing was running. bye")
      expect(screen).toContain("[exit 0]")
    })
    expect(leftovers(mark)).toEqual([])
  })

  it("Ctrl-C lists running tasks: a number revokes one, Esc closes, Ctrl-C twice revokes all, then Ctrl-C exits", async () => {
    const mark = fresh()
    await shell(mark, "", async (tmux) => {
      for (const n of [101, 102, 103]) enter(tmux, `sleep ${n}`)
      await tmux.waitFor((s) => bottom(s)[0]!.includes("● 3 running"), "three running tasks")

      tmux.keys("C-c")
      let screen = await tmux.waitFor((s) => s.includes("Running tasks:"), "the task list")
      expect(screen).toMatch(/1\) \[1\] sleep 101/)
      expect(screen).toMatch(/2\) \[2\] sleep 102/)
      expect(screen).toMatch(/3\) \[3\] sleep 103/)

      tmux.keys("2")
      screen = await tmux.waitFor((s) => s.includes("[2] revoked: user"), "task 2 to be revoked")
      expect(screen).not.toContain("Running tasks:")
      await tmux.waitFor((s) => bottom(s)[0]!.includes("● 2 running"), "two running tasks")

      tmux.keys("C-c")
      await tmux.waitFor((s) => /1\) \[1\] sleep 101.*\n.*2\) \[3\] sleep 103/.test(s), "the list of the other two")
      tmux.keys("Escape")
      screen = await tmux.waitFor((s) => !s.includes("Running tasks:"), "Esc to close the list")
      expect(bottom(screen)[0]).toContain("● 2 running")

      tmux.keys("C-c")
      await tmux.waitFor((s) => s.includes("Running tasks:"), "the list again")
      tmux.keys("C-c")
      screen = await tmux.waitFor(
        (s) => s.includes("[1] revoked: user") && s.includes("[3] revoked: user"),
        "the second Ctrl-C to revoke all"
      )
      expect(screen).toContain("revoking all 2 task(s) gracefully")
      await tmux.waitFor((s) => bottom(s)[0]!.includes("no tasks running"), "nothing running")

      tmux.keys("C-c")
      screen = await tmux.waitFor((s) => s.includes("[exit "), "Ctrl-C with nothing running to exit")
      expect(screen).toContain("Ctrl-C: nothing was running. bye")
      expect(screen).toContain("[exit 0]")
    })
    expect(leftovers(mark)).toEqual([])
  })

  it("Ctrl-D stops running tasks gracefully within the grace period, daemons included, and says what it stopped", async () => {
    const mark = fresh()
    await shell(mark, "--grace 1s", async (tmux) => {
      enter(tmux, "trap '' TERM; echo ready; sleep 1000")
      enter(tmux, "(setsid sleep 1000 &); echo daemonized; sleep 1000")
      await tmux.waitFor((s) => s.includes("[1] ready") && s.includes("[2] daemonized"), "both tasks to start")
      expect(leftovers(mark).length).toBeGreaterThanOrEqual(5)

      const started = Date.now()
      tmux.keys("C-d")
      const screen = await tmux.waitFor((s) => s.includes("[exit "), "Ctrl-D to exit", 10_000)
      expect(Date.now() - started).toBeLessThan(6_000)
      expect(screen).toContain("Ctrl-D: stopping 2 task(s) gracefully (SIGTERM, then SIGKILL after 1.0s)")
      expect(screen).toContain("[1] revoked: shutdown → killed by SIGKILL")
      expect(screen).toContain("[2] revoked: shutdown → killed by SIGTERM")
      expect(screen).toContain("stopped 2 task(s). bye")
      expect(screen).toContain("[exit 0]")
      expect(leftovers(mark)).toEqual([])
    })
  })

  it("closing the terminal (SIGHUP) stops every task gracefully", async () => {
    const mark = fresh()
    await shell(mark, "", async (tmux) => {
      enter(tmux, "(setsid sleep 1000 &); echo up; sleep 1000")
      await tmux.waitFor((s) => s.includes("[1] up"), "the task to start")
      expect(leftovers(mark).length).toBeGreaterThanOrEqual(3)
    })
    // withTmux killed the server: the pane's processes got SIGHUP.
    expect(await eventually(() => leftovers(mark).length === 0, 8_000), leftovers(mark).join("\n")).toBe(true)
  })
})
