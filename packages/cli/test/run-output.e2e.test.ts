/**
 * `tasks run`'s output, on the built binary with stdout and stderr going to files (as `> out.txt 2> err.txt`
 * does): every line of every command, in the order each command wrote it, one prefix per line, stdout lines in
 * the one file and stderr lines in the other; progress redrawn with `\r` in its final state only; stdin at
 * end-of-file, so commands that read it end at once; and what cleanup stopped, said after the command's end.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { bin, ensureBuilt, env, leftovers, marksFor, node } from "./helpers/binary.js"

beforeAll(ensureBuilt, 120_000)

const { cleanup, fresh } = marksFor()
const directory = mkdtempSync(join(tmpdir(), "tasks-run-output-"))
afterAll(() => {
  cleanup()
  rmSync(directory, { recursive: true, force: true })
})

let files = 0

/** Runs `tasks <args>` with stdout and stderr redirected to files; returns its exit code and both files' text. */
const runToFiles = async (args: ReadonlyArray<string>, mark: string, timeout = 120_000) => {
  const n = ++files
  const outPath = join(directory, `out-${n}.txt`)
  const errPath = join(directory, `err-${n}.txt`)
  const out = openSync(outPath, "w")
  const err = openSync(errPath, "w")
  const started = Date.now()
  const child = spawn(node, [bin, ...args], { env: env(mark), stdio: ["ignore", out, err] })
  closeSync(out)
  closeSync(err)
  const timer = setTimeout(() => child.kill("SIGKILL"), timeout)
  const code = await new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
  clearTimeout(timer)
  return {
    code,
    millis: Date.now() - started,
    stdout: readFileSync(outPath, "utf8"),
    stderr: readFileSync(errPath, "utf8")
  }
}

/** The lines of `text` that start with `prefix`, without it. */
const linesOf = (text: string, prefix: string) =>
  text.split("\n").filter((line) => line.startsWith(prefix)).map((line) => line.slice(prefix.length))

const numbered = (tag: string, from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `${tag}${from + i}`)

/** 50,000 numbered lines, alternating stdout and stderr in runs of `run` lines. */
const flood = (tag: string, run: number) =>
  `i=1; while [ $i -le 50000 ]; do if [ $(( (i / ${run}) % 2 )) -eq 0 ]; then echo ${tag}$i; else echo ${tag}$i >&2; fi; i=$((i+1)); done`

