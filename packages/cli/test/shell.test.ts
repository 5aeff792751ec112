import { TaskId } from "@effect-tasks/core"
import { describe, expect, it } from "@effect/vitest"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Color from "../src/render/color.js"
import * as Editor from "../src/shell/editor.js"
import * as Environment from "../src/shell/environment.js"
import * as History from "../src/shell/history.js"
import * as Parse from "../src/shell/parse.js"
import * as Screen from "../src/shell/screen.js"
import * as Search from "../src/shell/search.js"
import * as Words from "../src/shell/words.js"

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
    expect(Parse.parse(" wait  2 ")).toEqual({ _tag: "Wait", ids: [2] })
    expect(Parse.parse("wait")).toEqual({ _tag: "Wait", ids: [] })
    expect(Parse.parse("wait 2 %5")).toEqual({ _tag: "Wait", ids: [2, 5] })
    expect(Parse.parse("fg 3")).toEqual({ _tag: "Follow", id: 3 })
    expect(Parse.parse("follow %3")).toEqual({ _tag: "Follow", id: 3 })
    expect(Parse.parse("fg")).toEqual({ _tag: "Follow", id: undefined })
    expect(Parse.parse("clear")).toEqual({ _tag: "Clear" })
    expect(Parse.parse("log 4")).toEqual({ _tag: "Log", id: 4 })
    expect(Parse.parse("help")).toEqual({ _tag: "Help" })
    expect(Parse.parse("exit")).toEqual({ _tag: "Exit" })
  })

  it("explains a built-in used wrongly instead of running it as a command", () => {
    for (
      const line of [
        "kill",
        "kill x",
        "kill 0",
        "kill -9",
        "kill 1 2",
        "wait x",
        "log -1",
        "jobs now",
        "killall x",
        "fg 1 2",
        "cd a b",
        "export 1A=2",
        "unset",
        "unset A-B",
        "cd 'open"
      ]
    ) {
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

describe("cd, export and unset", () => {
  const scope: Words.Scope = { env: { HOME: "/home/me", NAME: "x y", EMPTY: "" }, home: "/home/me" }

  it("split their words as sh would: quotes, escapes, $NAME and ~", () => {
    expect(Parse.parse("cd", scope)).toEqual({ _tag: "Cd", directory: undefined })
    expect(Parse.parse("cd -", scope)).toEqual({ _tag: "Cd", directory: "-" })
    expect(Parse.parse("cd ~/src", scope)).toEqual({ _tag: "Cd", directory: "/home/me/src" })
    expect(Parse.parse("cd 'my dir'", scope)).toEqual({ _tag: "Cd", directory: "my dir" })
    expect(Parse.parse("cd my\\ dir", scope)).toEqual({ _tag: "Cd", directory: "my dir" })
    expect(Parse.parse(`export A="$NAME and \\$NAME" B='$NAME' C=\${NAME}z D=`, scope)).toEqual({
      _tag: "Export",
      assignments: [["A", "x y and $NAME"], ["B", "$NAME"], ["C", "x yz"], ["D", ""]]
    })
    expect(Parse.parse("export PATH=$HOME/bin:$PATH", { ...scope, env: { ...scope.env, PATH: "/usr/bin" } }))
      .toEqual({ _tag: "Export", assignments: [["PATH", "/home/me/bin:/usr/bin"]] })
    expect(Parse.parse("export", scope)).toEqual({ _tag: "Export", assignments: [] })
    expect(Parse.parse("export NAME", scope)).toEqual({ _tag: "Export", assignments: [] })
    expect(Parse.parse("export MISSING", scope)._tag).toBe("Invalid")
    expect(Parse.parse("unset A B_2", scope)).toEqual({ _tag: "Unset", names: ["A", "B_2"] })
  })

  it("combined with more shell syntax they are commands for sh, which change only that task", () => {
    for (const line of ["cd src && make", "cd src; ls", "export A=$(date)", "cd a | cat", "cd `pwd`"]) {
      expect(Parse.parse(line, scope), line).toEqual({ _tag: "Start", command: line })
    }
    expect(Words.isCompound("cd 'a;b'")).toBe(false)
    expect(Words.isCompound("cd \"$(pwd)\"")).toBe(true)
  })

  it("change the shell's directory and environment, refusing what does not exist", () => {
    const root = mkdtempSync(join(tmpdir(), "tasks-env-"))
    try {
      mkdirSync(join(root, "sub"))
      writeFileSync(join(root, "file"), "")
      const start: Environment.Environment = { cwd: root, env: { HOME: root }, changes: new Map() }
      const sub = Environment.cd(start, "sub")
      if (sub._tag !== "Changed") throw new Error(sub.message)
      expect(sub.environment.cwd).toBe(join(root, "sub"))
      expect(sub.environment.env).toMatchObject({ PWD: join(root, "sub"), OLDPWD: root })
      const back = Environment.cd(sub.environment, "-")
      expect(back._tag === "Changed" && back.environment.cwd).toBe(root)
      const home = Environment.cd(sub.environment, undefined)
      expect(home._tag === "Changed" && home.environment.cwd).toBe(root)
      expect(Environment.cd(start, "nope")).toEqual({ _tag: "Refused", message: "cd: no such directory: nope" })
      expect(Environment.cd(start, "file")).toEqual({ _tag: "Refused", message: "cd: not a directory: file" })
      expect(Environment.cd(start, "-")).toEqual({ _tag: "Refused", message: "cd: OLDPWD not set" })

      const exported = Environment.exportAll(start, [["GREETING", "hello world"], ["A", "1"]])
      const unset = Environment.unset(exported, ["A", "HOME"])
      expect(unset.env).toEqual({ GREETING: "hello world" })
      expect(Environment.describeChanges(unset)).toEqual([
        "export GREETING='hello world'",
        "unset A",
        "unset HOME"
      ])
      expect(start.env).toEqual({ HOME: root })
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
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

  it("moves and deletes by the character the eye sees, and by words with Alt", () => {
    let e = type(Editor.empty, "")
    e = Editor.insert(e, "ok 👍🏽 日本")
    e = Editor.apply(e, { name: "backspace" })
    expect(e.text).toBe("ok 👍🏽 日")
    e = Editor.apply(e, { name: "left" })
    e = Editor.apply(e, { name: "left" })
    e = Editor.apply(e, { name: "backspace" })
    expect(e).toMatchObject({ text: "ok  日", cursor: 3 })
    e = editor("git commit --amend")
    e = Editor.apply(e, { name: "b", meta: true })
    expect(e.cursor).toBe(13)
    e = Editor.apply(e, { name: "b", meta: true })
    e = Editor.apply(e, { name: "d", meta: true })
    expect(e).toMatchObject({ text: "git  --amend", cursor: 4 })
    e = Editor.apply(e, { name: "f", meta: true })
    expect(e.cursor).toBe(12)
    e = Editor.apply(e, { name: "backspace", meta: true })
    expect(e).toMatchObject({ text: "git  --", cursor: 7 })
  })

  it("takes a paste as text: line breaks kept, tabs as spaces, control characters and escapes dropped", () => {
    expect(Editor.pasted("echo a\r\n\techo\x1b[31m b\x03\x1b[0m\n\n")).toBe("echo a\n echo b")
    expect(Editor.insert(editor("ab", 1), Editor.pasted("X\n"))).toMatchObject({ text: "aXb", cursor: 2 })
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

describe("history", () => {
  it("skips blank lines, repeats and lines that start with a space; keeps lines of a paste whole", () => {
    let e = Editor.withHistory(["old"])
    for (const line of ["make", "make", "  ", " export TOKEN=secret", "echo a\necho b"]) {
      ;[, e] = Editor.submit(Editor.insert(e, line))
    }
    expect(e.history).toEqual(["old", "make", "echo a\necho b"])
  })

  it("persists in a file, one entry a line, and trims a file grown past twice what it keeps", () => {
    const root = mkdtempSync(join(tmpdir(), "tasks-history-"))
    try {
      const file = History.fileIn(join(root, "state"))
      expect(History.load(file, 3)).toEqual({ _tag: "Loaded", entries: [] })
      for (const entry of ["one", "two\\n and a backslash", "multi\nline"]) {
        expect(History.append(file, entry)).toBe(undefined)
      }
      expect(readFileSync(file, "utf8")).toBe("one\ntwo\\\\n and a backslash\nmulti\\nline\n")
      expect(History.load(file, 3)).toEqual({
        _tag: "Loaded",
        entries: ["one", "two\\n and a backslash", "multi\nline"]
      })
      for (const n of [1, 2, 3, 4]) History.append(file, `more ${n}`)
      expect(History.load(file, 3)).toEqual({ _tag: "Loaded", entries: ["more 2", "more 3", "more 4"] })
      expect(readFileSync(file, "utf8").trimEnd().split("\n")).toEqual(["more 2", "more 3", "more 4"])
      mkdirSync(join(root, "a-directory"))
      expect(History.load(join(root, "a-directory"), 3)._tag).toBe("Failed")
      writeFileSync(join(root, "blocker"), "")
      expect(History.append(join(root, "blocker", "history"), "a")).toContain("cannot write")
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })

  it("Ctrl-R finds older matches, Enter runs one, Ctrl-G puts the line back, other keys take the match", () => {
    const e = { ...Editor.withHistory(["make build", "npm test", "make clean", "ls"]), text: "draft", cursor: 5 }
    let search = Search.start(e)
    const step = (key: Editor.Key) => {
      const next = Search.apply(search, key)
      if (next._tag === "Continue") search = next.search
      return next
    }
    for (const char of "make") step({ name: char, sequence: char })
    expect(Search.shown(search)).toBe("make clean")
    step({ name: "r", ctrl: true })
    expect(Search.shown(search)).toBe("make build")
    step({ name: "r", ctrl: true })
    expect(Search.shown(search)).toBe("make build")
    const run = Search.apply(search, { name: "return" })
    expect(run._tag === "Run" && run.editor.text).toBe("make build")
    const cancel = Search.apply(search, { name: "g", ctrl: true })
    expect(cancel._tag === "Cancel" && cancel.editor.text).toBe("draft")
    const accept = Search.apply(search, { name: "e", ctrl: true })
    expect(accept._tag === "Accept" && [accept.editor.text, accept.key?.name]).toEqual(["make build", "e"])
    step({ name: "x", sequence: "x" })
    expect(Search.failed(search)).toBe(true)
    expect(Screen.searchLine(search, p, 80)[0]).toBe("(failed reverse-i-search)'makex': draft")
  })
})

const running = (
  id: number,
  name: string,
  startedAt?: number,
  extra: Partial<Screen.Running> = {}
): Screen.Running => ({
  id,
  name,
  startedAt,
  ...extra
})

describe("shell screen", () => {
  it("lists the running tasks in the status line, like a REPL toolbar, and counts them when they do not fit", () => {
    const screen: Screen.Screen = {
      mode: { _tag: "Prompt" },
      editor: editor("make", 2),
      running: [running(3, "build", 0), running(5, "server", 48_000), running(6, "lint")],
      finished: 1
    }
    const [lines, back] = Screen.render(screen, p, 60_000, 120)
    expect(lines).toEqual([
      "● [3] build 1m · [5] server 12s · [6] lint queued · 1 finished · Ctrl-C: stop tasks · Ctrl-D: exit",
      "tasks> make"
    ])
    expect(back).toBe(2)
    // Narrower: the keys go first, then the list becomes a count.
    expect(Screen.status(screen, p, 60_000, 70)).toBe("● [3] build 1m · [5] server 12s · [6] lint queued · 1 finished")
    expect(Screen.status(screen, p, 60_000, 40)).toBe("● 3 running · 1 finished · Ctrl-C: stop tasks · Ctrl-D: exit")
    expect(Screen.status({ ...screen, running: [] }, p, 0, 80)).toContain("no tasks running")
    // Names are cut, and a stopping task says so; a command of several lines stays on one.
    const long = { ...screen, running: [running(7, "x".repeat(40), 0, { revokingAt: 1 }), running(8, "a\nb", 0)] }
    expect(Screen.status(long, p, 0, 200)).toContain(`[7] ${"x".repeat(23)}… stopping · [8] a ↵ b 0s`)
  })

  it("the revoke list shows each task by its id, aligned by display width", () => {
    const [lines] = Screen.render(
      {
        mode: { _tag: "Picker", ids: [TaskId.TaskId.make(3), TaskId.TaskId.make(12)], digits: "1" },
        editor: Editor.empty,
        running: [running(3, "ビルド", 0), running(12, "make", 61_000)],
        finished: 0
      },
      p,
      62_500,
      80
    )
    expect(lines.slice(0, 4)).toEqual([
      "Revoke which task? Type its id · Ctrl-C again: all · any other key: back to the prompt",
      "  [3]  ビルド  1m",
      "  [12] make    1s",
      "  > [1"
    ])
  })

  it("the shutdown view counts down each task's grace period, then says SIGKILL was sent", () => {
    const screen: Screen.Screen = {
      mode: { _tag: "Stopping", graceMillis: 5000, forced: false },
      editor: Editor.empty,
      running: [
        running(1, "trap '' TERM; sleep 600", 0, { revokingAt: 10_000, graceful: true }),
        running(4, "sleep 400", 0, { revokingAt: 4_000, graceful: true })
      ],
      finished: 2
    }
    expect(Screen.render(screen, p, 11_200, 100)[0]).toEqual([
      "stopping 2 task(s) · Ctrl-C: kill them now (SIGKILL)",
      "  [1] trap '' TERM; sleep 600  SIGTERM sent 1.2s ago · SIGKILL in 3.8s",
      "  [4] sleep 400                grace period over: SIGKILL sent 2.2s ago"
    ])
    expect(Screen.render({ ...screen, mode: { ...screen.mode, forced: true } as Screen.Mode }, p, 11_200, 100)[0])
      .toEqual([
        "killing 2 task(s)",
        "  [1] trap '' TERM; sleep 600  SIGKILL sent",
        "  [4] sleep 400                SIGKILL sent"
      ])
  })

  it("lays out completion candidates in columns, down then across", () => {
    expect(Screen.columns(["a", "bb", "c", "d", "eeee"], 20)).toEqual(["a     c     eeee", "bb    d"])
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
    // Wide characters count two columns: the line never overflows and the cursor stays on its character.
    const wide = `${"日".repeat(30)}X${"本".repeat(30)}`
    const [cjk, backCjk] = Screen.promptLine(editor(wide, 30), p, 40)
    expect(Color.width(cjk)).toBeLessThanOrEqual(39)
    // The columns before the cursor are those before the X.
    expect(Color.width(cjk) - backCjk).toBe(Color.width(cjk.slice(0, cjk.indexOf("X"))))
    // A pasted newline shows as ↵ and takes one column.
    expect(Screen.promptLine(editor("echo a\necho b", 6), p, 80)).toEqual(["tasks> echo a↵echo b", 7])
  })
})
