/**
 * Plain-text tables: a header, aligned columns, two spaces between them. Widths ignore ANSI
 * escapes, so coloured cells line up; a too-wide table shrinks its widest shrinkable column.
 *
 * @since 0.1.0
 */
import * as Color from "./color.js"

/** One column: its header, alignment, and whether it may be cut to fit `maxWidth`. */
export interface Column {
  readonly header: string
  readonly align?: "left" | "right" | undefined
  readonly shrink?: boolean | undefined
}

/** Options of `render`. */
export interface TableOptions {
  /** Total width available (e.g. the terminal's columns); unlimited when undefined. */
  readonly maxWidth?: number | undefined
  /** A style for the header row. */
  readonly header?: Color.Style | undefined
}

const gap = "  "

/** Renders rows of cells (strings, possibly coloured) under `columns`; one string per line, no trailing spaces. */
export const render = (
  columns: ReadonlyArray<Column>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  options: TableOptions = {}
): Array<string> => {
  const widths = columns.map((column, i) =>
    Math.max(Color.width(column.header), ...rows.map((row) => Color.width(row[i] ?? "")))
  )
  if (options.maxWidth !== undefined) {
    const total = () => widths.reduce((sum, w) => sum + w, 0) + gap.length * (columns.length - 1)
    let excess = total() - options.maxWidth
    while (excess > 0) {
      let widest = -1
      columns.forEach((column, i) => {
        if (column.shrink === true && widths[i]! > 8 && (widest < 0 || widths[i]! > widths[widest]!)) widest = i
      })
      if (widest < 0) break
      const cut = Math.min(excess, widths[widest]! - 8)
      widths[widest] = widths[widest]! - cut
      excess -= cut
    }
  }
  const line = (cells: ReadonlyArray<string>) =>
    columns
      .map((column, i) => Color.pad(Color.truncate(cells[i] ?? "", widths[i]!), widths[i]!, column.align ?? "left"))
      .join(gap)
      .trimEnd()
  const style = options.header ?? ((text: string) => text)
  return [style(line(columns.map((column) => column.header))), ...rows.map(line)]
}
