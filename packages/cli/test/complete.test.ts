import { describe, expect, it } from "@effect/vitest"
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Complete from "../src/shell/complete.js"
import * as Editor from "../src/shell/editor.js"
import * as Parse from "../src/shell/parse.js"

/** A real directory tree to complete in, and a PATH directory with two executables and a plain file. */
const fixture = () => {
  const root = mkdtempSync(join(tmpdir(), "tasks-complete-"))
  mkdirSync(join(root, "src"))
  mkdirSync(join(root, "my dir"))
  mkdirSync(join(root, "home", "projects"), { recursive: true })
  writeFileSync(join(root, "src", "main.ts"), "")
  writeFileSync(join(root, "src", "main.test.ts"), "")
  writeFileSync(join(root, "README.md"), "")
  writeFileSync(join(root, ".hidden"), "")
  writeFileSync(join(root, "a&b.txt"), "")
  symlinkSync(join(root, "src"), join(root, "link-to-src"))
  const bin = join(root, "bin")
  mkdirSync(bin)
  writeFileSync(join(bin, "makefile-gen"), "", { mode: 0o755 })
  writeFileSync(join(bin, "make"), "", { mode: 0o755 })
  writeFileSync(join(bin, "makedata"), "", { mode: 0o644 })
  const source = Complete.fileSystem({
    builtins: Parse.builtins,
    env: { PATH: bin },
    cwd: root,
    home: join(root, "home"),
    taskIds: () => [3, 12, 14]
  })
  return { root, source, done: () => rmSync(root, { recursive: true, force: true }) }
}

const at = (text: string, cursor = text.length): Editor.Editor => ({ ...Editor.empty, text, cursor })

const completes = (source: Complete.Source, text: string, cursor?: number) => {
  const result = Complete.complete(at(text, cursor), source)
  return result._tag === "Insert" ? result.editor.text : result
}

describe("tab completion", () => {
  it("completes a command from the built-ins and executables on PATH", () => {
    const { source, done } = fixture()
    try {
      expect(completes(source, "expo")).toBe("export ")
      expect(completes(source, "mak")).toBe("make")
      // `make` is a whole name and a prefix of another: list both (the plain file is not executable).
      expect(completes(source, "make")).toEqual({ _tag: "List", candidates: ["make", "makefile-gen"] })
      expect(completes(source, "echo 1; ki")).toBe("echo 1; kill")
      expect(completes(source, "zzz")).toEqual({ _tag: "None" })
    } finally {
      done()
    }
  })

  it("completes file names relative to the shell's directory: directories get /, files a space", () => {
    const { source, done } = fixture()
    try {
      expect(completes(source, "cat src/ma")).toBe("cat src/main.t")
      expect(completes(source, "cat src/main.t")).toEqual({ _tag: "List", candidates: ["main.test.ts", "main.ts"] })
      expect(completes(source, "cat RE")).toBe("cat README.md ")
      expect(completes(source, "ls link")).toBe("ls link-to-src/")
      expect(completes(source, "ls ~/pro")).toBe("ls ~/projects/")
      // Hidden files only when asked for; names with shell characters are escaped, or kept in their quote.
      expect(completes(source, "cat .hi")).toBe("cat .hidden ")
      expect(completes(source, "cat a")).toBe("cat a\\&b.txt ")
      expect(completes(source, "cd my")).toBe("cd my\\ dir/")
      expect(completes(source, "cd \"my")).toBe("cd \"my dir/")
      expect(completes(source, "cat 'a")).toBe("cat 'a&b.txt' ")
      // The cursor in the middle of the line: only the word before it is completed.
      expect(completes(source, "cat RE | wc", 6)).toBe("cat README.md  | wc")
    } finally {
      done()
    }
  })

  it("cd completes directories only; kill, fg, wait and log complete running task ids", () => {
    const { source, done } = fixture()
    try {
      expect(completes(source, "cd ")).toEqual({
        _tag: "List",
        candidates: ["bin/", "home/", "link-to-src/", "my dir/", "src/"]
      })
      expect(completes(source, "cd R")).toEqual({ _tag: "None" })
      expect(completes(source, "fg 1")).toEqual({ _tag: "List", candidates: ["12", "14"] })
      expect(completes(source, "kill 3")).toBe("kill 3 ")
      expect(completes(source, "wait %12")).toBe("wait %12 ")
    } finally {
      done()
    }
  })
})
