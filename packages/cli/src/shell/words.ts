/**
 * The words of a built-in's line, the way `sh` would split them: quotes (`'...'` literal, `"..."` with
 * `$NAME` expanded), backslash escapes, `$NAME` and `${NAME}` from the shell's environment, and `~` at the
 * start of a word. Only built-ins (`cd`, `export`, `unset`) are split here; command lines go to `sh -c`
 * untouched.
 *
 * @since 0.1.0
 */

/** What the expansions read: the shell's environment and the home directory. */
export interface Scope {
  readonly env: Readonly<Record<string, string | undefined>>
  readonly home: string
}

/** The words of a line, or why it cannot be split. */
export type Split =
  | { readonly _tag: "Words"; readonly words: ReadonlyArray<string> }
  | { readonly _tag: "Invalid"; readonly message: string }

const name = /^[A-Za-z_][A-Za-z0-9_]*/

/** Expands `$NAME` or `${NAME}` at `text[i]` (a `$`); returns the value and where the reference ends. */
const variable = (text: string, i: number, scope: Scope): readonly [string, number] | string => {
  if (text[i + 1] === "{") {
    const end = text.indexOf("}", i + 2)
    if (end < 0) return "missing } in ${...}"
    const inner = text.slice(i + 2, end)
    if (!name.test(inner) || name.exec(inner)![0] !== inner) return `bad substitution: \${${inner}}`
    return [scope.env[inner] ?? "", end + 1]
  }
  const match = name.exec(text.slice(i + 1))
  return match === null ? ["$", i + 1] : [scope.env[match[0]] ?? "", i + 1 + match[0].length]
}

/** Splits `text` into words. */
export const split = (text: string, scope: Scope): Split => {
  const words: Array<string> = []
  let word = ""
  let inWord = false
  let i = 0
  const finish = () => {
    if (inWord) words.push(word)
    word = ""
    inWord = false
  }
  while (i < text.length) {
    const char = text[i]!
    if (/\s/.test(char)) {
      finish()
      i++
      continue
    }
    if (!inWord && char === "~" && (i + 1 === text.length || /[\s/]/.test(text[i + 1]!))) {
      word = scope.home
      inWord = true
      i++
      continue
    }
    inWord = true
    if (char === "\\") {
      if (i + 1 < text.length) word += text[i + 1]
      i += 2
      continue
    }
    if (char === "'") {
      const end = text.indexOf("'", i + 1)
      if (end < 0) return { _tag: "Invalid", message: "unterminated ' quote" }
      word += text.slice(i + 1, end)
      i = end + 1
      continue
    }
    if (char === "\"") {
      i++
      while (i < text.length && text[i] !== "\"") {
        const inner = text[i]!
        if (inner === "\\" && i + 1 < text.length && "\"\\$`".includes(text[i + 1]!)) {
          word += text[i + 1]
          i += 2
        } else if (inner === "$") {
          const expanded = variable(text, i, scope)
          if (typeof expanded === "string") return { _tag: "Invalid", message: expanded }
          word += expanded[0]
          i = expanded[1]
        } else {
          word += inner
          i++
        }
      }
      if (i >= text.length) return { _tag: "Invalid", message: "unterminated \" quote" }
      i++
      continue
    }
    if (char === "$") {
      const expanded = variable(text, i, scope)
      if (typeof expanded === "string") return { _tag: "Invalid", message: expanded }
      word += expanded[0]
      i = expanded[1]
      continue
    }
    word += char
    i++
  }
  finish()
  return { _tag: "Words", words }
}

/**
 * Whether the line uses shell syntax beyond plain words (`;`, `&&`, `|`, redirections, subshells, command
 * substitution) outside quotes: such a line is a command for `sh`, even if it starts with `cd`.
 */
export const isCompound = (text: string): boolean => {
  let quote: string | undefined
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!
    if (quote !== undefined) {
      if (char === quote) quote = undefined
      else if (char === "\\" && quote === "\"") i++
      else if (quote === "\"" && (char === "`" || (char === "$" && text[i + 1] === "("))) return true
      continue
    }
    if (char === "\\") {
      i++
      continue
    }
    if (char === "'" || char === "\"") quote = char
    else if (";&|<>()`\n".includes(char)) return true
    else if (char === "$" && text[i + 1] === "(") return true
  }
  return false
}

/** Whether `text` is a valid environment variable name. */
export const isName = (text: string): boolean => name.test(text) && name.exec(text)![0] === text
