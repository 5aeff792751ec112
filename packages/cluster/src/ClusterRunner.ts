/**
 * A runner: a process that runs cluster tasks on a local `NodeTaskManager` (with its guardian, so the runner's
 * death kills its tasks' process trees at once), and takes part in Effect Cluster's sharding over sockets.
 *
 * - **Placement.** Every task maps to a shard of Effect Cluster (by its id); the runner holding that shard's
 *   lock starts it, within milliseconds of the submit (the change feed wakes it). When runners join or leave,
 *   Effect Cluster moves shards; a moved shard moves only its QUEUED tasks.
 * - **No surprise restarts.** A task stays on the runner that started it until it ends: starting is a claim in
 *   the database, not a message an entity holds, so a shard that moves (a runner joined, the database blinked)
 *   takes nothing running with it. Only a runner's death (or a drain that ran out of time) ends an attempt
 *   early, and the delivery policy then decides: at most once (FAILURE, `RunnerLost`) or, with `retry`, QUEUED
 *   again for a survivor, with the attempt and its runner on the record.
 * - **Failure detection.** Runners heartbeat on the database's clock every `heartbeat` (1 s). A runner silent
 *   for `runnerTimeout` (5 s) is declared lost by any survivor, which settles its tasks; shard locks expire on
 *   the same time scale, so a SIGKILLed runner's tasks are settled, and retried ones running again, within
 *   about 8 s. A runner that cannot reach the database kills its own tasks before that deadline (fencing), so
 *   a task declared lost is never still running.
 * - **Revoke.** A revoke from any process records the revocation and its event; the owning runner's change
 *   feed wakes, and it revokes its local task (SIGTERM, grace, SIGKILL, as locally).
 * - **Drain.** Closing the layer (SIGTERM under `NodeRuntime.runMain`) or `shutdown` drains: the runner takes
 *   no new tasks and hands its shards off, lets running tasks finish within `drain`, then stops the rest and
 *   settles them by their policy (`RunnerLost` with reason `"drained"`, or QUEUED again).
 *
 * @since 0.1.0
 */
import { ProcessInfo, Revocation, TaskId, TaskManager, TrackedTask } from "@effect-tasks/core"
import { NodeTaskManager } from "@effect-tasks/node"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as Cause from "effect/Cause"
import * as EntityId from "effect/cluster/EntityId"
import * as MessageStorage from "effect/cluster/MessageStorage"
import * as RunnerAddress from "effect/cluster/RunnerAddress"
import * as RunnerHealth from "effect/cluster/RunnerHealth"
import * as Runners from "effect/cluster/Runners"
import { Sharding } from "effect/cluster/Sharding"
import * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as SocketRunner from "effect/cluster/SocketRunner"
import * as SqlRunnerStorage from "effect/cluster/SqlRunnerStorage"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as RpcSerialization from "effect/rpc/RpcSerialization"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as SqlClient from "effect/sql/SqlClient"
import * as Stream from "effect/Stream"
import { hostname as osHostname } from "node:os"
import { type InvalidDatabaseUrl, StorageError } from "./ClusterError.js"
import type { ClusterEvent } from "./ClusterEvent.js"
import type { Outcome } from "./ClusterTask.js"
import * as ClusterTasks from "./ClusterTasks.js"
import * as CommandJob from "./CommandJob.js"
import * as Client from "./internal/client.js"
import * as Database from "./internal/database.js"
import * as Store from "./internal/store.js"
import * as Tail from "./internal/tail.js"
import type * as Job from "./Job.js"

/**
 * Settings of a runner. The timing defaults settle a SIGKILLed runner's tasks within 15 s; see `docs/cluster.md`
 * for the trade-off.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunnerConfig<R = never> {
  /** `sqlite:<path>` (one machine) or `postgres://...` (several). */
  readonly db: string
  /** The port other runners reach this one on (Effect Cluster's runner socket). */
  readonly port: number
  /** The host other runners reach this one on. Default `localhost`. */
  readonly host?: string | undefined
  /** The jobs this runner runs, besides the built-in `command` job. Every runner should register the same. */
  readonly jobs?: ReadonlyArray<Job.Handler<R>> | undefined
  /** How long a drain lets running tasks finish before stopping them. Default 30 seconds. */
  readonly drain?: Duration.Input | undefined
  /** How often the runner proves it is alive. Default 1 second. */
  readonly heartbeat?: Duration.Input | undefined
  /** Silence after which a runner counts as lost and its tasks are settled. Default 5 seconds. */
  readonly runnerTimeout?: Duration.Input | undefined
  /** The default grace period of a graceful revoke (SIGTERM to SIGKILL). Default 5 seconds. */
  readonly grace?: Duration.Input | undefined
  /** Finished tasks kept in the cluster's tables (the newest). Default 1000. */
  readonly retain?: number | undefined
  /** The guardian process that kills the tasks' trees if this process dies. Default `true`. */
  readonly guardian?: boolean | undefined
  /** Effect Cluster's shards per group; must be the same on every runner. Default 300. */
  readonly shardsPerGroup?: number | undefined
}

