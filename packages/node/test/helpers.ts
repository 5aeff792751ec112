/**
 * Test helpers that look at the real machine: which processes carry a marker in their environment,
 * and which of them are still alive (zombies count as dead). They read /proc directly and share no
 * code with the library, so a test cannot pass because the library agrees with itself.
 */
import { Effect } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import { running } from "./fixtures/procs.js"

/** True while the process exists and is not a zombie. */
export const isAlive = running

/** Live pids whose environment contains `NAME=value`. */
export const withMarker = (name: string, value: string): Array<number> => {
  const needle = `${name}=${value}`
  const found: Array<number> = []
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry)
    if (!Number.isInteger(pid) || pid === process.pid) continue
    try {
      const env = readFileSync(`/proc/${pid}/environ`, "latin1").split("\0")
      if (env.includes(needle) && isAlive(pid)) found.push(pid)
    } catch {
      // gone, or not ours to read
    }
  }
  return found
}

/** A fresh marker value per test, so concurrent tests never see each other's processes. */
export const freshMarker = (): string => `m${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`

/** Polls (real time) until `check` is true, failing after `timeoutMs`. */
export const eventually = (check: () => boolean, timeoutMs = 5000, what = "condition") =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    while (!check()) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep("10 millis")
    }
  })

/** SIGKILLs whatever still carries the marker (test cleanup, so a failing test leaves nothing behind). */
export const killMarked = (name: string, value: string): void => {
  for (const pid of withMarker(name, value)) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
}
