import { TaskEvent } from "@effect-tasks/core"
import { describe, expect, it } from "@effect/vitest"
import * as Color from "../src/render/color.js"
import * as EventLog from "../src/render/events.js"

const id = (n: number) => n as TaskEvent.TaskEvent extends { id: infer I } ? I : never

describe("event log", () => {
  it("turns events into lines (stamps kept in order), cutting output into whole lines per task and stream", () => {
    const log = EventLog.make({ palette: Color.palette(false), start: 1000, nameWidth: 6 })
    const lines = (event: TaskEvent.TaskEvent, now = 1000) => log.lines(event, now)
    expect(log.note("revoke it", 1000)).toBe("    0ms  >>> revoke it")
    expect(lines({ _tag: "TaskSubmitted", id: id(1), name: "quick", mode: "default", state: "RUNNING", at: 1000 }))
      .toEqual([])
    expect(lines({ _tag: "TaskSubmitted", id: id(2), name: "later", mode: "batch", state: "QUEUED", at: 1000 }))
      .toEqual(["    0ms  #2  later  QUEUED (mode \"batch\" is at its concurrency limit)"])
    expect(lines({ _tag: "TaskStarted", id: id(1), at: 1001 })).toEqual([])
    expect(lines({ _tag: "ProcessStarted", id: id(1), pid: 42, command: "sh", args: [], at: 1010 })).toEqual([
      "   10ms  #1  quick  pid 42 started"
    ])
    expect(lines({ _tag: "TaskOutput", id: id(1), pid: 42, stream: "stdout", text: "hel" })).toEqual([])
    expect(lines({ _tag: "TaskOutput", id: id(1), pid: 42, stream: "stdout", text: "lo\nrest" }, 1500)).toEqual([
      "  500ms  #1  quick  │ hello"
    ])
    expect(lines({ _tag: "ProcessExited", id: id(1), pid: 42, exitCode: 0, at: 1600 })).toEqual([
      "  600ms  #1  quick  │ rest",
      "  600ms  #1  quick  pid 42 exit 0"
    ])
    expect(lines({ _tag: "TaskFinished", id: id(1), state: "SUCCESS", at: 1700 })).toEqual([
      "  700ms  #1  quick  SUCCESS"
    ])
    expect(lines({ _tag: "TaskStarted", id: id(2), at: 1700 })).toEqual([
      "  700ms  #2  later  RUNNING (a slot freed up)"
    ])
    expect(
      lines({ _tag: "TaskRevoking", id: id(2), revocation: { reason: "user", graceful: true }, at: 3000 })
    ).toEqual(["   2.0s  #2  later  revoking (user): SIGTERM, then SIGKILL after the grace period"])
    expect(lines({ _tag: "ProcessExited", id: id(2), pid: 43, signal: "SIGKILL", at: 4000 })).toEqual([
      "   3.0s  #2  later  pid 43 killed by SIGKILL"
    ])
    expect(lines({
      _tag: "ProcessesStopped",
      id: id(2),
      pid: 43,
      stopped: [{ pid: 44, command: "sleep 500", signal: "SIGTERM" }, {
        pid: 45,
        command: "sleep 1000",
        signal: "SIGKILL"
      }],
      escalated: true,
      at: 4000
    })).toEqual([
      "   3.0s  #2  later  stopped 2 leftovers: sleep 500, sleep 1000 (SIGKILL); escalated to SIGKILL after the grace period"
    ])
    expect(lines({ _tag: "ProcessesStopped", id: id(2), pid: 43, stopped: [], escalated: true, at: 4000 })).toEqual([
      "   3.0s  #2  later  escalated to SIGKILL after the grace period"
    ])
    expect(lines({ _tag: "ProcessesStopped", id: id(2), pid: 43, stopped: [], escalated: false, at: 4000 })).toEqual(
      []
    )
    expect(
      lines({
        _tag: "TaskFinished",
        id: id(2),
        state: "FAILURE",
        at: 4000,
        error: "CommandFailed: exit 3\n    at ..."
      })
    ).toEqual(["   3.0s  #2  later  FAILURE (exit 3)"])
    expect(log.note("too early", 1200)).toBe("   3.0s  >>> too early")
  })
})
