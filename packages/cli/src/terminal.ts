/**
 * The process's output streams as `Sink`s for the renderers: what they are (a terminal or not),
 * how big, and a synchronous write (Node writes to terminals, files and pipes synchronously on
 * POSIX, so lines never interleave mid-way and nothing is lost at exit).
 *
 * @since 0.1.0
 */
import { fstatSync, writeSync } from "node:fs"
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

/**
 * `fd` when it is a regular file, else `undefined`. Node writes to a file through a
 * stream that first copies each string into a new buffer; `writeSync` on the descriptor encodes the string
 * straight into the write, which is a fifth of the CPU `tasks run` spends on 200 MB of output (B8). It is the
 * same synchronous `write(2)` either way, so the order of everything written to the file is kept.
 */
const fileDescriptor = (fd: number): number | undefined => {
  try {
    return fstatSync(fd).isFile() ? fd : undefined
  } catch {
    return undefined
  }
}

const sinkOf = (stream: NodeJS.WriteStream, descriptor: number): Sink => {
  const fd = fileDescriptor(descriptor)
  return {
    write: (text) => {
      try {
        if (fd === undefined) stream.write(text)
        else writeSync(fd, text)
      } catch {
        // The terminal is gone (EIO after a hangup), the pipe closed or the disk is full: cleanup must go on
        // regardless.
      }
    },
    isTTY: stream.isTTY === true,
    columns: () => stream.isTTY === true ? size(stream)[0] : stream.columns ?? 80,
    rows: () => stream.isTTY === true ? size(stream)[1] : stream.rows ?? 24
  }
}

/** Standard output. */
export const stdout: Sink = sinkOf(process.stdout, 1)

/** Standard error. */
export const stderr: Sink = sinkOf(process.stderr, 2)

/**
 * Keeps write errors on stdout and stderr from crashing the process: EPIPE (`tasks run ... | head`)
 * or EIO (the terminal went away) must not stop the graceful shutdown that follows.
 */
export const ignoreWriteErrors = (): void => {
  for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {})
}
