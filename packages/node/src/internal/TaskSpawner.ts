/**
 * A `ChildProcessSpawner` that makes every process a task starts belong to that task, with no
 * extra call: `ChildProcess.make(...)`, the spawner's `string` / `lines` / `exitCode`, from the
 * task's own fiber, from fibers it forks, or from library code it calls.
 *
 * Inside a task it spawns through `node:child_process` itself, so that it owns each process's whole lifetime:
 * no signal reaches a process, its group or a recycled pid except through the identity-checked kill of this
 * package (Effect's own spawner would signal the group id on release, even after the pid was reused). For each
 * spawn it:
 * - marks the process with an environment cookie (`EFFECT_TASKS_COOKIE`) that every descendant
 *   inherits, so descendants that leave the process group or the session are still found;
 * - spawns and registers in one synchronous step, so a revoke that lands during the spawn still finds the
 *   process to kill;
 * - records the process on the task (`ProcessStarted`, then `ProcessExited` with the exit code or the signal,
 *   straight from Node's `exit` event), and what killing its tree stopped (`ProcessesStopped`);
 * - drains stdout and stderr into the task's bounded tail and `TaskOutput` events;
 * - when the spawn's scope closes, kills the whole tree: SIGTERM (then SIGCONT), the grace period, SIGKILL
 *   (or SIGKILL at once on a non-graceful revoke), until the tree is proven empty.
 * When the task itself ends, one last sweep kills whatever still carries the task's cookie.
 *
 * The handle behaves as Effect's does (same options, streams, errors and exit codes), with three differences
 * that ownership asks for: `kill` kills the whole tree with identity checks (and succeeds on a process that has
 * already exited), `unref` only lets Node's event loop exit without waiting for the process (the task still
 * kills it when the scope closes), and a process killed by a signal fails `exitCode` with a `PlatformError` whose
 * cause carries the signal (`ProcessExit.signalOf`).
 *
 * Outside a task it behaves exactly like the spawner it wraps.
 *
 * @since 0.1.0
 */
import { TaskContext } from "@effect-tasks/core"
import { flattenCommand } from "@effect/platform-node/NodeChildProcessSpawner"
import * as NodeSink from "@effect/platform-node/NodeSink"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { FileSystem } from "effect/FileSystem"
import * as Layer from "effect/Layer"
import { Path } from "effect/Path"
import * as PlatformError from "effect/PlatformError"
import * as ChildProcess from "effect/process/ChildProcess"
import {
  type ChildProcessHandle,
  ChildProcessSpawner,
  ExitCode,
  make as makeSpawner,
  makeHandle,
  ProcessId
} from "effect/process/ChildProcessSpawner"
import * as CommandLine from "effect/process/CommandLine"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import * as NodeChildProcess from "node:child_process"
import { PassThrough, type Readable, type Writable } from "node:stream"
import { StringDecoder } from "node:string_decoder"
import * as ProcessExit from "../ProcessExit.js"
import { removeTree } from "./Cgroup.js"
import * as Contained from "./Contained.js"
import * as OutputTee from "./OutputTee.js"
import { readIdentity, ticksNow } from "./ProcessIdentity.js"
import { COOKIE_VARIABLE, readForkCount } from "./ProcessTable.js"
import type { TreeSpec } from "./ProcessTree.js"
import * as TaskProcesses from "./TaskProcesses.js"
import { killTree } from "./TreeKill.js"

/** Settings of the task-aware spawner. */
export interface TaskSpawnerConfig {
  /** Output kept for a reader that has not started reading yet, per stream. Default 64 KiB. */
  readonly replayBytes?: number | undefined
}

const unwrap = (word: CommandLine.Word): string => Redacted.isRedacted(word) ? Redacted.value(word) : word
const shown = (word: CommandLine.Word): string => Redacted.isRedacted(word) ? "<redacted>" : word

const display = (command: ChildProcess.StandardCommand): string =>
  CommandLine.display([command.command, ...command.args], {
    format: process.platform === "win32" ? "windows" : "posix"
  })