interface Running {
  readonly id: number
  readonly attempt: number
  readonly job: Job.Any
  readonly local: TrackedTask.TrackedTask
  readonly done: Deferred.Deferred<void>
  /** Stop reasons decided by the runner itself, which override the local outcome. */
  ending: "drained" | "lost" | undefined
  revocation: Revocation.Revocation | undefined
  processes: Array<ProcessInfo.ProcessInfo>
  stdout: string
  stderr: string
  droppedStdout: number
  droppedStderr: number
  outputDirty: boolean
  pending: Array<ClusterEvent>
}

const OUTPUT_TAIL = 65_536

const asTaskId = (n: number): TaskId.TaskId => n as TaskId.TaskId

const now = () => Date.now()

const millisOf = (input: Duration.Input | undefined, fallback: number): number =>
  input === undefined ? fallback : Duration.toMillis(Duration.fromInputUnsafe(input))

const renderCause = (cause: Cause.Cause<unknown>): string => Cause.pretty(cause)

const encodeOutcome = (job: Job.Any, exit: Exit.Exit<unknown, unknown>) =>
  Effect.gen(function*() {
    if (Exit.isSuccess(exit)) {
      const value = yield* Schema.encodeUnknownEffect(Schema.toCodecJson(job.success))(exit.value).pipe(
        Effect.option
      )
      return Option.isSome(value)
        ? { state: "SUCCESS" as const, outcome: { _tag: "Success", value: value.value } as Outcome, error: undefined }
        : {
          state: "FAILURE" as const,
          outcome: { _tag: "Defect", message: "the job's result does not match its success schema" } as Outcome,
          error: "the job's result does not match its success schema"
        }
    }
    if (Cause.hasInterrupts(exit.cause)) {
      return { state: "REVOKED" as const, outcome: { _tag: "Revoked" } as Outcome, error: undefined }
    }
    const error = renderCause(exit.cause)
    const failure = exit.cause.reasons.find(Cause.isFailReason)
    if (failure !== undefined) {
      const encoded = yield* Schema.encodeUnknownEffect(Schema.toCodecJson(job.error))(failure.error).pipe(
        Effect.option
      )
      if (Option.isSome(encoded)) {
        return { state: "FAILURE" as const, outcome: { _tag: "Failure", error: encoded.value } as Outcome, error }
      }
    }
    return { state: "FAILURE" as const, outcome: { _tag: "Defect", message: error } as Outcome, error }
  })

const appendTail = (tail: string, text: string): [string, number] => {
  const next = tail + text
  return next.length <= OUTPUT_TAIL ? [next, 0] : [next.slice(next.length - OUTPUT_TAIL), next.length - OUTPUT_TAIL]
}

