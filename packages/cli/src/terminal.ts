/**
 * The process's output streams as `Sink`s for the renderers: what they are (a terminal or not),
 * how big, and a synchronous write (Node writes to terminals, files and pipes synchronously on
 * POSIX, so lines never interleave mid-way and nothing is lost at exit).
 *
 * @since 0.1.0
 */
import type { Sink } from "./render/live.js"

/**
 * The terminal's size now, asked of the terminal itself (`TIOCGWINSZ`): `stream.columns` changes only once
 * Node has handled the SIGWINCH of a resize, and a region drawn for the old width in between (while input
 * is being handled) would be erased wrongly after the terminal re-wrapped it.
 */
const size = (stream: NodeJS.WriteStream): readonly [number, number] => {
  try {
    const [columns, rows] = stream.getWindowSize()
    if (columns > 0 && rows > 0) return [columns, rows]
  } catch {
    // not a terminal (any more)
  }
  return [stream.columns ?? 80, stream.rows ?? 24]
}

const sinkOf = (stream: NodeJS.WriteStream): Sink => ({
  write: (text) => {
    try {
      stream.write(text)
    } catch {
      // The terminal is gone (EIO after a hangup) or the pipe closed: cleanup must go on regardless.
    }
  },
  isTTY: stream.isTTY === true,
  columns: () => stream.isTTY === true ? size(stream)[0] : stream.columns ?? 80,
  rows: () => stream.isTTY === true ? size(stream)[1] : stream.rows ?? 24
})

/** Standard output. */
export const stdout: Sink = sinkOf(process.stdout)

/** Standard error. */
export const stderr: Sink = sinkOf(process.stderr)

/**
 * Keeps write errors on stdout and stderr from crashing the process: EPIPE (`tasks run ... | head`)
 * or EIO (the terminal went away) must not stop the graceful shutdown that follows.
 */
export const ignoreWriteErrors = (): void => {
  for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {})
}
