/**
 * The shell's working directory and environment: where later commands start and what they inherit.
 * `cd`, `export` and `unset` change them, as in bash; a task already running keeps what it started with.
 *
 * @since 0.1.0
 */
import { accessSync, constants, statSync } from "node:fs"
import { homedir } from "node:os"
import { isAbsolute, resolve } from "node:path"

/** The directory and variables later commands get. */
export interface Environment {
  readonly cwd: string
  readonly env: Readonly<Record<string, string>>
  /** What this shell exported (a value) or unset (`undefined`), in order, for `export` with no argument. */
  readonly changes: ReadonlyMap<string, string | undefined>
}

/** The environment `tasks shell` starts with: its own. */
export const current = (): Environment => {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value
  return { cwd: process.cwd(), env, changes: new Map() }
}

/** The home directory (`$HOME`, else the user's). */
export const home = (environment: Environment): string => environment.env.HOME ?? homedir()

/** The result of `cd`: the new environment, or why not. */
export type Changed =
  | { readonly _tag: "Changed"; readonly environment: Environment }
  | { readonly _tag: "Refused"; readonly message: string }

const refused = (message: string): Changed => ({ _tag: "Refused", message })

/**
 * Changes directory: `undefined` is home, `-` the previous directory (`$OLDPWD`), anything else relative to
 * the current one. The directory must exist and be searchable; `PWD` and `OLDPWD` follow, as in sh.
 */
export const cd = (environment: Environment, directory: string | undefined): Changed => {
  let target: string
  if (directory === undefined) target = home(environment)
  else if (directory === "-") {
    const previous = environment.env.OLDPWD
    if (previous === undefined) return refused("cd: OLDPWD not set")
    target = previous
  } else target = isAbsolute(directory) ? directory : resolve(environment.cwd, directory)
  target = resolve(target)
  const shown = directory ?? target
  try {
    if (!statSync(target).isDirectory()) return refused(`cd: not a directory: ${shown}`)
    accessSync(target, constants.X_OK)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return refused(
      code === "ENOENT" ? `cd: no such directory: ${shown}` : code === "EACCES" ?
        `cd: permission denied: ${shown}` :
        `cd: ${shown}: ${(error as Error).message}`
    )
  }
  const env = { ...environment.env, OLDPWD: environment.cwd, PWD: target }
  return { _tag: "Changed", environment: { ...environment, cwd: target, env } }
}

/** Sets variables for later commands. */
export const exportAll = (
  environment: Environment,
  assignments: ReadonlyArray<readonly [string, string]>
): Environment => {
  const env = { ...environment.env }
  const changes = new Map(environment.changes)
  for (const [name, value] of assignments) {
    env[name] = value
    changes.delete(name)
    changes.set(name, value)
  }
  return { ...environment, env, changes }
}

/** Removes variables for later commands. */
export const unset = (environment: Environment, names: ReadonlyArray<string>): Environment => {
  const env = { ...environment.env }
  const changes = new Map(environment.changes)
  for (const name of names) {
    delete env[name]
    changes.delete(name)
    changes.set(name, undefined)
  }
  return { ...environment, env, changes }
}

/** A value quoted for `sh`, for listing: `'it'\''s'`. */
export const quote = (value: string): string =>
  /^[\w@%+=:,./-]*$/.test(value) ? value : `'${value.replace(/'/g, "'\\''")}'`

/** What `export` with no argument lists: this shell's changes, as the lines that would make them. */
export const describeChanges = (environment: Environment): Array<string> =>
  Array.from(
    environment.changes,
    ([name, value]) => value === undefined ? `unset ${name}` : `export ${name}=${quote(value)}`
  )
