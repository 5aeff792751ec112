/**
 * Splitting chunks of output into lines. Output arrives in arbitrary chunks; a line buffer per source holds
 * the unfinished tail until its newline arrives. A line a program redraws with carriage returns (a progress
 * bar: `10%\r20%\r100%\n`) is one line whose final state is what follows its last `\r`, as a terminal shows
 * it; a `\r\n` line end is a plain line end.
 *
 * @since 0.1.0
 */

/** A buffer of the unfinished last line of one source. */
export interface LineBuffer {
  pending: string
}

/** An empty buffer. */
export const make = (): LineBuffer => ({ pending: "" })

/**
 * What a terminal leaves of a line: the text after its last carriage return (a trailing `\r` of a `\r\n`
 * ending aside). A line redrawn to nothing (`abc\r`) keeps its last non-empty state.
 */
export const collapse = (line: string): string => {
  let end = line.length
  while (end > 0 && line.charCodeAt(end - 1) === 13) end--
  const text = end === line.length ? line : line.slice(0, end)
  const start = text.lastIndexOf("\r")
  return start < 0 ? text : text.slice(start + 1)
}

/** Adds a chunk and returns the lines it completed (without their line ends, progress redraws collapsed). */
export const push = (buffer: LineBuffer, chunk: string): Array<string> => {
  const parts = (buffer.pending + chunk).split("\n")
  buffer.pending = parts.pop()!
  return parts.map(collapse)
}

const newlines = /\n/g

/**
 * Adds a chunk and returns the lines it completed as one string, each line after `prefix` and ended with a
 * newline (`""` if none). The fast path of `push` for output that goes to a file or a pipe: one pass over the
 * text when it holds no carriage return.
 */
export const pushPrefixed = (buffer: LineBuffer, chunk: string, prefix: string): string => {
  const last = chunk.lastIndexOf("\n")
  if (last < 0) {
    buffer.pending += chunk
    return ""
  }
  const complete = buffer.pending + chunk.slice(0, last)
  buffer.pending = chunk.slice(last + 1)
  // A global regular expression replaces faster than `replaceAll` (B8); `$` in the prefix is escaped, as the
  // replacement would otherwise read `$&` or `$1` in a command's name as a pattern.
  if (complete.indexOf("\r") < 0) {
    return `${prefix}${complete.replace(newlines, `\n${prefix.replaceAll("$", "$$$$")}`)}\n`
  }
  let out = ""
  for (const line of complete.split("\n")) out += `${prefix}${collapse(line)}\n`
  return out
}

/** The unfinished line as a terminal would show it now, if there is one. */
export const pending = (buffer: LineBuffer): string | undefined =>
  buffer.pending.length === 0 ? undefined : collapse(buffer.pending)

/** Returns the unfinished line, if any, and empties the buffer (call it when the source ends). */
export const flush = (buffer: LineBuffer): Array<string> => {
  const rest = buffer.pending
  buffer.pending = ""
  return rest.length === 0 ? [] : [collapse(rest)]
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