describe.concurrent("tasks run output", { timeout: 180_000 }, () => {
  it("seq 1 200000; echo LAST to a file: all 200,001 lines, in order, each with its prefix", async () => {
    const result = await runToFiles(["run", "--", "seq 1 200000; echo LAST"], fresh())
    expect(result.code).toBe(0)
    const lines = linesOf(result.stdout, "[0] ")
    // The command's 200,001 lines, then the run's own line for its end; nothing else under its prefix.
    expect(lines).toHaveLength(200_002)
    expect(lines.slice(0, 200_000)).toEqual(numbered("", 1, 200_000))
    expect(lines[200_000]).toBe("LAST")
    expect(lines[200_001]).toMatch(/^exited with code 0 /)
    expect(result.stderr).toBe("")
  })

  it("multi-byte text reaches the file byte for byte, before the end line and the summary table", async () => {
    // 3000 lines of 2-, 3- and 4-byte characters: many reads, so characters are split across chunk boundaries.
    const text = "héllo wörld ✓ 😀 ünïcödé"
    const result = await runToFiles(
      ["run", "--names", "naïve", "--", `i=1; while [ $i -le 3000 ]; do echo "$i ${text}"; i=$((i+1)); done`],
      fresh()
    )
    expect(result.code).toBe(0)
    const lines = result.stdout.split("\n")
    const output = lines.filter((line) => line.startsWith("[naïve] ") && /^\d/.test(line.slice(8)))
    expect(output).toEqual(Array.from({ length: 3000 }, (_, i) => `[naïve] ${i + 1} ${text}`))
    const last = lines.indexOf(output[2999]!)
    expect(lines[last + 1]).toMatch(/^\[naïve\] exited with code 0 /)
    // Then the summary table, after everything else.
    expect(lines.slice(last + 2).join("\n")).toMatch(/^\nNAME +COMMAND +STATE/)
    expect(result.stderr).toBe("")
  })

  it("three commands flooding at once, stdout and stderr mixed: every line of each, each in its order", async () => {
    const result = await runToFiles(
      ["run", "--names", "a,b,c", "--", flood("a", 1), flood("b", 7), flood("c", 1000)],
      fresh()
    )
    expect(result.code).toBe(0)
    for (const [tag, run] of [["a", 1], ["b", 7], ["c", 1000]] as const) {
      const isOut = (i: number) => Math.floor(i / run) % 2 === 0
      const all = numbered(tag, 1, 50_000)
      expect(linesOf(result.stdout, `[${tag}] ${tag}`).map((line) => `${tag}${line}`)).toEqual(
        all.filter((_, index) => isOut(index + 1))
      )
      expect(linesOf(result.stderr, `[${tag}] ${tag}`).map((line) => `${tag}${line}`)).toEqual(
        all.filter((_, index) => !isOut(index + 1))
      )
    }
    // Every line of the files is whole: a prefix and a line of one command, never two glued together.
    for (const line of `${result.stdout}${result.stderr}`.split("\n")) {
      if (/^\[[abc]\] [abc]\d/.test(line)) expect(line).toMatch(/^\[([abc])\] \1\d+$/)
    }
  })

  it("a line redrawn with \\r shows only its final state in a file; a last line without newline is kept", async () => {
    const result = await runToFiles(
      [
        "run",
        "--",
        "for i in 10 20 30 100; do printf '\\rprogress %s%%' $i; sleep 0.05; done; echo; printf 'no newline'"
      ],
      fresh()
    )
    expect(result.code).toBe(0)
    expect(linesOf(result.stdout, "[0] ")).toEqual([
      "progress 100%",
      "no newline",
      expect.stringMatching(/^exited with code 0 /)
    ])
    expect(result.stdout).not.toContain("\r")
  })

  it("stdin is at end-of-file: cat, read x and python3 input() end at once", async () => {
    const result = await runToFiles(
      ["run", "--names", "cat,read,py", "--", "cat; echo cat done", "read x; echo read $?", "python3 -c 'input()'"],
      fresh(),
      30_000
    )
    expect(result.stdout).toContain("[cat ] cat done")
    expect(result.stdout).toContain("[read] read 1")
    expect(result.stderr).toContain("EOFError")
    expect(result.stdout).toContain("[py  ] exited with code 1")
    expect(result.code).toBe(1)
    expect(result.millis).toBeLessThan(20_000)
  })

  it("says what cleanup stopped: a background job left running is a leftover, named", async () => {
    const mark = fresh()
    const result = await runToFiles(["run", "--", "sleep 500 & echo started; sleep 0.2"], mark, 30_000)
    expect(result.code).toBe(0)
    expect(linesOf(result.stdout, "[0] ")).toEqual([
      "started",
      expect.stringMatching(/^exited with code 0 /),
      "stopped 1 leftover: sleep 500"
    ])
    expect(leftovers(mark)).toEqual([])
  })

  it("says when a command outlived the grace period and was killed with SIGKILL", async () => {
    const result = await runToFiles(
      ["run", "--grace", "300ms", "--kill-others", "--", "trap '' TERM; echo ready; sleep 1000", "sleep 0.5"],
      fresh(),
      30_000
    )
    expect(linesOf(result.stdout, "[0] ")).toEqual([
      "ready",
      expect.stringMatching(/^revoked: kill-others → killed by SIGKILL /),
      "stopped 1 leftover: sleep 1000 (SIGKILL); escalated to SIGKILL after the grace period"
    ])
  })
})
