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
   * (0: after the text, where a prompt's input goes). Drawing the same lines again writes nothing.
   */
  readonly update: (lines: ReadonlyArray<string>, back?: number) => void
  /** Erases the region, leaving the cursor where it began; later updates draw it again. */
  readonly clear: () => void
  /** Clears the screen (and, with `scrollback`, the terminal's history) and draws the region at the top. */
  readonly clearScreen: (scrollback?: boolean) => void
}

const ESC = "\x1b["

/**
 * A region drawn on `sink`. After a resize, the terminal may have re-wrapped the rows already drawn (tmux,
 * VTE, iTerm2 and kitty reflow a narrowed line onto several rows), so the next erase counts the rows each
 * drawn line takes at the new width, and a narrower terminal leaves no stale fragment of the old region.
 */
export const make = (sink: Sink): LiveRegion => {
  let lines: ReadonlyArray<string> = []
  let back = 0
  // What is on the screen: the width of each drawn row, the columns they were drawn for, the cursor's column.
  let drawn: ReadonlyArray<number> = []
  let drawnColumns = 0
  let cursorColumn = 0
  let drawnText = ""

  // Moves from the cursor's row to the region's first row and erases down. Rows drawn for another width
  // take ceil(width / columns) rows each once the terminal has re-wrapped them.
  const erase = () => {
    if (drawn.length === 0) return ""
    const columns = Math.max(1, sink.columns())
    const rows = (w: number) => columns === drawnColumns ? 1 : Math.max(1, Math.ceil(w / columns))
    let up = 0
    for (let i = 0; i < drawn.length - 1; i++) up += rows(drawn[i]!)
    if (columns !== drawnColumns) up += Math.floor(Math.max(0, cursorColumn - 1) / columns)
    return `\r${up > 0 ? `${ESC}${up}A` : ""}${ESC}J`
  }

  const draw = () => {
    const columns = sink.columns()
    const width = Math.max(10, columns - 1)
    const height = Math.max(1, sink.rows() - 1)
    // A line with a line break in it would take rows the erase does not count: each part is a row.
    const rows = lines.flatMap((line) => line.split("\n"))
    const shown = (rows.length > height ? rows.slice(rows.length - height) : rows)
      .map((line) => Color.truncate(line, width))
    drawn = shown.map(Color.width)
    drawnColumns = columns
    const last = drawn[drawn.length - 1] ?? 0
    const cursorBack = Math.min(back, last)
    cursorColumn = last - cursorBack
    drawnText = shown.join("\n") + (cursorBack > 0 ? `${ESC}${cursorBack}D` : "")
    return drawnText
  }

  if (!sink.isTTY) {
    return {
      live: false,
      print: (text) => sink.write(text.endsWith("\n") ? text : `${text}\n`),
      update: () => {},
      clear: () => {},
      clearScreen: () => {}
    }
  }
  return {
    live: true,
    print: (text) => sink.write(erase() + (text.endsWith("\n") ? text : `${text}\n`) + draw()),
    update: (next, cursorBack = 0) => {
      const before = drawnText
      const sameSize = sink.columns() === drawnColumns
      const erasing = erase()
      lines = next
      back = cursorBack
      const text = draw()
      if (sameSize && text === before && erasing !== "") return
      sink.write(erasing + text)
    },
    clear: () => {
      sink.write(erase())
      drawn = []
      drawnText = ""
      lines = []
      back = 0
    },
    clearScreen: (scrollback = false) => {
      drawn = []
      sink.write(`${ESC}H${ESC}2J${scrollback ? `${ESC}3J` : ""}${draw()}`)
    }
  }
}
