/**
 * A live region at the bottom of the terminal: lines printed with `print` scroll above it, and the
 * region itself (a table, a status line and a prompt) is redrawn in place. On anything that is not
 * a terminal the region is never drawn and `print` is a plain write, so logs stay clean.
 *
 * @since 0.1.0
 */
import * as Color from "./color.js"

/** Where the region is drawn. */
export interface Sink {
  readonly write: (text: string) => void
  /** Whether the sink is a terminal (the region is drawn only then). */
  readonly isTTY: boolean
  /** The terminal's width, for cutting region lines so they never wrap. */
  readonly columns: () => number
  /** The terminal's height: a taller region is cut (its last lines kept) so it can be redrawn in place. */
  readonly rows: () => number
}

/** A live region. */
export interface LiveRegion {
  /** Whether the region is drawn (the sink is a terminal). */
  readonly live: boolean
  /** Prints text above the region (a newline is added if missing), then redraws the region. */
  readonly print: (text: string) => void
  /**
   * Replaces the region's lines. The cursor ends on the last line, `back` columns before its end
   * (0: after the text, where a prompt's input goes).
   */
  readonly update: (lines: ReadonlyArray<string>, back?: number) => void
  /** Erases the region, leaving the cursor where it began; later updates draw it again. */
  readonly clear: () => void
}

const ESC = "\x1b["

/** A region drawn on `sink`. */
export const make = (sink: Sink): LiveRegion => {
  let lines: ReadonlyArray<string> = []
  let back = 0
  let drawnHeight = 0

  // Moves from the cursor's row (the last row drawn) to the region's first row and erases down.
  const erase = () => drawnHeight <= 0 ? "" : `\r${drawnHeight > 1 ? `${ESC}${drawnHeight - 1}A` : ""}${ESC}J`

  const draw = () => {
    const width = Math.max(10, sink.columns() - 1)
    const height = Math.max(1, sink.rows() - 1)
    const shown = lines.length > height ? lines.slice(lines.length - height) : lines
    drawnHeight = shown.length
    return shown.map((line) => Color.truncate(line, width)).join("\n") + (back > 0 ? `${ESC}${back}D` : "")
  }

  if (!sink.isTTY) {
    return {
      live: false,
      print: (text) => sink.write(text.endsWith("\n") ? text : `${text}\n`),
      update: () => {},
      clear: () => {}
    }
  }
  return {
    live: true,
    print: (text) => sink.write(erase() + (text.endsWith("\n") ? text : `${text}\n`) + draw()),
    update: (next, cursorBack = 0) => {
      const before = erase()
      lines = next
      back = cursorBack
      sink.write(before + draw())
    },
    clear: () => {
      sink.write(erase())
      drawnHeight = 0
      lines = []
      back = 0
    }
  }
}
