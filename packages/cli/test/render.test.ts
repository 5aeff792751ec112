import { ProcessInfo, TaskState, TrackedTask } from "@effect-tasks/core"
import { TaskCommand } from "@effect-tasks/node"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Color from "../src/render/color.js"
import * as Table from "../src/render/table.js"
import * as Tasks from "../src/render/tasks.js"

const off = Color.palette(false)
const on = Color.palette(true)

/** A task record as the manager would hold it. */
const task = (
  id: number,
  state: TaskState.TaskState,
  extra: Partial<Omit<TrackedTask.TrackedTask, "id" | "state">> = {}
): TrackedTask.TrackedTask =>
  ({
    id: id as TrackedTask.TrackedTask["id"],
    name: `task-${id}`,
    mode: "default",
    state,
    submittedAt: 1000,
    processes: [],
    [Symbol.for("@effect-tasks/core/TrackedTask/Completion")]: Effect.die("unused"),
    ...extra
  }) as TrackedTask.TrackedTask

const proc = (pid: number, end: Partial<ProcessInfo.ProcessInfo> = {}): ProcessInfo.ProcessInfo => ({
  pid,
  command: "sh",
  args: ["-c", "x"],
  startedAt: 1000,
  ...end
})

const failed = (error: unknown) => Exit.failCause(Cause.fail(error))

describe("color", () => {
  it("is on for a terminal, off for pipes, NO_COLOR wins over FORCE_COLOR, TERM=dumb is off", () => {
    expect(Color.shouldColor({}, true)).toBe(true)
    expect(Color.shouldColor({}, false)).toBe(false)
    expect(Color.shouldColor({ FORCE_COLOR: "1" }, false)).toBe(true)
    expect(Color.shouldColor({ FORCE_COLOR: "0" }, false)).toBe(false)
    expect(Color.shouldColor({ NO_COLOR: "1" }, true)).toBe(false)
    expect(Color.shouldColor({ NO_COLOR: "1", FORCE_COLOR: "1" }, true)).toBe(false)
    expect(Color.shouldColor({ NO_COLOR: "" }, true)).toBe(true)
    expect(Color.shouldColor({ TERM: "dumb" }, true)).toBe(false)
  })

  it("a disabled palette returns text unchanged; an enabled one wraps it in SGR codes", () => {
    expect(off.red("x")).toBe("x")
    expect(on.red("x")).toBe("\x1b[31mx\x1b[39m")
    expect(Color.strip(on.bold(on.red("x")))).toBe("x")
    expect(Color.width(on.green("héllo"))).toBe(5)
  })

  it("truncates by visible width, keeping escapes so styles still close", () => {
    expect(Color.truncate("abcdef", 4)).toBe("abc…")
    expect(Color.truncate("abc", 4)).toBe("abc")
    const cut = Color.truncate(on.red("abcdef"), 4)
    expect(Color.strip(cut)).toBe("abc…")
    expect(cut).toContain("\x1b[39m")
  })
})

describe("sanitize", () => {
  it("keeps what a terminal would show of a line, with its colours, and drops cursor movement", () => {
    expect(Color.sanitize("10%\r50%\r100% done")).toBe("100% done")
    expect(Color.sanitize("\x1b[32mok\x1b[0m")).toBe("\x1b[32mok\x1b[0m")
    expect(Color.sanitize("a\x1b[2Jb\x1b[1Ac\x1b[?25ld")).toBe("abcd")
    expect(Color.sanitize("bell\x07 and\ttab")).toBe("bell and\ttab")
    expect(Color.sanitize("\x1bcreset")).toBe("reset")
  })
})

describe("table", () => {
  it("aligns columns (right-aligned numbers), ignores escapes in widths and trims line ends", () => {
    const lines = Table.render(
      [{ header: "ID", align: "right" }, { header: "NAME" }, { header: "NOTE" }],
      [["1", on.green("quick"), ""], ["12", "b", "x"]]
    )
    expect(lines.map(Color.strip)).toEqual([
      "ID  NAME   NOTE",
      " 1  quick",
      "12  b      x"
    ])
  })

  it("shrinks the widest shrinkable column to fit maxWidth", () => {
    const lines = Table.render(
      [{ header: "ID" }, { header: "COMMAND", shrink: true }],
      [["1", "a".repeat(50)]],
      { maxWidth: 30 }
    )
    expect(lines.every((line) => Color.width(line) <= 30)).toBe(true)
    expect(lines[1]).toContain("…")
  })
})

