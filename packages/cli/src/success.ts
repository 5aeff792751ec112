/**
 * `tasks run --success`: which commands must exit with 0 for the run to exit with 0, as `concurrently`
 * defines it. `all` (the default): every command; `first`: the first command to end; `last`: the last one
 * to end; `command-X`: the commands named X (or at index X); `!command-X`: every command but those. A
 * command that never started (still QUEUED when the run stopped) does not count.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"

/** A success condition. */
export type Condition =
  | { readonly _tag: "All" }
  | { readonly _tag: "First" }
  | { readonly _tag: "Last" }
  | { readonly _tag: "Command"; readonly target: string; readonly negated: boolean }

/** Parses `first`, `last`, `all`, `command-X` or `!command-X`. */
export const parse = (text: string): Option.Option<Condition> => {
  switch (text) {
    case "all":
      return Option.some({ _tag: "All" })
    case "first":
      return Option.some({ _tag: "First" })
    case "last":
      return Option.some({ _tag: "Last" })
  }
  const match = /^(!?)command-(.+)$/.exec(text)
  return match === null ? Option.none() : Option.some({ _tag: "Command", target: match[2]!, negated: match[1] === "!" })
}

/** The one-line error for a value `parse` rejected. */
export const invalidMessage = (text: string): string =>
  `one of first, last, all, command-NAME, command-INDEX, !command-NAME, !command-INDEX (got "${text}")`

/** The text of a condition, as typed. */
export const format = (condition: Condition): string =>
  condition._tag === "Command"
    ? `${condition.negated ? "!" : ""}command-${condition.target}`
    : condition._tag.toLowerCase()

/** Whether command `index` named `name` is one `command-X` points at (X is a name or an index). */
const targets = (target: string, index: number, name: string): boolean => name === target || String(index) === target

/** Why a condition cannot apply to these commands (a `command-X` that names none of them), if it cannot. */
export const check = (condition: Condition, names: ReadonlyArray<string>): string | undefined => {
  if (condition._tag !== "Command" || names.some((name, i) => targets(condition.target, i, name))) return undefined
  return `--success ${format(condition)}: no command is named or numbered "${condition.target}" (names: ${
    names.join(", ")
  })`
}

/** How one command ended, as the decision sees it. */
export interface Outcome {
  readonly index: number
  readonly name: string
  /** 0 for a success; else its exit code, or 128 + the number of the signal that killed it. */
  readonly code: number
  /** Whether it failed on its own, rather than being stopped by the run (kill-others, a signal). */
  readonly failed: boolean
}

/** The outcomes (in the order the commands ended) that the condition looks at. */
export const deciding = (condition: Condition, ended: ReadonlyArray<Outcome>): ReadonlyArray<Outcome> => {
  switch (condition._tag) {
    case "All":
      return ended
    case "First":
      return ended.slice(0, 1)
    case "Last":
      return ended.slice(-1)
    case "Command":
      return ended.filter((outcome) => targets(condition.target, outcome.index, outcome.name) !== condition.negated)
  }
}

/**
 * The run's exit code: the code of the first deciding command that failed on its own; else, if a signal
 * stopped the run, `signalCode` (128 + its number); else the code of the first deciding command that did
 * not exit with 0 (a command stopped by kill-others: 143 for SIGTERM, or its own code if it exited on the
 * signal); else 1 if `command-X` points at commands that never ran; else 0.
 */
export const exitCode = (
  condition: Condition,
  ended: ReadonlyArray<Outcome>,
  signalCode: number | undefined
): number => {
  const chosen = deciding(condition, ended)
  const failure = chosen.find((outcome) => outcome.failed)
  if (failure !== undefined) return failure.code
  if (signalCode !== undefined) return signalCode
  const bad = chosen.find((outcome) => outcome.code !== 0)
  if (bad !== undefined) return bad.code
  return condition._tag === "Command" && !condition.negated && chosen.length === 0 ? 1 : 0
}
