/**
 * A `ChildProcessSpawner` that makes every process a task starts belong to that task, with no
 * extra call: `ChildProcess.make(...)`, the spawner's `string` / `lines` / `exitCode`, from the
 * task's own fiber, from fibers it forks, or from library code it calls.
 *
 * For each spawn inside a task it:
 * - marks the process with an environment cookie (`EFFECT_TASKS_COOKIE`) that every descendant
 *   inherits, so descendants that leave the process group or the session are still found;
 * - spawns and registers in one uninterruptible step, so a revoke that lands during the spawn
 *   still finds the process to kill (Effect's own spawner would wait for ever on a stubborn child);
 * - records the process on the task (`ProcessStarted`, then `ProcessExited` with code or signal);
 * - drains stdout and stderr into the task's bounded tail and `TaskOutput` events;
 * - when the spawn's scope closes, kills the whole tree: SIGTERM, the grace period, SIGKILL
 *   (or SIGKILL at once on a non-graceful revoke), counting zombies as dead.
 * When the task itself ends, one last sweep kills whatever still carries the task's cookie.
 *
 * Outside a task it behaves exactly like the spawner it wraps.
 *
 * @since 0.1.0
 */
import { TaskContext } from "@effect-tasks/core"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type * as PlatformError from "effect/PlatformError"
import * as ChildProcess from "effect/process/ChildProcess"
import { ChildProcessSpawner, make as makeSpawner, makeHandle } from "effect/process/ChildProcessSpawner"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as OutputTee from "./OutputTee.js"
import { type ProcessIdentity, readIdentity, startTimeNow } from "./ProcessIdentity.js"
import type { Cookie } from "./ProcessTable.js"
import type { TreeSpec } from "./ProcessTree.js"
import * as TaskProcesses from "./TaskProcesses.js"
import { killTree } from "./TreeKill.js"

/** Settings of the task-aware spawner. */
export interface TaskSpawnerConfig {
  /** Output kept for a reader that has not started reading yet, per stream. Default 64 KiB. */
  readonly replayBytes?: number | undefined
}

const wordToString = (word: ChildProcess.StandardCommand["args"][number]): string =>
  Redacted.isRedacted(word) ? "<redacted>" : String(word)

/** Adds the cookie to every command of a pipeline and puts each in its own process group. */
const mark = (command: ChildProcess.Command, cookie: string): ChildProcess.Command => {
  const copy = (patch: object) => Object.assign(Object.create(Object.getPrototypeOf(command)), command, patch)
  if (command._tag === "PipedCommand") {
    return copy({ left: mark(command.left, cookie), right: mark(command.right, cookie) })
  }
  const options = command.options
  return copy({
    options: {
      ...options,
      env: { ...options.env, [TaskProcesses.COOKIE_VARIABLE]: cookie },
      // Without `env` the child inherits ours; adding the cookie must not take that away (gotcha 8).
      extendEnv: options.env === undefined ? true : options.extendEnv,
      detached: options.detached ?? true
    }
  })
}

const describe = (command: ChildProcess.Command): { command: string; args: Array<string> } => {
  if (command._tag === "PipedCommand") {
    const left = describe(command.left)
    const right = describe(command.right)
    return { command: left.command, args: [...left.args, "|", right.command, ...right.args] }
  }
  return { command: command.command, args: command.args.map(wordToString) }
}

/** Effect reports a killed process as an error whose innermost cause names the signal. */
const signalOf = (error: unknown): string | undefined => {
  for (let current: any = error, depth = 0; current != null && depth < 5; depth++) {
    const found = /signal: '?([A-Z0-9]+)'?/.exec(String(current.message ?? current))?.[1]
    if (found !== undefined) return found
    current = current.reason?.cause ?? current.cause
  }
  return undefined
}