const systemErrorTag = (code: unknown): PlatformError.SystemErrorTag => {
  switch (code) {
    case "ENOENT":
      return "NotFound"
    case "EACCES":
    case "EPERM":
      return "PermissionDenied"
    case "EEXIST":
      return "AlreadyExists"
    case "EISDIR":
    case "ENOTDIR":
    case "ELOOP":
      return "BadResource"
    case "EBUSY":
      return "Busy"
    default:
      return "Unknown"
  }
}

/** The same error Effect's Node spawner gives for a failed operation on `command`. */
const platformError = (method: string, error: unknown, command: ChildProcess.StandardCommand) => {
  const cause = error instanceof Error ? error : new Error(String(error))
  return PlatformError.systemError({
    _tag: systemErrorTag((cause as NodeJS.ErrnoException).code),
    module: "ChildProcess",
    method,
    pathOrDescriptor: display(command),
    syscall: (cause as NodeJS.ErrnoException).syscall,
    cause
  })
}

const badArgument = (description: string) =>
  PlatformError.badArgument({ module: "ChildProcess", method: "spawn", description })

// Node's own NUL check throws an error that includes the value, so NUL is rejected first to keep Redacted
// values out of errors (as Effect's spawner does).
const findNulCharacter = (command: ChildProcess.StandardCommand): string | undefined => {
  if (command.command.includes("\0")) return "The command contains a NUL character"
  const index = command.args.findIndex((arg) => unwrap(arg).includes("\0"))
  if (index !== -1) return `Argument ${index + 1} contains a NUL character`
  for (const [name, value] of Object.entries(command.options.env ?? {})) {
    if (value !== undefined && unwrap(value).includes("\0")) {
      return `The environment variable ${name} contains a NUL character`
    }
  }
  return undefined
}

/**
 * The command's environment plus the cookie; without `env` the child inherits ours (gotcha 8). Ours is inherited
 * through the prototype rather than copied: Node passes a spawn's inherited `env` keys on deliberately, and an
 * own key set to `undefined` removes one.
 */
const environment = (options: ChildProcess.CommandOptions, cookie: string): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = options.env === undefined || options.extendEnv === true
    ? Object.create(process.env)
    : {}
  for (const [key, value] of Object.entries(options.env ?? {})) {
    env[key] = value === undefined
      ? undefined
      : unwrap(value)
  }
  env[COOKIE_VARIABLE] = cookie
  return env
}

interface StdinConfig {
  readonly stream: ChildProcess.CommandInput
  readonly encoding: ChildProcess.Encoding
  readonly endOnDone: boolean
}

const stdinConfig = (options: ChildProcess.CommandOptions): StdinConfig => {
  const base: StdinConfig = { stream: "pipe", encoding: "utf-8", endOnDone: true }
  const stdin = options.stdin
  if (stdin === undefined) return base
  if (typeof stdin === "string" || Stream.isStream(stdin)) return { ...base, stream: stdin }
  return { stream: stdin.stream, encoding: stdin.encoding ?? base.encoding, endOnDone: stdin.endOnDone ?? true }
}

const outputConfig = (options: ChildProcess.CommandOptions, name: "stdout" | "stderr") => {
  const option = options[name]
  if (option === undefined) return "pipe"
  if (typeof option === "string" || Sink.isSink(option)) return option
  return option.stream ?? "pipe"
}

const stdioOf = (stream: unknown): NodeChildProcess.IOType =>
  Stream.isStream(stream) || Sink.isSink(stream) || stream === undefined ? "pipe" : stream as NodeChildProcess.IOType

const additionalFdsOf = (options: ChildProcess.CommandOptions) =>
  Object.entries(options.additionalFds ?? {}).flatMap(([name, config]) => {
    const fd = ChildProcess.parseFdName(name)
    return fd === undefined ? [] : [{ fd, config }]
  }).toSorted((a, b) => a.fd - b.fd)

const ignore = () => {}

/** Swallows write errors that arrive after the sink stopped listening (a child that exited mid-write). */
const handleInputErrors = (writable: Writable): void => {
  writable.on("error", ignore)
  writable.once("close", () => writable.off("error", ignore))
}

/** Where a pipeline stage reads from, or what a spawn's stdin is replaced with. */
interface Override {
  readonly stdin?: Stream.Stream<Uint8Array, PlatformError.PlatformError> | undefined
  readonly fd?: { readonly fd: number; readonly stream: Stream.Stream<Uint8Array, PlatformError.PlatformError> }
}