describe("task rendering", () => {
  it("says how each kind of task ended", () => {
    expect(Tasks.result(task(1, "QUEUED"))).toBe("waiting for a slot")
    expect(Tasks.result(task(1, "RUNNING"))).toBe("")
    expect(Tasks.result(task(1, "RUNNING", { revocation: { reason: "user", graceful: true } }))).toBe(
      "stopping: user"
    )
    expect(Tasks.result(task(1, "SUCCESS", { exit: Exit.void, processes: [proc(5, { exitCode: 0 })] }))).toBe("exit 0")
    expect(Tasks.result(task(1, "SUCCESS", { exit: Exit.void }))).toBe("ok")
    expect(
      Tasks.result(
        task(1, "FAILURE", { exit: failed(new TaskCommand.CommandFailed({ command: "sh", exitCode: 3, stderr: "" })) })
      )
    ).toBe("exit 3")
    expect(
      Tasks.result(
        task(1, "FAILURE", {
          exit: failed(new TaskCommand.CommandFailed({ command: "sh", signal: "SIGKILL", stderr: "" }))
        })
      )
    ).toBe(
      "killed by SIGKILL"
    )
    expect(Tasks.result(task(1, "FAILURE", { exit: failed(new Error("boom")) }))).toContain("boom")
    expect(Tasks.result(task(1, "REVOKED", { revocation: { reason: "timeout", graceful: true }, startedAt: 1 })))
      .toBe("revoked: timeout")
    expect(Tasks.result(task(1, "REVOKED", { revocation: { reason: "user", graceful: false }, startedAt: 1 })))
      .toBe("revoked: user, kill -9")
    expect(Tasks.result(task(1, "REVOKED", { revocation: { reason: "user", graceful: true } }))).toBe(
      "revoked: user, never started"
    )
  })

  it("gives the exit code a task stands for: 0, the command's, 128 + signal, or none", () => {
    expect(Tasks.exitCode(task(1, "SUCCESS", { exit: Exit.void }))).toBe(0)
    expect(
      Tasks.exitCode(
        task(1, "FAILURE", { exit: failed(new TaskCommand.CommandFailed({ command: "sh", exitCode: 7, stderr: "" })) })
      )
    ).toBe(7)
    expect(
      Tasks.exitCode(
        task(1, "FAILURE", {
          exit: failed(new TaskCommand.CommandFailed({ command: "sh", signal: "SIGKILL", stderr: "" }))
        })
      )
    ).toBe(137)
    expect(Tasks.exitCode(task(1, "FAILURE", { exit: failed(new Error("x")) }))).toBe(1)
    expect(Tasks.exitCode(task(1, "REVOKED"))).toBeUndefined()
    expect(Tasks.exitCode(task(1, "RUNNING"))).toBeUndefined()
  })

  it("names the signal that ended a revoked task's process", () => {
    const revoked = task(1, "REVOKED", {
      startedAt: 1000,
      revocation: { reason: "shutdown", graceful: true },
      processes: [proc(42, { endedAt: 2000, signal: "SIGKILL" })]
    })
    expect(Tasks.finishedText(revoked)).toBe("revoked: shutdown → killed by SIGKILL")
    expect(
      Tasks.finishedText(
        task(1, "FAILURE", { exit: failed(new TaskCommand.CommandFailed({ command: "sh", exitCode: 2, stderr: "" })) })
      )
    ).toBe(
      "exited with code 2"
    )
  })

  it("renders a table with state, duration, result and processes", () => {
    const lines = Tasks.table(
      [
        task(1, "SUCCESS", {
          name: "quick",
          startedAt: 1000,
          finishedAt: 1085,
          exit: Exit.void,
          processes: [proc(4242, { endedAt: 1085, exitCode: 0 })]
        }),
        task(2, "RUNNING", { name: "long", startedAt: 1000, processes: [proc(4243), proc(4244)] }),
        task(3, "QUEUED", { name: "later", mode: "batch" })
      ],
      Tasks.defaultFields,
      { palette: off, now: 13_345 }
    )
    expect(lines).toEqual([
      "ID  NAME   MODE     STATE    DURATION  EXIT / REASON       PROCESSES",
      " 1  quick  default  SUCCESS      85ms  exit 0              4242 exit 0",
      " 2  long   default  RUNNING     12.3s                      4243 running, 4244 running",
      " 3  later  batch    QUEUED          -  waiting for a slot  -"
    ])
  })
})
