/**
 * Noticing that a task reads its stdin. A shell task gets an empty pipe as stdin that nobody writes to (a socket
 * pair, as Node makes a piped stdio); while
 * it runs, the watcher looks in `/proc` (soon after the start, then less and less often) for a process of the
 * task blocked reading that pipe. When it finds one it says so (once) and closes the pipe, so the reader sees
 * end-of-file, as it would with `< /dev/null`. A program that polls its stdin instead of reading it (an event
 * loop) is not seen; it gets end-of-file only if it reads. Linux only: elsewhere the pipe is closed at once.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type { ChildProcessHandle } from "effect/process/ChildProcessSpawner"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { readdirSync, readFileSync, readlinkSync } from "node:fs"

const linkOf = (pid: number | string): string | undefined => {
  try {
    return readlinkSync(`/proc/${pid}/fd/0`)
  } catch {
    return undefined
  }
}

/** The number of `read` on this machine's architecture (what `/proc/<pid>/syscall` shows first). */
const readSyscall = process.arch === "x64" ? "0" : process.arch === "arm64" ? "63" : undefined

/**
 * Whether `pid` is asleep reading its fd 0: its current system call is `read(0, ...)` (`/proc/<pid>/syscall`),
 * or, where that file cannot be read, it sleeps in the kernel's read of a pipe or a Unix socket (Node gives a
 * child a socket pair for a piped stdio).
 */
const blockedReadingStdin = (pid: number | string): boolean => {
  try {
    const [call, fd] = readFileSync(`/proc/${pid}/syscall`, "latin1").split(" ")
    if (readSyscall !== undefined) return call === readSyscall && fd === "0x0"
  } catch {
    // not ours to read: fall back to where it sleeps
  }
  try {
    const wchan = readFileSync(`/proc/${pid}/wchan`, "latin1")
    return wchan.includes("pipe_read") || wchan.includes("unix_stream_read")
  } catch {
    return false
  }
}

/** The processes whose stdin is `pipe` (its `/proc/<pid>/fd/0` link) and that are blocked reading it. */
export const readersOf = (pipe: string, root: number): Array<number> => {
  if (linkOf(root) === pipe && blockedReadingStdin(root)) return [root]
  const found: Array<number> = []
  let entries: Array<string>
  try {
    entries = readdirSync("/proc")
  } catch {
    return found
  }
  for (const entry of entries) {
    const code = entry.charCodeAt(0)
    if (code < 48 || code > 57 || Number(entry) === root) continue
    if (linkOf(entry) === pipe && blockedReadingStdin(entry)) found.push(Number(entry))
  }
  return found
}

/** When to look: soon after the start, then less and less often. */
const delays = [30, 60, 120, 250, 500, 1000, 2000]

/**
 * Watches the task started as `handle` for a process blocked reading its stdin; then calls `onRead` and closes
 * stdin. Runs in the command's scope (it ends with the command).
 */
export const watch = (
  handle: ChildProcessHandle,
  onRead: () => void
): Effect.Effect<void, never, Scope.Scope> => {
  const close = Stream.run(Stream.empty, handle.stdin).pipe(Effect.ignore)
  const pipe = process.platform === "linux" ? linkOf(handle.pid) : undefined
  if (pipe === undefined || !(pipe.startsWith("pipe:") || pipe.startsWith("socket:"))) return close
  const look = (attempt: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (readersOf(pipe, handle.pid).length > 0) {
        onRead()
        return close
      }
      return Effect.andThen(Effect.sleep(delays[Math.min(attempt, delays.length - 1)]!), look(attempt + 1))
    })
  return Effect.asVoid(Effect.forkScoped(Effect.andThen(Effect.sleep(delays[0]!), look(1)), { startImmediately: true }))
}
