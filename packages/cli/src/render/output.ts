/**
 * How `tasks run` prints the followed output of its commands: every line, in the order it arrived, after its
 * command's prefix, stdout lines on stdout and stderr lines on stderr.
 *
 * To a file or a pipe, a line is written once it is complete, and a line redrawn with carriage returns (a
 * progress bar) is written in its final state only. On a terminal, a line that is not complete yet (a prompt,
 * a progress bar) shows below the output in a live region once it has waited a moment, updated in place, and
 * takes its place in the output when its newline comes; escape sequences that would move the cursor are
 * dropped there (colours stay).
 *
 * @since 0.1.0
 */
import type { OutputChunk } from "@effect-tasks/core"
import * as Lines from "../lines.js"
import * as Color from "./color.js"
import * as Live from "./live.js"

/** How long an unfinished line waits before a terminal shows it. */
export const partialDelayMillis = 100

interface Source {
  readonly prefix: string
  readonly buffer: Lines.LineBuffer
  readonly stream: "stdout" | "stderr"
  /** When the unfinished line started waiting (epoch millis). */
  since: number
}

/** Prints followed output. */
export interface Printer {
  /** Prints what a chunk completes (and remembers what it leaves unfinished) under the task's prefix. */
  readonly chunk: (chunk: OutputChunk.OutputChunk, prefix: string) => void
  /** The task's output has ended: prints its unfinished lines as lines. */
  readonly end: (id: number) => void
  /** Prints a line of the run's own (a command's end, a note) after the output so far. */
  readonly note: (line: string) => void
  /** On a terminal: redraws the unfinished lines that have waited long enough (call it every `partialDelayMillis`). */
  readonly tick: (now: number) => void
}

/**
 * A printer writing stdout lines to `out` and stderr lines to `err`. With `out` a terminal, unfinished lines
 * show in a live region on it (and stderr lines go through it too when `err` is the same terminal, so they
 * never tear the region).
 */
export const make = (out: Live.Sink, err: Live.Sink, palette: Color.Palette): Printer => {
  const region = Live.make(out)
  const sources = new Map<string, Source>()
  const shared = region.live && err.isTTY
  const write = (stream: "stdout" | "stderr", text: string) => {
    if (text.length === 0) return
    if (region.live && (stream === "stdout" || shared)) region.print(text.endsWith("\n") ? text.slice(0, -1) : text)
    else (stream === "stdout" ? out : err).write(text)
  }
  const sourceOf = (chunk: Extract<OutputChunk.OutputChunk, { _tag: "TaskOutput" }>, prefix: string) => {
    const key = `${chunk.id}/${chunk.pid}/${chunk.stream}`
    let source = sources.get(key)
    if (source === undefined) {
      source = { prefix, buffer: Lines.make(), stream: chunk.stream, since: 0 }
      sources.set(key, source)
    }
    return source
  }
  const lineOf = (source: Source, line: string) => `${source.prefix} ${region.live ? Color.sanitize(line) : line}`

  const redraw = (now: number) => {
    if (!region.live) return
    const waiting: Array<string> = []
    for (const source of sources.values()) {
      const text = Lines.pending(source.buffer)
      if (text !== undefined && now - source.since >= partialDelayMillis) waiting.push(lineOf(source, text))
    }
    region.update(waiting)
  }

  return {
    chunk: (chunk, prefix) => {
      if (chunk._tag === "OutputSkipped") {
        write(
          "stdout",
          `${prefix} ${palette.dim(`(${chunk.stdout + chunk.stderr} characters written earlier are not shown)`)}\n`
        )
        return
      }
      const source = sourceOf(chunk, prefix)
      const waited = source.buffer.pending.length > 0
      if (!region.live) {
        write(source.stream, Lines.pushPrefixed(source.buffer, chunk.text, `${prefix} `))
        return
      }
      const lines = Lines.push(source.buffer, chunk.text)
      if (lines.length > 0) write(source.stream, lines.map((line) => lineOf(source, line)).join("\n"))
      if (!waited || lines.length > 0) source.since = Date.now()
      // A line shown unfinished is now in the output above (or has changed): the region must say so.
      if (waited) redraw(Date.now())
    },
    end: (id) => {
      for (const [key, source] of sources) {
        if (!key.startsWith(`${id}/`)) continue
        const rest = Lines.flush(source.buffer)
        if (rest.length > 0) write(source.stream, `${lineOf(source, rest[0]!)}\n`)
        sources.delete(key)
      }
      redraw(Date.now())
    },
    note: (line) => write("stdout", `${line}\n`),
    tick: redraw
  }
}