/** The Effect Cluster part of a runner: sharding over sockets, with shard locks in the cluster's database. */
const shardingLayer = (host: string, port: number, shardsPerGroup: number, runnerTimeoutMillis: number) => {
  const config = ShardingConfig.layer({
    runnerAddress: Option.some(RunnerAddress.make(host, port)),
    runnerListenAddress: Option.some(RunnerAddress.make(host, port)),
    shardsPerGroup,
    // Table leases instead of Postgres advisory locks: after a server restart the advisory lock connection
    // was seen failing to recover for long, while leases go through the ordinary pool. A dead runner's shards
    // then move at lease expiry, the same time scale as its tasks are settled.
    shardLockDisableAdvisory: true,
    // Shards of a dead runner move on the same time scale as its tasks are settled (see docs/cluster.md).
    // Leases twice the runner timeout, refreshed four times per lease: a loaded machine or a busy database does
    // not make a live runner drop its shards. Retried attempts do not wait for a dead runner's shards to move:
    // any survivor takes them (see `TaskRetrying` below).
    shardLockExpiration: Duration.millis(Math.max(2 * runnerTimeoutMillis, 4000)),
    shardLockRefreshInterval: Duration.millis(Math.max(1000, Math.floor(runnerTimeoutMillis / 2))),
    refreshAssignmentsInterval: Duration.seconds(1),
    runnerHealthCheckInterval: Duration.seconds(2),
    entityMessagePollInterval: Duration.seconds(1),
    entityTerminationTimeout: Duration.seconds(1)
  })
  const serialization = RpcSerialization.layerSchemaBinary()
  const clientProtocol = NodeClusterSocket.layerClientProtocol.pipe(Layer.provide(serialization))
  return SocketRunner.layer.pipe(
    Layer.provide([NodeClusterSocket.layerSocketServer, clientProtocol, serialization]),
    Layer.provide(RunnerHealth.layerPing.pipe(Layer.provide(Runners.layerRpc), Layer.provide(clientProtocol))),
    Layer.provide(MessageStorage.layerNoop),
    Layer.provide(SqlRunnerStorage.layerWith({ prefix: "effect_tasks_cluster" })),
    Layer.provide(config)
  )
}