/** Builds the spawner over `inner` (usually Node's). */
export const make = (
  inner: ChildProcessSpawner["Service"],
  config: TaskSpawnerConfig = {}
): ChildProcessSpawner["Service"] => {
  const replayBytes = config.replayBytes ?? 65_536
  let spawnSeq = 0

  const spawnInTask = (command: ChildProcess.Command, task: TaskContext.TaskContextShape) =>
    Effect.uninterruptible(Effect.gen(function*() {
      const scope = yield* Scope.Scope
      const owned = yield* TaskProcesses.forTask(task)
      const observer = yield* TaskProcesses.ProcessObserver
      const cookie = `${owned.prefix}${++spawnSeq}/`
      const minStartTime = startTimeNow()
      const innerScope = yield* Scope.make()
      const handle = yield* inner.spawn(mark(command, cookie)).pipe(
        Scope.provide(innerScope),
        Effect.onError(() => Scope.close(innerScope, Exit.void))
      )
      const pid = handle.pid
      const identity: ProcessIdentity = readIdentity(pid) ?? { pid, startTime: -1 }
      owned.roots.push(identity)
      owned.open++
      observer.started(identity, cookie)
      const { command: name, args } = describe(command)
      task.addProcessUnsafe({ pid, command: name, args })

      const watcher = yield* Effect.forkDetach(
        Effect.flatMap(Effect.exit(handle.exitCode), (exit) =>
          Effect.sync(() => {
            if (Exit.isSuccess(exit)) task.endProcessUnsafe(pid, { exitCode: exit.value })
            else {
              task.endProcessUnsafe(pid, { signal: signalOf(Cause.squash(exit.cause)) ?? "unknown" })
            }
          })),
        { startImmediately: true }
      )

      const tee = (source: Stream.Stream<Uint8Array, PlatformError.PlatformError>, stream: "stdout" | "stderr") => {
        const decoder = new TextDecoder()
        return OutputTee.make(source, (chunk) => {
          const text = decoder.decode(chunk, { stream: true })
          if (text.length > 0) task.outputUnsafe(pid, stream, text)
        }, replayBytes)
      }
      const stdout = tee(handle.stdout, "stdout")
      const stderr = tee(handle.stderr, "stderr")
      // Pumps live in the spawn's scope; the kill below runs first (finalizers run last-in first-out).
      yield* Effect.forkIn(stdout.pump, scope, { startImmediately: true })
      yield* Effect.forkIn(stderr.pump, scope, { startImmediately: true })

      const spec: TreeSpec = {
        roots: [identity],
        cookie: { name: TaskProcesses.COOKIE_VARIABLE, prefix: cookie } satisfies Cookie,
        minStartTime
      }
      let killing = false
      // A revoke bounds every process of the task, even one that a stuck or uninterruptible piece of
      // code still waits on: SIGKILL once the grace has passed or the revoke is forced.
      yield* Effect.forkIn(
        task.revoked.pipe(
          Effect.andThen(Effect.suspend(() =>
            task.revocationUnsafe()?.graceful === false
              ? Effect.void
              : Effect.raceFirst(Effect.sleep(task.grace), task.forced)
          )),
          // The spawn's own finalizer, once it runs, escalates on time by itself.
          Effect.andThen(Effect.suspend(() => killing ? Effect.void : killTree(spec, { graceful: false, grace: 0 }))),
          Effect.ignore
        ),
        scope,
        { startImmediately: true }
      )
      yield* Scope.addFinalizer(
        scope,
        Effect.gen(function*() {
          killing = true
          if (!(yield* TaskProcesses.killFor(task, spec))) owned.unclean = true
          owned.open--
          observer.cleaned(cookie)
          // Node reaps its own child at once; wait for that so the record shows the exit.
          yield* Fiber.await(watcher).pipe(Effect.timeoutOption(Duration.seconds(1)))
          // Effect's own release only polls for a group that is already gone; let it finish apart.
          yield* Effect.forkDetach(Scope.close(innerScope, Exit.void))
        })
      )

      return makeHandle({
        ...handle,
        stdout: stdout.stream,
        stderr: stderr.stream,
        all: Stream.merge(stdout.stream, stderr.stream)
      })
    }))

  const spawn = (command: ChildProcess.Command) =>
    Effect.flatMap(
      Effect.serviceOption(TaskContext.TaskContext),
      (task) => task._tag === "Some" ? spawnInTask(command, task.value) : inner.spawn(command)
    )

  return makeSpawner(spawn)
}

/** The task-aware spawner over Node's (which needs `FileSystem` and `Path`). */
export const layer = (config: TaskSpawnerConfig = {}): Layer.Layer<ChildProcessSpawner, never, ChildProcessSpawner> =>
  Layer.effect(ChildProcessSpawner, Effect.map(ChildProcessSpawner, (inner) => make(inner, config)))
