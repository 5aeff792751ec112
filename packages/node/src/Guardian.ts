/**
 * No orphans even when the host dies: a guardian process per manager, and a journal for what the guardian
 * cannot cover.
 *
 * Finalizers only run while the host lives to run them. When the process that owns a manager dies without them
 * (SIGKILL, the OOM killer, a crash, `process.exit()` deep in a library, a closed terminal), the detached
 * process groups its tasks started would run on for ever. The guardian prevents that: a small `node` process
 * started once per manager, in a session of its own, whose stdin is a pipe from the host. The host tells it,
 * one JSON line each and without waiting, about every process a task starts and every tree that has been
 * cleaned up (through `TaskProcesses.ProcessObserver`). When the host dies, however it dies, the kernel closes
 * the pipe; the guardian then kills every tree the host's tasks still own (same discovery and identity checks
 * as revoke: SIGTERM, a short grace, SIGKILL) and exits. After a normal shutdown nothing is owned any more, so
 * closing the pipe just makes it exit.
 *
 * The journal (see `Journal`) records the same lines in the state directory, so that the next manager, or
 * `tasks reap`, can kill what was left when the guardian died too.
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import * as Journal from "./internal/JournalFile.js"
import {
  CLOSE_LINE,
  encodeCgroup,
  encodeCgroupRemoved,
  encodeCleaned,
  encodeStarted,
  LiveSet
} from "./internal/Leftovers.js"
import { hasProcFs, readIdentity } from "./internal/ProcessIdentity.js"
import { COOKIE_VARIABLE } from "./internal/ProcessTable.js"
import { ProcessObserver, type ProcessObserverShape } from "./internal/TaskProcesses.js"
import * as JournalReap from "./Journal.js"

/**
 * The built guardian entry point this module would start, or `undefined` if it is not there. From `dist/` it is
 * the sibling `guardian-main.js`; when this module runs from `src/` (tests through an alias) it is
 * `../dist/guardian-main.js`, so the package must have been built.
 *
 * @since 0.1.0
 * @category configuration
 */
export const defaultEntry = (): string | undefined => {
  const relative = import.meta.url.endsWith(".ts") ? "../dist/internal/guardian-main.js" : "./internal/guardian-main.js"
  const path = fileURLToPath(new URL(relative, import.meta.url))
  return existsSync(path) ? path : undefined
}

/**
 * How to start a guardian.
 *
 * - `grace`: what the guardian gives SIGTERM before SIGKILL when it cleans up after a dead host (default 1 s).
 * - `entry`: the guardian script (default `defaultEntry()`); it is run with `process.execPath`.
 * - `journal`: a journal file the guardian removes once it has cleaned up after a dead host.
 * - `onLost`: called once if the guardian exits (or cannot be started) while the host still needs it.
 *
 * @since 0.1.0
 * @category configuration
 */
export interface GuardianOptions {
  readonly grace?: Duration.Input | undefined
  readonly entry?: string | undefined
  readonly journal?: string | undefined
  readonly onLost?: ((reason: string) => void) | undefined
}

/**
 * A guardian could not be started (no built entry, or `spawn` failed).
 *
 * @since 0.1.0
 * @category errors
 */
export class GuardianUnavailable extends Schema.TaggedError<GuardianUnavailable>()("GuardianUnavailable", {
  reason: Schema.String
}) {
  override get message(): string {
    return `guardian unavailable: ${this.reason}`
  }
}

/**
 * A running guardian. `send` writes one encoded record to the pipe without waiting (never throws; a no-op once
 * the guardian is gone); `alive` tells whether it still runs; `close` ends the pipe and waits (at most 2 s) for
 * the guardian to exit; `dismiss` is for a host that owns nothing any more: the guardian would only exit, so it
 * is stopped (SIGKILL) instead of being waited for, which matters when it has not even finished starting. `start`
 * closes it when its scope closes.
 *
 * @since 0.1.0
 * @category models
 */
export interface Guardian {
  readonly pid: number
  readonly send: (line: string) => void
  readonly alive: () => boolean
  readonly close: Effect.Effect<void>
  readonly dismiss: Effect.Effect<void>
}

// In a single executable application `process.execPath` runs the embedded program, not a script.
const isSingleExecutable = (): boolean => {
  try {
    const sea = process.getBuiltinModule?.("node:sea") as { isSea?: () => boolean } | undefined
    return sea?.isSea?.() === true
  } catch {
    return false
  }
}

const guardianEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, ELECTRON_RUN_AS_NODE: "1" }
  // Not a task process: it must not carry a task's cookie (or it would be found, and killed, as one).
  delete env[COOKIE_VARIABLE]
  // Loaders and flags meant for the host only slow the guardian down.
  delete env.NODE_OPTIONS
  return env
}