/** Where a pipeline stage reads from: the previous stage's stdout, stderr, both, or an output fd. */
const sourceOf = (
  handle: ChildProcessHandle,
  from: ChildProcess.PipeFromOption | undefined
): Stream.Stream<Uint8Array, PlatformError.PlatformError> => {
  switch (from ?? "stdout") {
    case "stdout":
      return handle.stdout
    case "stderr":
      return handle.stderr
    case "all":
      return handle.all
    default: {
      const fd = ChildProcess.parseFdName(from!)
      return fd === undefined ? handle.stdout : handle.getOutputFd(fd)
    }
  }
}

/** Builds the spawner over `inner` (usually Node's, for spawns outside a task). */
export const make = (
  inner: ChildProcessSpawner["Service"],
  fs: FileSystem,
  path: Path,
  config: TaskSpawnerConfig = {},
  containment?: Contained.Containment | undefined
): ChildProcessSpawner["Service"] => {
  const replayBytes = config.replayBytes ?? 65_536

  const spawnOne = (
    task: TaskContext.TaskContextShape,
    command: ChildProcess.StandardCommand,
    override: Override
  ): Effect.Effect<ChildProcessHandle, PlatformError.PlatformError, Scope.Scope> =>
    Effect.gen(function*() {
      const options = command.options
      if (options.shell !== undefined && options.shell !== false && command.args.length > 0) {
        return yield* Effect.fail(
          badArgument("The shell option cannot be combined with arguments; pass the whole script as the command")
        )
      }
      const nul = findNulCharacter(command)
      if (nul !== undefined) return yield* Effect.fail(badArgument(nul))
      const stdin = override.stdin === undefined
        ? stdinConfig(options)
        : { ...stdinConfig(options), stream: override.stdin }
      const stdout = outputConfig(options, "stdout")
      const stderr = outputConfig(options, "stderr")
      let fds = additionalFdsOf(options)
      const piped = override.fd
      if (piped !== undefined) {
        // A pipeline stage reading into fdN: that fd becomes an input (a duplex keeps its output side).
        const existing = fds.find((entry) => entry.fd === piped.fd)?.config
        const config: ChildProcess.AdditionalFdConfig = existing?.type === "duplex"
          ? { ...existing, stream: piped.stream }
          : { type: "input", stream: piped.stream }
        fds = [...fds.filter((entry) => entry.fd !== piped.fd), { fd: piped.fd, config }].toSorted((a, b) =>
          a.fd - b.fd
        )
      }
      let cwd: string | undefined
      if (options.cwd !== undefined) {
        yield* fs.access(options.cwd)
        cwd = path.resolve(options.cwd)
      }
      const stdio: Array<NodeChildProcess.IOType> = [stdioOf(stdin.stream), stdioOf(stdout), stdioOf(stderr)]
      if (fds.length > 0) {
        const last = fds[fds.length - 1]!.fd
        for (let fd = 3; fd <= last; fd++) stdio[fd] = "ignore"
        for (const { fd } of fds) stdio[fd] = "pipe"
      }
      const detached = options.detached ?? process.platform !== "win32"
      const scope = yield* Scope.Scope
      const owned = yield* TaskProcesses.forTask(task)
      const observer = yield* TaskProcesses.ProcessObserver
      const limits = containment === undefined ? undefined : yield* Contained.TaskLimits
      return yield* Effect.uninterruptible(Effect.gen(function*() {
        const exit = Deferred.makeUnsafe<readonly [code: number | null, signal: NodeJS.Signals | null]>()
        // Ends still awaited before the spawn is over: Node's exit event and each piped stream's end.
        let pending = 1
        let settle: () => void = ignore
        const settled = () => pending === 0
        const done = () => {
          pending--
          settle()
        }
        // Spawned and registered in one synchronous step: no fiber switch can fall between the process's
        // birth and the task knowing it, so a revoke always finds it, and its identity is read before Node can
        // reap it (the pid cannot be anyone else's yet).
        const spawned = yield* Effect.callback<
          { readonly child: NodeChildProcess.ChildProcess; readonly spawn: TaskProcesses.OwnedSpawn },
          PlatformError.PlatformError
        >((resume) => {
          const cookie = `${owned.prefix}${++owned.spawns}/`
          const env = environment(options, cookie)
          const minStartTime = ticksNow()
          const args = command.args.map(unwrap)
          // Contained: the entry shell puts the process in its own leaf of the task's cgroup, then runs the command.
          const placement = containment === undefined
            ? undefined
            : Contained.place(containment, owned, limits, command.command, args, options.shell, env, cwd)
          if (placement !== undefined && "error" in placement) {
            resume(Effect.fail(platformError("spawn", placement.error, command)))
            return
          }
          const forks = placement === undefined ? readForkCount() : undefined
          const failed = (error: unknown) => {
            if (placement !== undefined) removeTree(placement.leaf.dir)
            resume(Effect.fail(platformError("spawn", error, command)))
          }
          let child: NodeChildProcess.ChildProcess
          try {
            child = NodeChildProcess.spawn(placement?.file ?? command.command, placement?.args ?? args, {
              cwd,
              env,
              stdio,
              detached,
              shell: placement === undefined ? options.shell : false,
              windowsHide: options.windowsHide ?? !detached
            })
          } catch (error) {
            failed(error)
            return
          }
          const pid = child.pid
          if (pid === undefined) {
            child.once("error", failed)
            return
          }
          child.on("error", () => {}) // e.g. a kill of an exited child: the exit is what counts
          const identity = readIdentity(pid)
          const root: TaskProcesses.OwnedSpawn["root"] = { pid, startTime: identity?.startTime ?? -1 }
          const spec: TreeSpec = {
            roots: [root],
            cookie: { name: COOKIE_VARIABLE, prefix: cookie },
            minStartTime,
            origin: forks === undefined ? undefined : { pid, forks },
            cgroup: placement?.leaf
          }
          const spawn: TaskProcesses.OwnedSpawn = { root, spec, cookie, killing: false }
          if (owned.roots.length === 0) owned.origin = spec.origin
          owned.roots.push(root)
          owned.open.add(spawn)
          observer.started(root, cookie)
          task.addProcessUnsafe({ pid, command: command.command, args: command.args.map(shown) })
          child.once("exit", (code, signal) => {
            // Born more than a tick before this, a process in the root's group was born while the root held
            // its pid (see `ProcessTree.TreeRoot`).
            root.exitTick = ticksNow()
            task.endProcessUnsafe(pid, code !== null ? { exitCode: code } : { signal: signal ?? "unknown" })
            Deferred.doneUnsafe(exit, Exit.succeed([code, signal] as const))
            done()
          })
          resume(Effect.succeed({ child, spawn }))
        })
        const { child, spawn } = spawned
        const pid = child.pid!

        const tee = (readable: Readable | null, stream: "stdout" | "stderr") => {
          if (readable === null) return undefined
          pending++
          // StringDecoder, not TextDecoder: on Node 20 TextDecoder decodes through ICU at about a tenth of the speed
          // (about 300 ms against 26 ms for 200 MB here), which was most of B8's time in Node.
          const decoder = new StringDecoder("utf8")
          return OutputTee.make(
            readable,
            // The task's followers may ask the tee to wait (their backpressure): the process then blocks on a
            // full pipe.
            (chunk) => {
              const text = decoder.write(chunk)
              return text.length > 0 ? task.outputUnsafe(pid, stream, text) : undefined
            },
            () => {
              // What a truncated last character leaves is U+FFFD, as Effect's own decoding gives.
              const text = decoder.end()
              if (text.length > 0) task.outputUnsafe(pid, stream, text)
              done()
            },
            replayBytes,
            (error) => platformError(`fromReadable(${stream})`, error, command)
          )
        }
        const stdoutTee = tee(child.stdout, "stdout")
        const stderrTee = tee(child.stderr, "stderr")

        const inputFailure = Deferred.makeUnsafe<never, PlatformError.PlatformError>()
        const feed = (
          stream: Stream.Stream<Uint8Array, PlatformError.PlatformError>,
          sink: Sink.Sink<void, any, never, PlatformError.PlatformError>
        ) =>
          Effect.forkIn(
            Stream.run(Stream.tapError(stream, (error) => Deferred.fail(inputFailure, error)), sink),
            scope,
            { startImmediately: true }
          )
        let stdinSink: Sink.Sink<void, unknown, never, PlatformError.PlatformError> = Sink.drain
        if (child.stdin !== null) {
          const writable = child.stdin
          handleInputErrors(writable)
          stdinSink = NodeSink.fromWritable({
            evaluate: () => writable,
            onError: (error) => platformError("fromWritable(stdin)", error, command),
            endOnDone: stdin.endOnDone,
            encoding: stdin.encoding
          })
        }
        if (Stream.isStream(stdin.stream)) yield* feed(stdin.stream, stdinSink)

        const inputFds = new Map<number, Sink.Sink<void, Uint8Array, never, PlatformError.PlatformError>>()
        const outputFds = new Map<number, Stream.Stream<Uint8Array, PlatformError.PlatformError>>()
        for (const { fd, config: fdConfig } of fds) {
          const nodeStream = child.stdio[fd]
          if (fdConfig.type !== "input" && nodeStream !== null && nodeStream !== undefined && "read" in nodeStream) {
            const passThrough = new PassThrough()
            let error: unknown = undefined
            passThrough.on("error", (cause) => {
              error ??= cause
            })
            nodeStream.on("error", (cause) => passThrough.destroy(cause))
            nodeStream.pipe(passThrough)
            const onError = (cause: unknown) => platformError(`fromReadable(fd${fd})`, cause, command)
            let output: Stream.Stream<Uint8Array, PlatformError.PlatformError> = Stream.suspend(() =>
              error === undefined
                ? NodeStream.fromReadable({ evaluate: () => passThrough, onError })
                : Stream.fail(onError(error))
            )
            if (fdConfig.sink !== undefined) output = Stream.transduce(output, fdConfig.sink)
            outputFds.set(fd, output)
          }
          if (fdConfig.type !== "output") {
            if (
              fdConfig.type === "duplex" && nodeStream !== null && nodeStream !== undefined &&
              "allowHalfOpen" in nodeStream
            ) {
              ;(nodeStream as { allowHalfOpen: boolean }).allowHalfOpen = true
            }
            let sink: Sink.Sink<void, Uint8Array, never, PlatformError.PlatformError> = Sink.drain
            if (nodeStream !== null && nodeStream !== undefined && "write" in nodeStream) {
              handleInputErrors(nodeStream)
              sink = NodeSink.fromWritable({
                evaluate: () => nodeStream,
                onError: (error) => platformError(`fromWritable(fd${fd})`, error, command)
              })
            }
            if (fdConfig.stream !== undefined) yield* feed(fdConfig.stream, sink)
            inputFds.set(fd, sink)
          }
        }

        // Runs first when the scope closes (finalizers run last-in first-out): the stdin feeders stop after it.
        yield* Scope.addFinalizer(
          scope,
          Effect.suspend(() => {
            spawn.killing = true
            return TaskProcesses.killFor(task, spawn.spec)
          }).pipe(
            Effect.tap((summary) =>
              Effect.sync(() => {
                TaskProcesses.report(task, pid, summary)
                if (summary.survivors.length > 0) owned.unclean = true
                owned.open.delete(spawn)
                observer.cleaned(spawn.cookie)
                stdoutTee?.release()
                stderrTee?.release()
              })
            ),
            // The tree is dead, so the pipes end at once: wait for the last bytes and the exit record (bounded:
            // a process outside the tree may hold a pipe).
            Effect.andThen(Effect.suspend(() =>
              settled() ? Effect.void : Effect.callback<void>((resume) => {
                const timer = setTimeout(() => resume(Effect.void), 1_000)
                settle = () => {
                  if (!settled()) return
                  clearTimeout(timer)
                  resume(Effect.void)
                }
                return Effect.sync(() => clearTimeout(timer))
              })
            )),
            Effect.andThen(Effect.sync(() => {
              child.stdout?.destroy()
              child.stderr?.destroy()
            }))
          )
        )

        let stdoutStream: Stream.Stream<Uint8Array, PlatformError.PlatformError> = stdoutTee?.stream ?? Stream.empty
        let stderrStream: Stream.Stream<Uint8Array, PlatformError.PlatformError> = stderrTee?.stream ?? Stream.empty
        if (Sink.isSink(stdout)) stdoutStream = Stream.transduce(stdoutStream, stdout)
        if (Sink.isSink(stderr)) stderrStream = Stream.transduce(stderrStream, stderr)

        const exitCode = Effect.flatMap(
          Effect.raceFirst(Deferred.await(exit), Deferred.await(inputFailure)),
          ([code, signal]) => {
            if (Deferred.isDoneUnsafe(inputFailure)) return Deferred.await(inputFailure)
            if (code !== null) return Effect.succeed(ExitCode(code))
            return Effect.fail(platformError("exitCode", ProcessExit.killedBy(signal ?? "SIGKILL"), command))
          }
        )
        let referenced = true
        const reref = Effect.sync(() => {
          if (!referenced) child.ref()
          referenced = true
        })
        return makeHandle({
          pid: ProcessId(pid),
          exitCode,
          isRunning: Effect.sync(() => !Deferred.isDoneUnsafe(exit)),
          // The whole tree, identity-checked; a task's revoke still bounds it.
          kill: (killOptions) =>
            Effect.asVoid(killTree(spawn.spec, {
              graceful: killOptions?.killSignal !== "SIGKILL",
              termSignal: killOptions?.killSignal === undefined ? undefined : killOptions.killSignal as NodeJS.Signals,
              grace: killOptions?.forceKillAfter ?? Duration.infinity,
              forced: task.forced
            })),
          stdin: stdinSink,
          stdout: stdoutStream,
          stderr: stderrStream,
          all: Stream.merge(stdoutStream, stderrStream),
          getInputFd: (fd) => inputFds.get(fd) ?? Sink.drain,
          getOutputFd: (fd) => outputFds.get(fd) ?? Stream.empty,
          unref: Effect.sync(() => {
            if (referenced) child.unref()
            referenced = false
            return reref
          })
        })
      }))
    })

  const spawnInTask = (command: ChildProcess.Command, task: TaskContext.TaskContextShape) =>
    Effect.gen(function*() {
      const { commands, pipeOptions } = flattenCommand(command)
      const [first, ...rest] = commands
      const handles = [yield* spawnOne(task, first, {})]
      for (let i = 0; i < rest.length; i++) {
        const options = pipeOptions[i] ?? {}
        const source = Stream.unwrap(Effect.succeed(sourceOf(handles[handles.length - 1]!, options.from)))
        const to = options.to === undefined || options.to === "stdin" ? undefined : ChildProcess.parseFdName(options.to)
        handles.push(
          yield* spawnOne(task, rest[i]!, to === undefined ? { stdin: source } : { fd: { fd: to, stream: source } })
        )
      }
      if (handles.length === 1) return handles[0]!
      const last = handles[handles.length - 1]!
      return makeHandle({
        pid: last.pid,
        exitCode: last.exitCode,
        isRunning: last.isRunning,
        kill: (options) =>
          Effect.forEach(handles.toReversed(), (handle) => Effect.ignore(handle.kill(options)), { discard: true }),
        stdin: handles[0]!.stdin,
        stdout: last.stdout,
        stderr: last.stderr,
        all: last.all,
        getInputFd: last.getInputFd,
        getOutputFd: last.getOutputFd,
        unref: Effect.gen(function*() {
          const rerefs: Array<Effect.Effect<void, PlatformError.PlatformError>> = []
          for (const handle of handles) rerefs.push(yield* handle.unref)
          return Effect.forEach(rerefs.toReversed(), (reref) => reref, { discard: true })
        })
      })
    })

  const spawn = (command: ChildProcess.Command) =>
    Effect.flatMap(
      Effect.serviceOption(TaskContext.TaskContext),
      (task) => task._tag === "Some" ? spawnInTask(command, task.value) : inner.spawn(command)
    )

  return makeSpawner(spawn)
}

/**
 * The task-aware spawner over the `ChildProcessSpawner` it finds (Node's, for spawns outside a task), with the
 * `FileSystem` and `Path` it resolves working directories with.
 */
export const layer = (
  config: TaskSpawnerConfig = {}
): Layer.Layer<ChildProcessSpawner, never, ChildProcessSpawner | FileSystem | Path> =>
  Layer.effect(
    ChildProcessSpawner,
    Effect.gen(function*() {
      return make(
        yield* ChildProcessSpawner,
        yield* FileSystem,
        yield* Path,
        config,
        yield* Contained.CurrentContainment
      )
    })
  )