const make = <R>(config: RunnerConfig<R>) =>
  Effect.gen(function*() {
    const db = yield* Database.DatabaseService
    const store = Store.make(db)
    const tm: TaskManager.TaskManagerShape = yield* TaskManager.TaskManager
    const services = yield* Effect.context<R>()
    const host = config.host ?? "localhost"
    const address = `${host}:${config.port}`
    const newIncarnation = () =>
      `${address}/${process.pid}/${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`
    // Replaced when the cluster declared this runner lost and it comes back (see the heartbeat).
    let incarnation = newIncarnation()
    const heartbeatMillis = millisOf(config.heartbeat, 1000)
    const runnerTimeoutMillis = millisOf(config.runnerTimeout, 5000)
    const drainMillis = millisOf(config.drain, 30_000)
    const retain = config.retain ?? 1000
    const shardsPerGroup = config.shardsPerGroup ?? 300
    const handlers = new Map<string, Job.Handler<R>>()
    handlers.set(CommandJob.Command.name, CommandJob.handler as Job.Handler<R>)
    for (const handler of config.jobs ?? []) handlers.set(handler.job.name, handler)
    const runnerScope = yield* Effect.scope
    // Everything the runner forks lives here. The scope is made before the drain finalizer is added, so it
    // closes after the drain: a fiber forked later straight into `runnerScope` would be interrupted before it.
    const workScope = yield* Scope.fork(runnerScope)

    // --- registration and Effect Cluster ---
    const orphaned = yield* store.register(address, incarnation, osHostname(), now()).pipe(
      Effect.mapError((cause) => new StorageError({ operation: "register", cause }))
    )
    if (orphaned > 0) yield* Effect.logInfo(`settled ${orphaned} task(s) of this address's previous runner`)
    const shardingScope = yield* Scope.fork(runnerScope)
    const shardingContext = yield* Layer.buildWithScope(
      shardingLayer(host, config.port, shardsPerGroup, runnerTimeoutMillis).pipe(
        Layer.provide(Layer.succeed(SqlClient.SqlClient, db.sql))
      ),
      shardingScope
    )
    const sharding = Context.get(shardingContext, Sharding)
    const owns = (id: number) => sharding.hasShardId(sharding.getShardId(EntityId.make(String(id)), "default"))

    // --- state ---
    const running = new Map<number, Running>()
    const claiming = new Set<number>()
    let draining = false
    let drainStarted = false
    let fenced = false
    const candidates = new Set<number>()
    const wakeClaims = yield* Deferred.make<void>().pipe(Effect.map((d) => ({ current: d })))
    const kickClaims = () => Deferred.doneUnsafe(wakeClaims.current, Effect.void)

    // --- the writer: runner-side changes, batched into one transaction per round ---
    type Write = Effect.Effect<void, unknown>
    let writes: Array<Write> = []
    const writerWake = { current: Deferred.makeUnsafe<void>() }
    const enqueue = (write: Write) => {
      writes.push(write)
      Deferred.doneUnsafe(writerWake.current, Effect.void)
    }
    // Batches being written: `flushed` waits for them too, so a write taken by another fiber counts as pending.
    let inFlight = 0
    const flushOnce = Effect.gen(function*() {
      if (writes.length === 0) return
      const batch = writes
      writes = []
      inFlight++
      const ok = yield* db.write(Effect.forEach(batch, (w) => w, { discard: true })).pipe(
        Effect.as(true),
        Effect.catchCause((cause) =>
          Effect.as(Effect.logWarning("cluster write failed, retrying", Cause.pretty(cause)), false)
        ),
        Effect.ensuring(Effect.sync(() => inFlight--))
      )
      if (ok) db.wakeLocal()
      else {
        writes = [...batch, ...writes]
        yield* Effect.sleep(200)
      }
    })
    yield* Effect.gen(function*() {
      while (true) {
        yield* Deferred.await(writerWake.current)
        writerWake.current = Deferred.makeUnsafe<void>()
        while (writes.length > 0) yield* flushOnce
      }
    }).pipe(Effect.forkIn(workScope))
    const pending = () => writes.length > 0 || inFlight > 0
    const flushed = Effect.gen(function*() {
      while (pending()) {
        if (writes.length > 0) yield* flushOnce
        else yield* Effect.sleep(2)
      }
    })

    const flushTask = (entry: Running): Write =>
      Effect.gen(function*() {
        const events = entry.pending
        entry.pending = []
        const processEvents = events.filter((e) => e._tag !== "TaskOutput")
        const outputEvents = events.filter((e) => e._tag === "TaskOutput")
        if (processEvents.length > 0) {
          yield* store.processes(asTaskId(entry.id), entry.attempt, incarnation, entry.processes, processEvents)
        }
        if (entry.outputDirty || outputEvents.length > 0) {
          entry.outputDirty = false
          yield* store.output(
            asTaskId(entry.id),
            entry.attempt,
            JSON.stringify({
              stdout: entry.stdout,
              stderr: entry.stderr,
              droppedStdout: entry.droppedStdout,
              droppedStderr: entry.droppedStderr
            }),
            outputEvents
          )
        }
      })

    // --- local events, translated to the cluster's ---
    const byLocal = new Map<number, Running>()
    const localEvents = yield* tm.subscribe
    yield* localEvents.pipe(
      Stream.runForEach((event) =>
        Effect.sync(() => {
          if (!("id" in event)) return
          const entry = byLocal.get(event.id)
          if (entry === undefined) return
          const id = asTaskId(entry.id)
          switch (event._tag) {
            case "ProcessStarted": {
              entry.processes.push({ pid: event.pid, command: event.command, args: event.args, startedAt: event.at })
              entry.pending.push({ ...event, id })
              break
            }
            case "ProcessExited": {
              entry.processes = entry.processes.map((p) =>
                p.pid === event.pid && p.endedAt === undefined
                  ? {
                    ...p,
                    endedAt: event.at,
                    ...(event.exitCode === undefined ? {} : { exitCode: event.exitCode }),
                    ...(event.signal === undefined ? {} : { signal: event.signal })
                  }
                  : p
              )
              entry.pending.push({ ...event, id })
              break
            }
            case "TaskOutput": {
              if (event.stream === "stdout") {
                const [tail, dropped] = appendTail(entry.stdout, event.text)
                entry.stdout = tail
                entry.droppedStdout += dropped
              } else {
                const [tail, dropped] = appendTail(entry.stderr, event.text)
                entry.stderr = tail
                entry.droppedStderr += dropped
              }
              entry.outputDirty = true
              const last = entry.pending[entry.pending.length - 1]
              if (last?._tag === "TaskOutput" && last.pid === event.pid && last.stream === event.stream) {
                entry.pending[entry.pending.length - 1] = { ...last, text: last.text + event.text }
              } else entry.pending.push({ ...event, id })
              break
            }
            case "TaskRevoking": {
              if (event.revocation.reason === "timeout" && entry.revocation === undefined) {
                entry.revocation = event.revocation
                const at = event.at
                enqueue(store.revokedLocally(id, entry.attempt, incarnation, event.revocation, at))
              }
              return
            }
            default:
              return
          }
          enqueue(flushTask(entry))
        })
      ),
      Effect.forkIn(workScope)
    )

    // --- starting claimed attempts ---
    const start = (claimed: Store.Claimed) =>
      Effect.gen(function*() {
        const handler = handlers.get(claimed.job)!
        const payload = yield* Schema.decodeUnknownEffect(Schema.toCodecJson(handler.job.payload))(
          JSON.parse(claimed.payload)
        ).pipe(Effect.option)
        const program = Option.isSome(payload)
          ? Effect.provideContext(handler.run(payload.value), services)
          : Effect.die(new Error(`the payload does not match the schema of job ${claimed.job}`))
        const local = yield* tm.submit(program as Effect.Effect<unknown, unknown>, {
          name: claimed.name,
          ...(claimed.timeoutMillis === undefined ? {} : { timeout: Duration.millis(claimed.timeoutMillis) }),
          ...(claimed.graceMillis === undefined ? {} : { grace: Duration.millis(claimed.graceMillis) })
        }).pipe(Effect.orDie)
        const entry: Running = {
          id: claimed.id,
          attempt: claimed.attempt,
          job: handler.job,
          local,
          done: Deferred.makeUnsafe(),
          ending: undefined,
          revocation: undefined,
          processes: [],
          stdout: "",
          stderr: "",
          droppedStdout: 0,
          droppedStderr: 0,
          outputDirty: false,
          pending: []
        }
        running.set(claimed.id, entry)
        byLocal.set(local.id, entry)
        claiming.delete(claimed.id)
        // Started at once: a handler that finished while it was submitted is only in the local manager's
        // records, which keep the newest 100, and a burst of such tasks would push this one out before a
        // fiber started later could read it.
        yield* Effect.forkIn(complete(entry), workScope, { startImmediately: true })
      })

    const complete = (entry: Running) =>
      Effect.gen(function*() {
        const final = yield* tm.await(entry.local.id).pipe(Effect.orDie)
        const id = asTaskId(entry.id)
        const at = now()
        enqueue(flushTask(entry))
        if (entry.ending !== undefined) {
          const reason = entry.ending
          enqueue(Effect.asVoid(store.settleLost(id, entry.attempt, incarnation, address, reason, at)))
        } else {
          const exit = final.exit ?? Exit.die(new Error("the local task ended without an exit"))
          const ended = yield* encodeOutcome(entry.job, exit)
          const revocation = entry.revocation ?? final.revocation
          enqueue(store.finish([{
            id,
            attempt: entry.attempt,
            incarnation,
            runner: address,
            state: ended.state,
            outcome: ended.outcome,
            error: ended.error,
            revocation: ended.state === "REVOKED" ? revocation : revocation,
            at
          }]))
        }
        yield* flushed
        running.delete(entry.id)
        byLocal.delete(entry.local.id)
        yield* Deferred.succeed(entry.done, undefined)
      })

    // --- claiming QUEUED tasks of our shards ---
    // A QUEUED task normally starts on the owner of its shard. One that no runner has started for
    // `stealAfter` (its shard's owner stuck or gone, shard locks out of order) is taken by whoever sees it:
    // placement is a preference, starting is a claim in the database, so this cannot start a task twice.
    const stealAfter = Math.max(2 * runnerTimeoutMillis, 5000)
    const firstSeen = new Map<number, number>()
    const free = new Set<number>()
    const claimable = (id: number) => {
      if (running.has(id) || claiming.has(id)) return false
      if (free.delete(id) || owns(id)) return true
      const seen = firstSeen.get(id)
      if (seen === undefined) firstSeen.set(id, now())
      return seen !== undefined && now() - seen > stealAfter
    }
    const claimRound = Effect.gen(function*() {
      if (draining || fenced) return
      const ids = [...candidates].filter(claimable)
      candidates.clear()
      if (ids.length === 0) return
      for (const id of ids) claiming.add(id)
      const won = yield* store.claim(ids.map((n) => asTaskId(n)), [...handlers.keys()], address, incarnation, now())
        .pipe(
          Effect.catchCause((cause) => Effect.as(Effect.logWarning("claim failed", Cause.pretty(cause)), []))
        )
      const wonIds = new Set(won.map((c) => c.id as number))
      for (const id of ids) if (!wonIds.has(id)) claiming.delete(id)
      if (won.length > 0) db.wakeLocal()
      yield* Effect.forEach(won, start, { discard: true })
    })
    const sweep = Effect.gen(function*() {
      const known = [...handlers.keys()]
      const ids = yield* Effect.orElseSucceed(store.queued(1000, known), () => undefined)
      if (ids === undefined) return
      const queuedNow = new Set<number>(ids)
      for (const id of firstSeen.keys()) if (!queuedNow.has(id)) firstSeen.delete(id)
      for (const id of ids) candidates.add(id)
    })
    yield* Effect.gen(function*() {
      while (true) {
        yield* Effect.raceFirst(Deferred.await(wakeClaims.current), Effect.sleep(1000))
        wakeClaims.current = Deferred.makeUnsafe<void>()
        if (candidates.size === 0) yield* sweep
        yield* claimRound
      }
    }).pipe(Effect.forkIn(workScope))
    yield* Effect.gen(function*() {
      while (true) {
        yield* Effect.sleep(1000)
        yield* sweep
        kickClaims()
      }
    }).pipe(Effect.forkIn(workScope))

    // --- revocations ---
    const applyRevocation = (
      id: number,
      revocation: Revocation.Revocation
    ) => {
      const entry = running.get(id)
      if (entry === undefined) return Effect.void
      const previous = entry.revocation
      if (previous !== undefined && (previous.graceful === revocation.graceful || !previous.graceful)) {
        return Effect.void
      }
      entry.revocation = revocation
      return Effect.forkIn(
        Effect.ignore(tm.revoke(entry.local.id, { graceful: revocation.graceful, reason: revocation.reason })),
        workScope
      )
    }

    // --- what the cluster's events tell this runner ---
    const tail = yield* Tail.make(db, store)
    yield* tail.listen((batch) => {
      let kick = false
      for (const { event } of batch) {
        switch (event._tag) {
          case "TaskSubmitted":
            if (handlers.has(event.mode)) {
              candidates.add(event.id)
              kick = true
            }
            break
          case "TaskRetrying":
            // The next attempt of a task whose runner was lost goes to whichever survivor sees it first, without
            // waiting for the dead runner's shards to move.
            free.add(event.id)
            candidates.add(event.id)
            kick = true
            break
          case "TaskRevoking":
            Effect.runFork(applyRevocation(event.id, event.revocation))
            break
        }
      }
      if (kick) kickClaims()
    })

    // --- heartbeat and fencing ---
    const fence = (why: string) =>
      Effect.gen(function*() {
        if (fenced) return
        fenced = true
        yield* Effect.logError(`runner ${address} fences itself: ${why}; stopping its tasks`)
        for (const entry of running.values()) {
          entry.ending = "lost"
          yield* Effect.forkIn(Effect.ignore(tm.revoke(entry.local.id, { graceful: false })), workScope)
        }
      })
    let lastBeat = performance.now()
    const settleFenced = Effect.forEach([...running.values()], (entry) => Deferred.await(entry.done), {
      discard: true
    })
    yield* Effect.gen(function*() {
      while (true) {
        const sent = performance.now()
        const state = yield* store.heartbeat(address, incarnation).pipe(
          Effect.timeout(Duration.millis(Math.max(heartbeatMillis, runnerTimeoutMillis / 2))),
          Effect.option
        )
        if (Option.isSome(state)) {
          lastBeat = sent
          if (state.value === undefined && !drainStarted) {
            // Declared lost (we were cut off too long): stop what we run, then come back as a new incarnation.
            yield* fence("the cluster declared it lost")
            yield* settleFenced
            yield* flushed
            incarnation = newIncarnation()
            yield* store.register(address, incarnation, osHostname(), now()).pipe(Effect.ignore)
            yield* Effect.logInfo(`runner ${address} registered again as a new incarnation`)
            fenced = false
            kickClaims()
          } else if (fenced && running.size === 0) {
            // Fenced by its own deadline, and the database is back before the cluster gave up on it.
            fenced = false
            kickClaims()
          }
        } else if (performance.now() - lastBeat > runnerTimeoutMillis - heartbeatMillis) {
          yield* fence(`no heartbeat for ${Math.round(performance.now() - lastBeat)} ms`)
        }
        yield* Effect.sleep(heartbeatMillis)
      }
    }).pipe(Effect.forkIn(workScope))

    // --- the lost-runner reaper, revocation reconciliation and retention ---
    let rounds = 0
    yield* Effect.gen(function*() {
      while (true) {
        yield* Effect.sleep(heartbeatMillis)
        const settled = yield* Effect.orElseSucceed(store.reapLost(runnerTimeoutMillis, now()), () => 0)
        if (settled > 0) db.wakeLocal()
        const revocations = yield* Effect.orElseSucceed(store.revocationsOf(incarnation), () => [])
        for (const r of revocations) yield* applyRevocation(r.id, r.revocation)
        // An attempt the database gives this runner that it neither runs nor is claiming: its claim committed
        // but the answer never came (a connection lost at commit). It never started here, so it goes back to
        // the queue; a finished one leaves `running` only once its finish is written.
        const mine = yield* Effect.orElseSucceed(store.runningOf(incarnation), () => [])
        for (const { attempt, id } of mine) {
          if (running.has(id) || claiming.has(id)) continue
          const released = yield* Effect.orElseSucceed(
            store.releaseUnstarted(id, attempt, incarnation, address, now()),
            () => false
          )
          if (released) {
            yield* Effect.logWarning(`runner ${address} gives back task ${id}: its claim's answer was lost`)
            candidates.add(id)
            kickClaims()
          }
        }
        if (++rounds % 30 === 0) yield* Effect.ignore(store.prune(retain))
      }
    }).pipe(Effect.forkIn(workScope))

    // --- drain ---
    const drained = yield* Deferred.make<void>()
    const drain = Effect.gen(function*() {
      if (drainStarted) return yield* Deferred.await(drained)
      drainStarted = true
      draining = true
      yield* Effect.ignore(store.setRunnerState(address, incarnation, "draining"))
      yield* Effect.logInfo(`runner ${address} drains: ${running.size} task(s) running, ${drainMillis} ms to finish`)
      // Hand the shards off first, so new tasks start elsewhere while ours finish.
      yield* Scope.close(shardingScope, Exit.void)
      yield* Effect.logInfo(`runner ${address} handed its shards off`)
      const all = Effect.forEach([...running.values()], (entry) => Deferred.await(entry.done), { discard: true })
      // Finalizers run uninterruptibly; the wait must be interruptible for the timeout to end it.
      const finished = yield* Effect.timeoutOption(Effect.interruptible(all), Duration.millis(drainMillis))
      if (Option.isNone(finished)) {
        const left = [...running.values()]
        yield* Effect.logInfo(`runner ${address} stops ${left.length} task(s) still running after the drain time`)
        for (const entry of left) entry.ending = "drained"
        // Not forked into the runner's scope: it is closing, and a fork into a closing scope never runs.
        yield* Effect.forEach(left, (entry) => Effect.ignore(tm.revoke(entry.local.id)), {
          concurrency: "unbounded",
          discard: true
        })
        yield* Effect.forEach(left, (entry) => Deferred.await(entry.done), { discard: true })
      }
      yield* flushed
      yield* Effect.ignore(store.setRunnerState(address, incarnation, "stopped"))
      yield* Deferred.succeed(drained, undefined)
    }).pipe(Effect.withSpan("ClusterRunner.drain"))
    yield* Effect.addFinalizer(() => drain)

    yield* Effect.logInfo(`runner ${address} is up`)
    kickClaims()
    return { drain }
  })

/**
 * A runner and a client of the cluster in this process: the layer provides `ClusterTasks` (whose `shutdown`
 * drains this runner), runs the runner until the layer closes (which drains it), and needs what the jobs need.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <R = never>(
  config: RunnerConfig<R>
): Layer.Layer<
  ClusterTasks.ClusterTasks,
  InvalidDatabaseUrl | StorageError,
  Exclude<R, NodeTaskManager.NodeTaskManagerServices>
> => {
  const local = NodeTaskManager.layerWith({
    guardian: config.guardian ?? true,
    retain: 100,
    ...(config.grace === undefined ? {} : { grace: config.grace })
  })
  const runner = Layer.effect(
    ClusterTasks.ClusterTasks,
    Effect.gen(function*() {
      const handle = yield* make(config)
      return yield* Client.make({ onShutdown: handle.drain })
    })
  )
  return runner.pipe(
    Layer.provide(local),
    Layer.provide(Client.databaseLayer(config.db))
  ) as any
}