/**
 * Starts a guardian for this process and returns it; the guardian is closed (pipe ended, exit awaited) when
 * the scope closes. The child is `unref`ed: it never keeps the host alive.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (options: GuardianOptions = {}): Effect.Effect<Guardian, GuardianUnavailable, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      if (process.platform === "win32") {
        return Effect.fail(new GuardianUnavailable({ reason: "not supported on Windows (use job objects)" }))
      }
      if (isSingleExecutable()) {
        return Effect.fail(
          new GuardianUnavailable({ reason: "a single executable application cannot run the guardian script" })
        )
      }
      const entry = options.entry ?? defaultEntry()
      if (entry === undefined || !existsSync(entry)) {
        return Effect.fail(
          new GuardianUnavailable({
            reason: entry === undefined
              ? "guardian-main.js not found (is @effect-tasks/node built?)"
              : `no guardian script at ${entry}`
          })
        )
      }
      const host = readIdentity(process.pid) ?? { pid: process.pid, startTime: -1 }
      const config = {
        host,
        grace: Math.max(0, Duration.toMillis(Duration.fromInputUnsafe(options.grace ?? "1 second"))),
        journal: options.journal
      }
      let child: ChildProcess
      try {
        child = spawn(process.execPath, [entry, JSON.stringify(config)], {
          detached: true,
          stdio: ["pipe", "ignore", "ignore"],
          env: guardianEnv()
        })
      } catch (error) {
        return Effect.fail(new GuardianUnavailable({ reason: String(error) }))
      }
      const stdin = child.stdin
      if (child.pid === undefined || stdin === null) {
        child.on("error", () => {})
        return Effect.fail(new GuardianUnavailable({ reason: "spawn failed" }))
      }
      let exited = false
      let closing = false
      const exit = Deferred.makeUnsafe<void>()
      const lost = (reason: string) => {
        if (!closing) options.onLost?.(reason)
      }
      child.on("error", (error) => {
        exited = true
        lost(`guardian failed: ${error.message}`)
        Deferred.doneUnsafe(exit, Effect.void)
      })
      child.on("exit", (code, signal) => {
        exited = true
        lost(`guardian exited (${signal ?? `code ${code}`})`)
        Deferred.doneUnsafe(exit, Effect.void)
      })
      stdin.on("error", () => {}) // EPIPE after the guardian died: reported through "exit"
      child.unref()
      ;(stdin as unknown as { unref?: () => void }).unref?.()
      const awaitExit = Deferred.await(exit).pipe(Effect.timeoutOption(Duration.seconds(2)), Effect.asVoid)
      const guardian: Guardian = {
        pid: child.pid,
        send: (line) => {
          if (!exited && !closing) stdin.write(line)
        },
        alive: () => !exited,
        close: Effect.suspend(() => {
          if (!closing) {
            closing = true
            stdin.end(CLOSE_LINE)
          }
          return awaitExit
        }),
        dismiss: Effect.suspend(() => {
          if (!closing) {
            closing = true
            // Not reaped while `exited` is false, so the pid is still this child's.
            if (!exited) child.kill("SIGKILL")
            stdin.destroy()
          }
          return awaitExit
        })
      }
      return Effect.succeed(guardian)
    }),
    (guardian) => guardian.close
  )

/**
 * What to do when the host dies: `guardian` (default `true`) starts a guardian process; `journal` (default: same as
 * `guardian`) records live processes in `stateDirectory` and reaps dead instances' leftovers at start;
 * `stateDirectory` defaults to `Journal.defaultStateDirectory()`; `grace` is the manager's grace, of which the
 * guardian and the reaper use at most one second; `guardianEntry` overrides the guardian script (for bundled
 * applications that ship `guardian-main.js` elsewhere).
 *
 * @since 0.1.0
 * @category configuration
 */
export interface HostDeathConfig {
  readonly guardian?: boolean | undefined
  readonly journal?: boolean | undefined
  readonly stateDirectory?: string | undefined
  readonly grace?: Duration.Input | undefined
  readonly guardianEntry?: string | undefined
}

const cappedGrace = (grace: Duration.Input | undefined): number =>
  Math.min(1_000, Math.max(0, Duration.toMillis(Duration.fromInputUnsafe(grace ?? "5 seconds"))))

