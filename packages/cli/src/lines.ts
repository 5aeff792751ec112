/**
 * Splitting chunks of output into lines. Output arrives in arbitrary chunks (`TaskOutput` events);
 * a line buffer per source holds the unfinished tail until its newline arrives.
 *
 * @since 0.1.0
 */

/** A buffer of the unfinished last line of one source. */
export interface LineBuffer {
  pending: string
}

/** An empty buffer. */
export const make = (): LineBuffer => ({ pending: "" })

/** Adds a chunk and returns the lines it completed (without `\n` or `\r\n`). */
export const push = (buffer: LineBuffer, chunk: string): Array<string> => {
  const parts = (buffer.pending + chunk).split("\n")
  buffer.pending = parts.pop()!
  return parts.map((line) => line.endsWith("\r") ? line.slice(0, -1) : line)
}

/** Returns the unfinished line, if any, and empties the buffer (call it when the source ends). */
export const flush = (buffer: LineBuffer): Array<string> => {
  const rest = buffer.pending
  buffer.pending = ""
  return rest.length === 0 ? [] : [rest]
}

/** A set of line buffers keyed by source (e.g. task id and stream). */
export const keyed = () => {
  const buffers = new Map<string, LineBuffer>()
  return {
    /** Adds a chunk of `key` and returns the lines it completed. */
    push: (key: string, chunk: string): Array<string> => {
      let buffer = buffers.get(key)
      if (buffer === undefined) {
        buffer = make()
        buffers.set(key, buffer)
      }
      return push(buffer, chunk)
    },
    /** Returns and forgets the unfinished lines of every key starting with `prefix`. */
    flush: (prefix: string): Array<string> => {
      const out: Array<string> = []
      for (const [key, buffer] of buffers) {
        if (!key.startsWith(prefix)) continue
        out.push(...flush(buffer))
        buffers.delete(key)
      }
      return out
    }
  }
}
