/**
 * An independent look at processes through /proc, for checking "every process gone" without trusting the
 * library under test (which has its own discovery). Zombies (state Z) and dead (X) count as gone: they hold
 * nothing but a table slot, and on this machine PID 1 reaps orphans late.
 *
 * Every process a benchmark sees is remembered (pid + start time) so that `sweep` can SIGKILL survivors at
 * the end, whatever went wrong.
 */
import { readdirSync, readFileSync } from "node:fs"

export interface Proc {
  readonly pid: number
  readonly ppid: number
  readonly pgid: number
  readonly state: string
  readonly startTime: number
}

/** Parses /proc/<pid>/stat (fields after the last `)`, since the command name may contain anything). */
export const parseStat = (text: string): Proc | undefined => {
  const close = text.lastIndexOf(")")
  if (close < 0) return undefined
  const pid = Number(text.slice(0, text.indexOf("(")).trim())
  const rest = text.slice(close + 2).split(" ")
  const proc = {
    pid,
    state: rest[0] ?? "?",
    ppid: Number(rest[1]),
    pgid: Number(rest[2]),
    startTime: Number(rest[19])
  }
  return Number.isInteger(pid) && Number.isInteger(proc.ppid) ? proc : undefined
}

/** One process, or undefined if it does not exist. */
export const readProc = (pid: number): Proc | undefined => {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, "latin1"))
  } catch {
    return undefined
  }
}

/** Every process now. */
export const readAll = (): Array<Proc> => {
  const all: Array<Proc> = []
  for (const entry of readdirSync("/proc")) {
    const code = entry.charCodeAt(0)
    if (code < 48 || code > 57) continue
    const proc = readProc(Number(entry))
    if (proc !== undefined) all.push(proc)
  }
  return all
}

const isDead = (state: string) => state === "Z" || state === "X" || state === "x"

/** A process we saw: pid plus start time, so a reused pid is never mistaken for it. */
export interface Seen {
  readonly pid: number
  readonly startTime: number
}

/** Whether the process is gone: no such pid, a different process under that pid, or a zombie. */
export const isGone = (seen: Seen): boolean => {
  const proc = readProc(seen.pid)
  return proc === undefined || proc.startTime !== seen.startTime || isDead(proc.state)
}

/** Whether every process in the list is gone. */
export const allGone = (seen: ReadonlyArray<Seen>): boolean => seen.every(isGone)

/** Live (not zombie) descendants of `pid`, from one snapshot of /proc. */
export const liveDescendants = (pid: number, all: ReadonlyArray<Proc> = readAll()): Array<Proc> => {
  const byParent = new Map<number, Array<Proc>>()
  for (const proc of all) {
    const list = byParent.get(proc.ppid)
    if (list === undefined) byParent.set(proc.ppid, [proc])
    else list.push(proc)
  }
  const found: Array<Proc> = []
  const queue = [pid]
  while (queue.length > 0) {
    for (const child of byParent.get(queue.pop()!) ?? []) {
      if (!isDead(child.state)) found.push(child)
      queue.push(child.pid)
    }
  }
  return found
}

const remembered = new Map<string, Seen>()

/** Remembers processes for the final `sweep`. */
export const remember = (procs: ReadonlyArray<Seen>): void => {
  for (const proc of procs) remembered.set(`${proc.pid}@${proc.startTime}`, proc)
}

/** SIGKILLs each given process still alive with the same identity; returns how many it killed. */
export const killSurvivors = (procs: ReadonlyArray<Seen>): number => {
  let killed = 0
  for (const proc of procs) {
    if (isGone(proc)) continue
    try {
      process.kill(proc.pid, "SIGKILL")
      killed++
    } catch {
      // gone meanwhile
    }
  }
  return killed
}

/** SIGKILLs every remembered process that is still alive (a safety net; a clean run kills nothing). */
export const sweep = (): number => {
  const killed = killSurvivors([...remembered.values()])
  remembered.clear()
  return killed
}

/**
 * Polls until `ready` holds, sleeping `interval` ms between looks; rejects after `timeout` ms so a broken
 * benchmark fails instead of hanging.
 */
export const waitUntil = async <A>(
  what: string,
  ready: () => A | undefined,
  options: { readonly interval?: number; readonly timeout?: number } = {}
): Promise<A> => {
  const deadline = performance.now() + (options.timeout ?? 10_000)
  while (true) {
    const value = ready()
    if (value !== undefined) return value
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, options.interval ?? 1))
  }
}

/** The command name of a process (`/proc/<pid>/comm`), or undefined if it is gone. */
export const commOf = (pid: number): string | undefined => {
  try {
    return readFileSync(`/proc/${pid}/comm`, "latin1").trim()
  } catch {
    return undefined
  }
}

/**
 * Waits until each shell in `pids` has `count` live descendants that run `comm` (e.g. its background
 * sleeps: a just-forked child is still `sh` until it execs) and returns every shell and descendant, remembered
 * for the final sweep. One /proc walk per look, however many shells.
 */
export const waitForTrees = async (
  pids: ReadonlyArray<number>,
  count: number,
  comm = "sleep",
  timeout = 20_000
): Promise<Array<Seen>> =>
  waitUntil(`${count} ${comm} under each of ${pids.length} shells`, () => {
    const all = readAll()
    const byPid = new Map(all.map((proc) => [proc.pid, proc]))
    const tree: Array<Seen> = []
    for (const pid of pids) {
      const root = byPid.get(pid)
      if (root === undefined) return undefined
      const kids = liveDescendants(pid, all).filter((kid) => commOf(kid.pid) === comm)
      if (kids.length < count) return undefined
      tree.push(root, ...kids)
    }
    const seen = tree.map(({ pid, startTime }) => ({ pid, startTime }))
    remember(seen)
    return seen
  }, { interval: 2, timeout })

/** `waitForTrees` for one shell. */
export const waitForTree = (pid: number, count: number, comm = "sleep"): Promise<Array<Seen>> =>
  waitForTrees([pid], count, comm)

/**
 * Waits until every listed process is gone and returns the milliseconds (since `start`) at which that was
 * first seen. Polls every `interval` ms; times out after `timeout` ms.
 */
export const timeUntilGone = async (
  procs: ReadonlyArray<Seen>,
  start: number,
  options: { readonly interval?: number; readonly timeout?: number } = {}
): Promise<number> => {
  await waitUntil("processes to be gone", () => (allGone(procs) ? true : undefined), {
    interval: options.interval ?? 0.5,
    timeout: options.timeout ?? 20_000
  })
  return performance.now() - start
}
