/**
 * Ctrl-R: reverse incremental search through the history, as in bash. Typing narrows the search, Ctrl-R
 * again finds the next older match, Enter runs the match, Esc or an editing key takes it into the line,
 * Ctrl-G or Ctrl-C gives up and puts back the line as it was. Pure: state and key in, state out.
 *
 * @since 0.1.0
 */
import * as Editor from "./editor.js"

/** A search under way. */
export interface Search {
  readonly query: string
  /** The history index of the current match; `undefined` while nothing matches (or nothing is typed yet). */
  readonly match: number | undefined
  /** The line as it was when the search began, for Ctrl-G. */
  readonly original: Editor.Editor
}

/** Starts a search from the editor's current state. */
export const start = (editor: Editor.Editor): Search => ({ query: "", match: undefined, original: editor })

/** The newest entry at or before `from` that contains `query`. */
const find = (history: ReadonlyArray<string>, query: string, from: number): number | undefined => {
  if (query.length === 0) return undefined
  for (let i = Math.min(from, history.length - 1); i >= 0; i--) if (history[i]!.includes(query)) return i
  return undefined
}

/** The line the search shows: the match, or the original line while there is none. */
export const shown = (search: Search): string =>
  search.match === undefined ? search.original.text : search.original.history[search.match]!

/** Whether the search has a query that matches nothing. */
export const failed = (search: Search): boolean => search.query.length > 0 && search.match === undefined

/** What a key does to a search: go on, run a line, take a line into the editor, or give up. */
export type Step =
  | { readonly _tag: "Continue"; readonly search: Search }
  | { readonly _tag: "Run"; readonly editor: Editor.Editor }
  | { readonly _tag: "Accept"; readonly editor: Editor.Editor; readonly key: Editor.Key | undefined }
  | { readonly _tag: "Cancel"; readonly editor: Editor.Editor }

const accepted = (search: Search): Editor.Editor => {
  const { original } = search
  if (search.match === undefined) return original
  const text = original.history[search.match]!
  // The cursor where the match starts, as bash leaves it.
  return { ...original, text, cursor: Math.max(0, text.indexOf(search.query)), browsing: search.match }
}

/** Applies a key to a search. */
export const apply = (search: Search, key: Editor.Key): Step => {
  const history = search.original.history
  if (key.ctrl === true && key.name === "r") {
    const from = search.match === undefined ? history.length - 1 : search.match - 1
    const match = find(history, search.query, from)
    // No older match: stay on this one (bash beeps).
    return { _tag: "Continue", search: match === undefined ? search : { ...search, match } }
  }
  if (key.ctrl === true && (key.name === "g" || key.name === "c")) return { _tag: "Cancel", editor: search.original }
  if (key.name === "return" || key.name === "enter") return { _tag: "Run", editor: accepted(search) }
  if (key.name === "backspace" && key.meta !== true) {
    const query = search.query.slice(0, -1)
    return { _tag: "Continue", search: { ...search, query, match: find(history, query, history.length - 1) } }
  }
  if (Editor.isPrintable(key)) {
    const query = search.query + key.sequence!
    const from = search.match ?? history.length - 1
    return { _tag: "Continue", search: { ...search, query, match: find(history, query, from) } }
  }
  // Esc takes the match as it is; any other key takes it and then does what it does in the editor.
  return { _tag: "Accept", editor: accepted(search), key: key.name === "escape" ? undefined : key }
}