/**
 * Provides a `TaskProcesses.ProcessObserver` that feeds a guardian and a journal, as configured. Building it
 * reaps the leftovers of dead instances (journal on), opens this instance's journal and starts the guardian;
 * each that fails is reported once with `Effect.logWarning` and the rest keeps working. Closing it (after the
 * manager that depends on it has shut down) ends the guardian and removes the journal if nothing is left.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (config: HostDeathConfig): Layer.Layer<never> =>
  Layer.effect(
    ProcessObserver,
    Effect.gen(function*() {
      const grace = cappedGrace(config.grace)
      const useGuardian = config.guardian ?? true
      const useJournal = config.journal ?? useGuardian
      const defaultObserver: ProcessObserverShape = yield* ProcessObserver
      if (!useGuardian && !useJournal) return defaultObserver
      if (process.platform === "win32") {
        yield* Effect.logWarning("effect-tasks: guardian and journal are not available on Windows; option ignored")
        return defaultObserver
      }
      const stateDirectory = config.stateDirectory ?? Journal.defaultStateDirectory()

      let journal: Journal.JournalWriter | undefined
      if (useJournal) {
        const report = yield* JournalReap.reap(stateDirectory, { grace })
        const found = report.journals.reduce((n, journal) => n + journal.found.length, 0)
        if (found > 0) {
          yield* Effect.logWarning(
            `effect-tasks: killed ${found} leftover process(es) of dead task manager instance(s)`
          ).pipe(Effect.annotateLogs({ stateDirectory }))
        }
        const warned = Deferred.makeUnsafe<string>()
        yield* Effect.forkScoped(Deferred.await(warned).pipe(Effect.flatMap((message) => Effect.logWarning(message))), {
          startImmediately: true
        })
        try {
          journal = Journal.open(stateDirectory, {
            onError: (error) =>
              Deferred.doneUnsafe(warned, Effect.succeed(`effect-tasks: journal write failed, journal off: ${error}`))
          })
          const opened = journal
          yield* Effect.addFinalizer(() => Effect.sync(() => opened.close()))
        } catch (error) {
          yield* Effect.logWarning(`effect-tasks: cannot open a journal in ${stateDirectory}: ${error}`)
        }
      }

      let guardian: Guardian | undefined
      if (useGuardian) {
        const lost = Deferred.makeUnsafe<string>()
        yield* Effect.forkScoped(Deferred.await(lost).pipe(Effect.flatMap((message) => Effect.logWarning(message))), {
          startImmediately: true
        })
        const started = yield* start({
          grace,
          entry: config.guardianEntry,
          journal: journal?.file,
          onLost: (reason) =>
            Deferred.doneUnsafe(
              lost,
              Effect.succeed(`effect-tasks: ${reason}; processes will be orphaned if this process dies`)
            )
        }).pipe(Effect.result)
        if (Result.isSuccess(started)) guardian = started.success
        else {
          yield* Effect.logWarning(
            `effect-tasks: ${started.failure.message}; processes will be orphaned if this process dies`
          )
        }
      }

      if (guardian === undefined && journal === undefined) return defaultObserver
      const pipe = guardian
      const file = journal
      // The journal gets a `started` line before the spawn returns, so a host that dies a moment later is covered.
      // Everything else is written in batches, at most 20 ms late: the `cleaned` lines (a task's cookie covers its
      // spawns', so most spawns cost one line there instead of two) and, where the guardian also sweeps the dead
      // host's cookie instance (Linux), the guardian's `started` lines too, so that a burst of spawns wakes the
      // guardian once instead of once a line. A host that dies before a batch is written leaves only trees that
      // sweep finds, or trees already gone, to kill.
      const batchStarted = hasProcFs
      let pending = ""
      let cleaned: Array<string> = []
      let scheduled = false
      const flush = () => {
        scheduled = false
        const cookies = cleaned
        cleaned = []
        const all = new Set(cookies)
        const covered = (cookie: string) => {
          for (let i = cookie.indexOf("/"); i >= 0 && i < cookie.length - 1; i = cookie.indexOf("/", i + 1)) {
            if (all.has(cookie.slice(0, i + 1))) return true
          }
          return false
        }
        const kept = [...all].filter((cookie) => !covered(cookie))
        const text = kept.map(encodeCleaned).join("")
        if (kept.length > 0) file?.cleanedAll(kept, text)
        const lines = pending + text
        pending = ""
        if (lines.length > 0) pipe?.send(lines)
      }
      const schedule = () => {
        if (scheduled) return
        scheduled = true
        setTimeout(flush, 20).unref()
      }
      // What the guardian would still own after everything sent so far: the same records, replayed here.
      const owned = new LiveSet()
      // Runs before the journal closes and the guardian's pipe ends (finalizers run last-in first-out). After a
      // shutdown that cleaned everything (the usual case), the guardian has nothing to do but exit: it is dismissed.
      yield* Effect.addFinalizer(() =>
        Effect.suspend(() => {
          flush()
          return pipe !== undefined && owned.size === 0 && owned.cgroups().length === 0 ? pipe.dismiss : Effect.void
        })
      )
      const observer: ProcessObserverShape = {
        started: (identity, cookie) => {
          owned.apply({ type: "started", pid: identity.pid, startTime: identity.startTime, cookie })
          const line = encodeStarted(identity, cookie)
          file?.started(identity, cookie, line)
          if (pipe === undefined) return
          if (!batchStarted) return pipe.send(line)
          pending += line
          schedule()
        },
        cleaned: (cookie) => {
          owned.apply({ type: "cleaned", cookie })
          cleaned.push(cookie)
          schedule()
        },
        // Rare (a manager's cgroup, a v1 directory for limits): written at once, after what is pending.
        cgroupCreated: (dir, path) => {
          owned.apply(path === undefined ? { type: "cgroup", dir } : { type: "cgroup", dir, path })
          flush()
          const line = encodeCgroup(dir, path)
          file?.cgroupCreated(dir, path, line)
          pipe?.send(line)
        },
        cgroupRemoved: (dir) => {
          owned.apply({ type: "cgroupRemoved", dir })
          flush()
          const line = encodeCgroupRemoved(dir)
          file?.cgroupRemoved(dir, line)
          pipe?.send(line)
        }
      }
      return observer
    })
  )
