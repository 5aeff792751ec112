/**
 * `tasks shell` in a real pseudo-terminal (tmux): typing commands, built-ins, Ctrl-C, Esc, pastes,
 * resizes and Ctrl-D as a person would, reading the screen after each step, and checking /proc afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { bin, ensureBuilt, env, eventually, leftovers, marksFor, node } from "./helpers/binary.js"
import * as Tmux from "./helpers/tmux.js"

beforeAll(ensureBuilt, 120_000)

const { cleanup, fresh } = marksFor()
const directories: Array<string> = []
/** A fresh temporary directory, removed after the file's tests. */
const temporary = (): string => {
  const directory = mkdtempSync(join(tmpdir(), "tasks-shell-e2e-"))
  directories.push(directory)
  return directory
}
afterAll(() => {
  cleanup()
  for (const directory of directories) rmSync(directory, { recursive: true, force: true })
})

/** Where a shell runs: its state directory (history, journal) and its working directory. */
interface Place {
  readonly state: string
  readonly cwd: string
}

/**
 * Runs `tasks shell <args>` in tmux, in `place` (fresh directories by default, so no test reads or writes the
 * user's history); the pane prints `[exit N]` when it ends and stays open.
 */
const shell = <A>(
  mark: string,
  args: string,
  f: (tmux: Tmux.Tmux) => Promise<A>,
  place: Place = { state: temporary(), cwd: temporary() }
) =>
  Tmux.withTmux(
    `cd '${place.cwd}' && env TASKS_E2E_MARK=${mark} XDG_STATE_HOME='${place.state}' ${node} ${bin} shell ${args}; echo "[exit $?]"; sleep 600`,
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

/** The lines of the screen below the last line that contains `text` (what happened after it). */
const after = (screen: string, text: string) => screen.slice(screen.lastIndexOf(text) + text.length)

/** The lines of a screen that are (a part of) a status line. */
const statusLines = (s: string) => s.split("\n").filter((line) => line.startsWith("●") || line.includes("Ctrl-C: stop"))

const sleepFor = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

// Each test is a whole session typed key by key: on a busy machine it takes longer than the default 30 s.
// Skipped only on a developer machine without tmux (the shell needs a real terminal); .ci/run installs tmux,
// and under CI=true these tests run regardless, so a missing tmux fails CI instead of hiding them.
describe.skipIf(!Tmux.available() && process.env.CI !== "true")(
  "tasks shell",
  { concurrent: true, timeout: 90_000 },
  () => {
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
        await tmux.waitFor(
          (s) => /^● \[2\] sleep 100 \d+s · 1 finished/.test(bottom(s)[0]!),
          "the status line to list it"
        )

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

    it("Ctrl-C on an empty line lists running tasks by id: an id revokes it, Esc closes, Ctrl-C twice revokes all; with nothing running it does nothing", async () => {
      const mark = fresh()
      await shell(mark, "", async (tmux) => {
        for (const n of [101, 102, 103]) enter(tmux, `sleep ${n}`)
        await tmux.waitFor((s) => bottom(s)[0]!.includes("[3] sleep 103"), "three running tasks")

        tmux.keys("C-c")
        let screen = await tmux.waitFor((s) => s.includes("Revoke which task?"), "the task list")
        expect(screen).toMatch(/ {2}\[1\] sleep 101 +\d+s\n {2}\[2\] sleep 102 +\d+s\n {2}\[3\] sleep 103 +\d+s/)

        // The choice is the id as shown: [2], not the second line of the list.
        tmux.keys("2")
        screen = await tmux.waitFor((s) => s.includes("[2] revoked: user"), "task 2 to be revoked")
        expect(screen).not.toContain("Revoke which task?")
        await tmux.waitFor((s) => !bottom(s)[0]!.includes("[2] sleep"), "two running tasks")

        tmux.keys("C-c")
        screen = await tmux.waitFor(
          (s) => /\[1\] sleep 101.*\n {2}\[3\] sleep 103/.test(s),
          "the list of the other two"
        )
        // 2 is no task here: it closes the list and goes to the prompt, as any key that is not a choice.
        tmux.keys("2")
        screen = await tmux.waitFor((s) => !s.includes("Revoke which task?"), "2 to close the list")
        expect(bottom(screen)[1]).toBe("tasks> 2")
        tmux.keys("BSpace", "C-c")
        await tmux.waitFor((s) => s.includes("Revoke which task?"), "the list again")
        tmux.keys("Escape")
        screen = await tmux.waitFor((s) => !s.includes("Revoke which task?"), "Esc to close the list")
        expect(bottom(screen)[0]).toMatch(/\[1\] sleep 101.*\[3\] sleep 103/)

        tmux.keys("C-c")
        await tmux.waitFor((s) => s.includes("Revoke which task?"), "the list again")
        tmux.keys("C-c")
        screen = await tmux.waitFor(
          (s) => s.includes("[1] revoked: user") && s.includes("[3] revoked: user"),
          "the second Ctrl-C to revoke all"
        )
        expect(screen).toContain("revoking all 2 task(s) gracefully")
        await tmux.waitFor((s) => bottom(s)[0]!.includes("no tasks running"), "nothing running")

        // Nothing running, empty line: Ctrl-C does nothing, as in bash (it used to leave the shell).
        const before = tmux.screen()
        tmux.keys("C-c")
        await sleepFor(500)
        expect(tmux.screen()).toBe(before)
        tmux.keys("C-d")
        screen = await tmux.waitFor((s) => s.includes("[exit "), "Ctrl-D to exit")
        expect(screen).toContain("Ctrl-D: nothing was running. bye")
        expect(screen).toContain("[exit 0]")
      })
      expect(leftovers(mark)).toEqual([])
    })

    it("Esc followed by fast typing revokes nothing: the keys go to the prompt, read apart or glued to the Esc", async () => {
      const mark = fresh()
      await shell(mark, "", async (tmux) => {
        for (const n of [201, 202, 203]) enter(tmux, `sleep ${n}`)
        await tmux.waitFor((s) => bottom(s)[0]!.includes("[3] sleep 203"), "three running tasks")

        // Esc, then `echo 2` typed right after it (the old keypress parser read this as Alt-e and revoked [2]).
        tmux.keys("C-c")
        await tmux.waitFor((s) => s.includes("Revoke which task?"), "the task list")
        tmux.keys("Escape")
        tmux.type("echo 2")
        let screen = await tmux.waitFor((s) => bottom(s)[1] === "tasks> echo 2", "the typing to reach the prompt")
        expect(screen).not.toContain("Revoke which task?")

        // The same bytes in one write, as a terminal sends Alt-e: still an Esc and then the keys.
        tmux.keys("C-u", "C-c")
        await tmux.waitFor((s) => s.includes("Revoke which task?"), "the task list again")
        tmux.bytes(0x1b, ...Buffer.from("echo 3"))
        screen = await tmux.waitFor((s) => bottom(s)[1] === "tasks> echo 3", "the glued typing to reach the prompt")
        expect(screen).not.toContain("Revoke which task?")

        tmux.keys("Enter")
        screen = await tmux.waitFor((s) => s.includes("[4] 3"), "the typed line to run as a command")
        expect(screen).not.toMatch(/revok/)
        expect(bottom(screen)[0]).toMatch(/\[1\] sleep 201.*\[2\] sleep 202.*\[3\] sleep 203/)
        tmux.keys("C-d")
        await tmux.waitFor((s) => s.includes("[exit 0]"), "Ctrl-D to exit")
      })
      expect(leftovers(mark)).toEqual([])
    })

    it("a paste never revokes anything; a pasted script of several lines runs as one task on Enter", async () => {
      const mark = fresh()
      await shell(mark, "", async (tmux) => {
        enter(tmux, "sleep 301")
        enter(tmux, "sleep 302")
        await tmux.waitFor((s) => bottom(s)[0]!.includes("[2] sleep 302"), "two running tasks")
        tmux.keys("C-c")
        await tmux.waitFor((s) => s.includes("Revoke which task?"), "the task list")
        tmux.paste("2")
        let screen = await tmux.waitFor((s) => bottom(s)[1] === "tasks> 2", "the paste to land in the line")
        expect(screen).not.toContain("Revoke which task?")
        expect(screen).not.toMatch(/revok/)

        tmux.keys("C-u")
        tmux.paste("echo first\necho second\n")
        await tmux.waitFor((s) => bottom(s)[1] === "tasks> echo first↵echo second", "the pasted lines, not yet run")
        tmux.keys("Enter")
        screen = await tmux.waitFor((s) => s.includes("[3] exited with code 0"), "the pasted script to run")
        expect(screen).toMatch(/\[3\] first\n\[3\] second/)
        expect(bottom(screen)[0]).toMatch(/\[1\] sleep 301.*\[2\] sleep 302/)
        tmux.keys("C-d")
        await tmux.waitFor((s) => s.includes("[exit 0]"), "Ctrl-D to exit")
      })
      expect(leftovers(mark)).toEqual([])
    })

    it("Ctrl-C on a typed line clears it, as in bash, and revokes nothing", async () => {
      const mark = fresh()
      await shell(mark, "", async (tmux) => {
        enter(tmux, "sleep 400")
        await tmux.waitFor((s) => bottom(s)[0]!.includes("[1] sleep 400"), "a running task")
        tmux.type("rm -rf build")
        await tmux.waitFor((s) => bottom(s)[1] === "tasks> rm -rf build", "the typed line")
        tmux.keys("C-c")
        const screen = await tmux.waitFor((s) => bottom(s)[1] === "tasks>", "the line to be cleared")
        expect(screen).toContain("tasks> rm -rf build^C")
        expect(screen).not.toContain("Revoke which task?")
        expect(screen).not.toContain("[2] started")
        expect(bottom(screen)[0]).toContain("[1] sleep 400")
        tmux.keys("C-d")
        await tmux.waitFor((s) => s.includes("[exit 0]"), "Ctrl-D to exit")
      })
      expect(leftovers(mark)).toEqual([])
    })

    it("cd and export change the directory and environment of later commands; unset and cd - undo them", async () => {
      const mark = fresh()
      const place = { state: temporary(), cwd: temporary() }
      mkdirSync(join(place.cwd, "sub dir"))
      await shell(mark, "", async (tmux) => {
        enter(tmux, "cd 'sub dir'")
        await tmux.waitFor((s) => s.includes(join(place.cwd, "sub dir")), "cd to print the new directory")
        enter(tmux, "export GREETING=\"hello $USER-less world\" LEVEL=3")
        enter(tmux, "pwd; echo \"$GREETING/$LEVEL\"")
        let screen = await tmux.waitFor((s) => s.includes("[1] exited with code 0"), "the command to run")
        expect(screen).toContain(`[1] ${join(place.cwd, "sub dir")}`)
        expect(screen).toContain(`[1] hello ${process.env.USER ?? ""}-less world/3`)

        enter(tmux, "unset LEVEL")
        enter(tmux, "cd -")
        enter(tmux, "export")
        await tmux.waitFor((s) => s.includes("unset LEVEL\n"), "export to list this shell's changes")
        enter(tmux, "pwd; echo \"[$LEVEL]\"")
        screen = await tmux.waitFor((s) => s.includes("[2] exited with code 0"), "the second command to run")
        expect(screen).toContain(`[2] ${place.cwd}\n`)
        expect(screen).toContain("[2] []")

        enter(tmux, "cd nowhere")
        await tmux.waitFor((s) => s.includes("cd: no such directory: nowhere"), "cd to refuse a missing directory")
        // With more shell syntax, cd is a command for sh: it moves that task only.
        enter(tmux, "cd 'sub dir' && pwd")
        screen = await tmux.waitFor((s) => s.includes("[3] exited with code 0"), "the compound command to run")
        expect(screen).toContain(`[3] ${join(place.cwd, "sub dir")}`)
        enter(tmux, "pwd")
        screen = await tmux.waitFor((s) => s.includes("[4] exited with code 0"), "pwd to run")
        expect(screen).toContain(`[4] ${place.cwd}\n`)
        tmux.keys("C-d")
        await tmux.waitFor((s) => s.includes("[exit 0]"), "Ctrl-D to exit")
      }, place)
    })

    it("fg N follows one task's output alone; Ctrl-C goes back to the prompt and the task keeps running", async () => {
      const mark = fresh()
      await shell(mark, "", async (tmux) => {
        enter(tmux, "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.2; done")
        enter(tmux, "while :; do echo noise; sleep 0.2; done")
        await tmux.waitFor((s) => s.includes("[1] tick 3") && s.includes("[2] noise"), "both tasks to print")
        enter(tmux, "fg 1")
        await tmux.waitFor((s) => bottom(s)[1]!.startsWith("following [1]"), "fg to follow task 1")
        const ticks = (s: string) => after(s, "--- following [1]").match(/\[1\] tick \d+/g)?.length ?? 0
        const shown = ticks(tmux.history())
        await tmux.waitFor((s) => ticks(s) >= shown + 5, "task 1's new lines while following")
        const followed = after(tmux.history(), "--- following [1]")
        expect(followed).not.toContain("[2] noise")

        tmux.keys("C-c")
        const screen = await tmux.waitFor((s) => s.includes("not shown while following"), "Ctrl-C to stop following")
        expect(after(screen, "stopped following [1]; it keeps running")).toMatch(
          /^ \(fg 1 follows it again\)\nnot shown while following: \d+ line\(s\) of \[2\] /
        )
        await tmux.waitFor((s) => bottom(s)[1] === "tasks>", "the prompt")
        expect(bottom(tmux.screen())[0]).toMatch(/\[1\] i=0.*\[2\] while/)
        expect(tmux.screen()).not.toMatch(/\[1\] revok/)
        await tmux.waitFor((s) => /\[2\] noise\n(.*\n)*\[1\] tick/.test(after(s, "stopped following")), "output again")

        // fg with no id follows the newest task; it ends when the task does.
        enter(tmux, "sleep 0.5; echo done-here")
        enter(tmux, "fg")
        await tmux.waitFor((s) => s.includes("[3] done-here") && s.includes("[3] exited with code 0"), "fg to end")
        await tmux.waitFor((s) => bottom(s)[1] === "tasks>", "the prompt after the followed task ended")
        tmux.keys("C-d")
        await tmux.waitFor((s) => s.includes("[exit 0]"), "Ctrl-D to exit")
      })
      expect(leftovers(mark)).toEqual([])
    })

    it("wait with no argument waits for every running task", async () => {
      const mark = fresh()
      // Each task ends when the test creates its file: no race with the typing.
      const gate = temporary()
      await shell(mark, "", async (tmux) => {
        enter(tmux, `until [ -e '${gate}/a' ]; do sleep 0.05; done; echo a-done`)
        enter(tmux, `until [ -e '${gate}/b' ]; do sleep 0.05; done; echo b-done`)
        await tmux.waitFor((s) => s.includes("[2] started"), "two tasks")
        enter(tmux, "wait")
        await tmux.waitFor((s) => bottom(s)[1]!.includes("waiting for 2 tasks"), "the shell to wait for both")
        writeFileSync(join(gate, "a"), "")
        await tmux.waitFor((s) => s.includes("[1] exited with code 0"), "the first task")
        await sleepFor(300)
        expect(bottom(tmux.screen())[1]).toContain("waiting for 2 tasks")
        writeFileSync(join(gate, "b"), "")
        const screen = await tmux.waitFor((s) => bottom(s)[1] === "tasks>", "the wait to end with the last task")
        expect(screen).toContain("[2] exited with code 0")
        tmux.keys("C-d")
        await tmux.waitFor((s) => s.includes("[exit 0]"), "Ctrl-D to exit")
      })
      expect(leftovers(mark)).toEqual([])
    })

    it("history persists across restarts: Up and Ctrl-R find the last session's commands; Tab completes", async () => {
      const place = { state: temporary(), cwd: temporary() }
      mkdirSync(join(place.cwd, "reports"))
      await shell(fresh(), "", async (tmux) => {
        enter(tmux, "echo first-session")
        enter(tmux, "echo unrelated")
        enter(tmux, " echo secret-not-kept")
        await tmux.waitFor((s) => s.includes("[3] exited with code 0"), "three commands")
        tmux.keys("C-d")
        await tmux.waitFor((s) => s.includes("[exit 0]"), "Ctrl-D to exit")
      }, place)
      expect(readFileSync(join(place.state, "effect-tasks", "shell-history"), "utf8")).toBe(
        "echo first-session\necho unrelated\n"
      )
      await shell(fresh(), "", async (tmux) => {
        tmux.keys("Up")
        await tmux.waitFor((s) => bottom(s)[1] === "tasks> echo unrelated", "Up to recall the last command")
        tmux.keys("Up")
        await tmux.waitFor((s) => bottom(s)[1] === "tasks> echo first-session", "Up again for the one before")
        tmux.keys("C-u", "C-r")
        tmux.type("first")
        await tmux.waitFor(
          (s) => bottom(s)[1] === "(reverse-i-search)'first': echo first-session",
          "Ctrl-R to find the command"
        )
        tmux.keys("Enter")
        await tmux.waitFor((s) => s.includes("[1] first-session"), "Enter to run the match")

        tmux.type("ls rep")
        tmux.keys("Tab")
        await tmux.waitFor((s) => bottom(s)[1] === "tasks> ls reports/", "Tab to complete the directory")
        tmux.keys("C-u")
        tmux.type("unse")
        tmux.keys("Tab")
        await tmux.waitFor((s) => bottom(s)[1] === "tasks> unset", "Tab to complete a built-in")
        tmux.keys("C-u", "C-d")
        await tmux.waitFor((s) => s.includes("[exit 0]"), "Ctrl-D to exit")
      }, place)
    })

    it("redraws on resize: no stale fragment of the status line, narrower or wider; clear and Ctrl-L clear the screen", async () => {
      const mark = fresh()
      await shell(mark, "", async (tmux) => {
        enter(tmux, "sleep 501 # a task with a rather long name, so that the status line is wide")
        enter(tmux, "sleep 502 # and another one")
        await tmux.waitFor((s) => bottom(s)[0]!.includes("[2] sleep 502"), "two tasks in the status line")
        tmux.type("echo typed before the resize")
        await tmux.waitFor((s) => bottom(s)[1] === "tasks> echo typed before the resize", "the typed line")
        for (const columns of [60, 35, 100, 45]) {
          tmux.resize(columns)
          await sleepFor(400)
          const screen = await tmux.waitFor(
            (s) => bottom(s)[1]!.startsWith("tasks> "),
            `the redraw at ${columns} columns`
          )
          expect(statusLines(screen), screen).toHaveLength(1)
          expect(bottom(screen)[0]!.startsWith("●"), screen).toBe(true)
        }
        tmux.keys("C-u")
        enter(tmux, "clear")
        // The first capture without the old text may catch the redraw half done: wait for the screen to settle on
        // the status line and the prompt alone (waitFor fails if it never does).
        let screen = await tmux.waitFor(
          (s) => !s.includes("sleep 501 # a task") && s.split("\n").length === 2,
          "clear to leave only the status line and the prompt"
        )
        expect(bottom(screen)[1], screen).toBe("tasks>")
        enter(tmux, "echo more")
        await tmux.waitFor((s) => s.includes("[3] more"), "more output")
        tmux.keys("C-l")
        screen = await tmux.waitFor((s) => !s.includes("[3] more"), "Ctrl-L to clear the screen")
        expect(bottom(screen)[1]).toBe("tasks>")
        tmux.keys("C-d")
        await tmux.waitFor((s) => s.includes("[exit 0]"), "Ctrl-D to exit")
      })
      expect(leftovers(mark)).toEqual([])
    })

    it("exit with running tasks shows the shutdown live, with the grace countdown; a second Ctrl-C kills at once", async () => {
      const mark = fresh()
      await shell(mark, "--grace 30s", async (tmux) => {
        enter(tmux, "trap '' TERM; echo stubborn; sleep 1000")
        enter(tmux, "sleep 1000")
        await tmux.waitFor((s) => s.includes("[1] stubborn") && bottom(s)[0]!.includes("[2] sleep 1000"), "two tasks")
        enter(tmux, "exit")
        let screen = await tmux.waitFor((s) => s.includes("[2] revoked: shutdown"), "the obedient task to stop")
        expect(screen).toContain("exit: stopping 2 task(s) gracefully (SIGTERM, then SIGKILL after 30.0s)")
        screen = await tmux.waitFor((s) => /SIGKILL in 2\d\.\ds/.test(s), "the countdown")
        expect(screen).toMatch(
          /stopping 1 task\(s\) · Ctrl-C: kill them now \(SIGKILL\)\n {2}\[1\] trap '' TERM; echo stubborn; sleep 1000 +SIGTERM sent \S+ ago · SIGKILL in 2\d\.\ds$/
        )
        const first = Number(/SIGKILL in (\d+\.\d)s/.exec(screen)![1])
        const later = await tmux.waitFor((s) => {
          const left = /SIGKILL in (\d+\.\d)s/.exec(s)
          return left !== null && Number(left[1]) <= first - 1
        }, "the countdown to go down")
        expect(later).not.toContain("[exit ")

        const forced = Date.now()
        tmux.keys("C-c")
        screen = await tmux.waitFor((s) => s.includes("[exit "), "the second Ctrl-C to kill at once")
        expect(Date.now() - forced).toBeLessThan(10_000)
        expect(screen).toContain("Ctrl-C: killing 1 task(s) at once (SIGKILL)")
        expect(screen).toContain("[1] revoked: shutdown, kill -9 → killed by SIGKILL")
        expect(screen).toContain("stopped 2 task(s). bye")
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

    it("a flood shows its first lines, how many were not shown and how to see them, and its last lines; log N has the rest", async () => {
      await shell(fresh(), "", async (tmux) => {
        enter(tmux, "seq 1 20000; echo SUMMARY")
        await tmux.waitFor((s) => s.includes("[1] exited with code 0"), "the flood to end", 30_000)
        const history = tmux.history()
        const shown = history.split("\n").flatMap((line) => {
          const match = /^\[1\] (\d+|SUMMARY)$/.exec(line)
          return match === null ? [] : [match[1]!]
        })
        const notShown = [...history.matchAll(/\[1\] … (\d+) line\(s\) not shown \(log 1 shows the latest/g)]
          .map((match) => Number(match[1]))
        expect(notShown.length).toBeGreaterThanOrEqual(1)
        // Every line is either shown, in order, or counted: nothing is lost without saying so.
        expect(shown.length + notShown.reduce((a, b) => a + b, 0)).toBe(20_001)
        expect(shown.slice(0, 36)).toEqual(Array.from({ length: 36 }, (_, i) => String(i + 1)))
        expect(shown.slice(-10)).toEqual([...Array.from({ length: 9 }, (_, i) => String(19_992 + i)), "SUMMARY"])
        const numbers = shown.slice(0, -1).map(Number)
        expect(numbers).toEqual(numbers.toSorted((a, b) => a - b))
        expect(history).toContain("(log 1 shows the latest, fg 1 everything from now on)")

        enter(tmux, "log 1")
        // Its 200 lines scroll the header off the screen: read the scrollback.
        await tmux.waitFor(() => tmux.history().includes("--- output of [1]"), "the log of task 1")
        const log = after(tmux.history(), "--- output of [1]")
        // The last 200 lines of the tail: 19802 to 20000, and SUMMARY.
        expect(log).toMatch(/^ seq 1 20000; echo SUMMARY \(older output dropped\) ---\n\[1\] 19802\n/)
        expect(log).toMatch(/\[1\] 19999\n\[1\] 20000\n\[1\] SUMMARY\n/)
      })
    })

    it("stdin is at end-of-file: cat, read x and python3 input() end at once; the shell says so once", async () => {
      await shell(fresh(), "", async (tmux) => {
        enter(tmux, "cat; echo cat-done")
        let screen = await tmux.waitFor((s) => s.includes("[1] exited with code 0"), "cat to end", 15_000)
        expect(screen).toContain(
          "[1] reads stdin: tasks take no input, so it gets end-of-file (as with < /dev/null; said once)"
        )
        expect(screen).toContain("[1] cat-done")
        enter(tmux, "read x; echo read-said-$?")
        screen = await tmux.waitFor((s) => s.includes("[2] read-said-1"), "read x to end", 15_000)
        enter(tmux, "python3 -c 'input()'")
        screen = await tmux.waitFor((s) => s.includes("[3] exited with code 1"), "input() to end", 15_000)
        expect(screen).toContain("EOFError")
        expect(tmux.history().match(/reads stdin/g)).toHaveLength(1)
      })
    })

    it("a prompt without a newline shows after a moment, and becomes a line when it ends", async () => {
      await shell(fresh(), "", async (tmux) => {
        enter(tmux, "printf 'name? '; sleep 2; echo; echo answered")
        // While the task waits, its unfinished line shows above the status line.
        let screen = await tmux.waitFor((s) => s.includes("[1] name?"), "the unfinished line", 10_000)
        expect(screen).not.toContain("[1] answered")
        screen = await tmux.waitFor((s) => s.includes("[1] exited with code 0"), "the task to end", 10_000)
        expect(after(screen, "[1] started")).toMatch(/\[1\] name\?\s*\n\[1\] answered\n/)
        expect(tmux.history().match(/\[1\] name\?/g)).toHaveLength(1)
      })
    })

    it("a line redrawn with \\r updates in place on the terminal and leaves only its last state", async () => {
      await shell(fresh(), "", async (tmux) => {
        enter(tmux, "for i in 1 2 3 4 5 6; do printf '\\rprogress %d/6' $i; sleep 0.5; done; echo")
        const seen = new Set<string>()
        await tmux.waitFor(
          (s) => {
            for (const match of s.matchAll(/\[1\] progress (\d)\/6/g)) seen.add(match[1]!)
            return s.includes("[1] exited with code 0")
          },
          "the progress to finish",
          15_000
        )
        // It was on screen while it ran, more than one state of it, each in the same place.
        expect(seen.size).toBeGreaterThanOrEqual(3)
        const history = tmux.history()
        expect(history.match(/\[1\] progress \d\/6/g)).toEqual(["[1] progress 6/6"])
      })
    })

    it("says what cleanup stopped when a task ends: a background job left running", async () => {
      const mark = fresh()
      await shell(mark, "", async (tmux) => {
        enter(tmux, "sleep 500 & echo bg")
        const screen = await tmux.waitFor((s) => s.includes("stopped 1 leftover"), "the cleanup line", 10_000)
        expect(after(screen, "[1] bg")).toMatch(/\[1\] exited with code 0 .*\n\[1\] stopped 1 leftover: sleep 500/)
        enter(tmux, "exit")
        await tmux.waitFor((s) => s.includes("[exit "), "the shell to exit")
      })
      expect(leftovers(mark)).toEqual([])
    })
  }
)
