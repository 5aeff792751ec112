import { describe, expect, it } from "@effect/vitest"
import * as Color from "../src/render/color.js"
import * as Editor from "../src/shell/editor.js"
import * as Parse from "../src/shell/parse.js"
import * as Screen from "../src/shell/screen.js"

const p = Color.palette(false)

const type = (editor: Editor.Editor, text: string) =>
  [...text].reduce((e, ch) => Editor.apply(e, { sequence: ch, name: ch }), editor)

const editor = (text: string, cursor = text.length): Editor.Editor => ({ ...Editor.empty, text, cursor })

describe("shell line parsing", () => {
  it("recognises the built-ins", () => {
    expect(Parse.parse("")).toEqual({ _tag: "Empty" })
    expect(Parse.parse("   ")).toEqual({ _tag: "Empty" })
    expect(Parse.parse("jobs")).toEqual({ _tag: "Jobs" })
    expect(Parse.parse("kill 3")).toEqual({ _tag: "Kill", id: 3, force: false })
    expect(Parse.parse("kill %3")).toEqual({ _tag: "Kill", id: 3, force: false })
    expect(Parse.parse("kill -9 12")).toEqual({ _tag: "Kill", id: 12, force: true })
    expect(Parse.parse("kill -KILL 1")).toEqual({ _tag: "Kill", id: 1, force: true })
    expect(Parse.parse("killall")).toEqual({ _tag: "KillAll", force: false })
    expect(Parse.parse("killall -9")).toEqual({ _tag: "KillAll", force: true })
    expect(Parse.parse(" wait  2 ")).toEqual({ _tag: "Wait", id: 2 })
    expect(Parse.parse("log 4")).toEqual({ _tag: "Log", id: 4 })
    expect(Parse.parse("help")).toEqual({ _tag: "Help" })
    expect(Parse.parse("exit")).toEqual({ _tag: "Exit" })
  })

  it("explains a built-in used wrongly instead of running it as a command", () => {
    for (const line of ["kill", "kill x", "kill 0", "kill -9", "kill 1 2", "wait", "log -1", "jobs now", "killall x"]) {
      expect(Parse.parse(line)._tag, line).toBe("Invalid")
    }
    expect(Parse.parse("kill x")).toEqual({
      _tag: "Invalid",
      message: "usage: kill [-9] N (N is a task id, as in [3])"
    })
  })

  it("runs anything else as a shell command, verbatim but trimmed", () => {
    expect(Parse.parse("  make -j4 build ")).toEqual({ _tag: "Start", command: "make -j4 build" })
    expect(Parse.parse("jobsfile.sh")).toEqual({ _tag: "Start", command: "jobsfile.sh" })
    expect(Parse.parse("echo kill 3")).toEqual({ _tag: "Start", command: "echo kill 3" })
  })
})

describe("line editor", () => {
  it("inserts printable keys at the cursor and ignores control keys it does not know", () => {
    let e = type(Editor.empty, "helo")
    e = Editor.apply(e, { name: "left" })
    e = type(e, "l")
    expect(e).toMatchObject({ text: "hello", cursor: 4 })
    e = Editor.apply(e, { name: "tab", sequence: "\t" })
    e = Editor.apply(e, { name: "x", ctrl: true, sequence: "\x18" })
    expect(e).toMatchObject({ text: "hello", cursor: 4 })
  })

  it("deletes, moves and kills like readline", () => {
    let e = type(Editor.empty, "echo one two")
    e = Editor.apply(e, { name: "backspace" })
    expect(e.text).toBe("echo one tw")
    e = Editor.apply(e, { name: "w", ctrl: true })
    expect(e).toMatchObject({ text: "echo one ", cursor: 9 })
    e = Editor.apply(e, { name: "a", ctrl: true })
    e = Editor.apply(e, { name: "delete" })
    expect(e).toMatchObject({ text: "cho one ", cursor: 0 })
    e = Editor.apply(e, { name: "end" })
    e = Editor.apply(e, { name: "u", ctrl: true })
    expect(e).toMatchObject({ text: "", cursor: 0 })
    e = Editor.apply(e, { name: "backspace" })
    expect(e).toMatchObject({ text: "", cursor: 0 })
  })

  it("submits into a history that up and down browse, keeping the draft", () => {
    let [line, e] = Editor.submit(type(Editor.empty, "first"))
    expect(line).toBe("first")
    ;[, e] = Editor.submit(type(e, "second"))
    ;[, e] = Editor.submit(type(e, "   "))
    expect(e.history).toEqual(["first", "second"])
    e = type(e, "dra")
    e = Editor.apply(e, { name: "up" })
    expect(e.text).toBe("second")
    e = Editor.apply(e, { name: "up" })
    e = Editor.apply(e, { name: "up" })
    expect(e.text).toBe("first")
    e = Editor.apply(e, { name: "down" })
    e = Editor.apply(e, { name: "down" })
    expect(e).toMatchObject({ text: "dra", cursor: 3 })
  })
})

describe("shell screen", () => {
  it("shows the status line and the prompt with the typed text", () => {
    const [lines, back] = Screen.render(
      { mode: { _tag: "Prompt" }, editor: editor("make", 2), running: 2, finished: 1 },
      p,
      0,
      80
    )
    expect(lines).toEqual(["● 2 running · 1 finished · Ctrl-C: stop tasks · Ctrl-D: exit", "tasks> make"])
    expect(back).toBe(2)
    expect(Screen.status({ mode: { _tag: "Prompt" }, editor: Editor.empty, running: 0, finished: 0 }, p)).toContain(
      "no tasks running"
    )
  })

  it("lists running tasks numbered while picking", () => {
    const [lines] = Screen.render(
      {
        mode: {
          _tag: "Picker",
          digits: "",
          entries: [{ id: 3, name: "sleep 100", startedAt: 0 }, { id: 5, name: "make", startedAt: 61_000 }]
        },
        editor: Editor.empty,
        running: 2,
        finished: 0
      },
      p,
      62_500,
      80
    )
    expect(lines.slice(0, 3)).toEqual([
      "Running tasks: press a number to revoke one, Ctrl-C again to revoke all, Esc to close",
      "  1) [3] sleep 100  1m02s",
      "  2) [5] make  1.5s"
    ])
  })

  it("keeps the cursor visible when the line is wider than the screen", () => {
    const text = "x".repeat(100)
    const [atEnd, backAtEnd] = Screen.promptLine(editor(text), p, 40)
    expect(Color.width(atEnd)).toBeLessThanOrEqual(39)
    expect(atEnd.startsWith("tasks> …")).toBe(true)
    expect(backAtEnd).toBe(0)
    const [atStart, backAtStart] = Screen.promptLine(editor(text, 0), p, 40)
    expect(Color.width(atStart)).toBeLessThanOrEqual(39)
    expect(Color.width(atStart) - backAtStart).toBe("tasks> ".length)
    const [middle, backMiddle] = Screen.promptLine(editor(`${"a".repeat(50)}B${"c".repeat(49)}`, 50), p, 40)
    // The cursor sits on the B.
    expect(middle.charAt(middle.length - backMiddle)).toBe("B")
  })
})
