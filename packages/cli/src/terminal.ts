/**
 * The process's output streams as `Sink`s for the renderers: what they are (a terminal or not),
 * how big, and a synchronous write (Node writes to terminals, files and pipes synchronously on
 * POSIX, so lines never interleave mid-way and nothing is lost at exit).
 *
 * @since 0.1.0
 */
import type { Sink } from "./render/live.js"

const sinkOf = (stream: NodeJS.WriteStream): Sink => ({
  write: (text) => {
    try {
      stream.write(text)
    } catch {
      // The terminal is gone (EIO after a hangup) or the pipe closed: cleanup must go on regardless.
    }
  },
  isTTY: stream.isTTY === true,
  columns: () => stream.columns ?? 80,
  rows: () => stream.rows ?? 24
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
