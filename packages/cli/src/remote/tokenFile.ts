/**
 * Where a served manager's token lives: one 0600 file per address in `<state directory>/server/`, written by
 * `tasks shell --serve` and `tasks demo --serve`, and read by the remote commands when no token is given, so
 * `tasks ls --connect http://127.0.0.1:7420` works on the same machine without copying the token around.
 *
 * @since 0.1.0
 */
import { Journal } from "@effect-tasks/node"
import { TaskClient } from "@effect-tasks/server"
import { createHash } from "node:crypto"
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"

/** The directory of token files (mode 0700). */
export const directory = (stateDirectory: string = Journal.defaultStateDirectory()): string =>
  join(stateDirectory, "server")

/** A file name for a server address: `127.0.0.1-7420.token`, or `socket-<hash of the path>.token`. */
export const fileName = (connect: string): string => {
  const target = TaskClient.parseTarget(connect)
  if (target._tag === "Socket") {
    return `socket-${createHash("sha256").update(resolve(target.path)).digest("hex").slice(0, 16)}.token`
  }
  const url = new URL(target.url)
  const host = url.hostname.replace(/[^A-Za-z0-9.-]/g, "_")
  return `${host}-${url.port || (url.protocol === "https:" ? "443" : "80")}.token`
}

/** The path of the token file of a server address. */
export const path = (connect: string, stateDirectory?: string): string =>
  join(directory(stateDirectory), fileName(connect))

/** Writes a token for `connect`, readable by its owner only (0600, in a 0700 directory); returns the path. */
export const write = (connect: string, token: string, stateDirectory?: string): string => {
  const dir = directory(stateDirectory)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  chmodSync(dir, 0o700)
  const file = path(connect, stateDirectory)
  // Written aside, then renamed: the file never exists with the token and a wider mode.
  const temporary = `${file}.${process.pid}.tmp`
  writeFileSync(temporary, `${token}\n`, { mode: 0o600, flag: "w" })
  chmodSync(temporary, 0o600)
  renameSync(temporary, file)
  return file
}

/** The token saved for `connect`, if there is one. */
export const read = (connect: string, stateDirectory?: string): string | undefined => {
  try {
    const token = readFileSync(path(connect, stateDirectory), "utf8").trim()
    return token.length > 0 ? token : undefined
  } catch {
    return undefined
  }
}
