/**
 * B9 remote overhead: what `@effect-tasks/server` adds on loopback. The latency of `GET /api/tasks/:id` and
 * of a revoke through the API, against the same operations in process; and events per second delivered over
 * Server-Sent Events to 10 clients while 1000 tasks finish, with a check that no client that keeps up loses
 * an event.
 */
import { TaskId, TaskManager } from "@effect-tasks/core"
import { NodeTaskManager } from "@effect-tasks/node"
import { TaskClient, TaskServer } from "@effect-tasks/server"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ChildProcess from "effect/process/ChildProcess"
import { ChildProcessSpawner } from "effect/process/ChildProcessSpawner"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Http from "node:http"
import { atMost, type Benchmark, pick, row } from "./benchmark.js"
import { BUDGET } from "./budget.js"
import { measure, measureFigures, now, type Series, stats } from "./harness.js"
import { waitUntil } from "./procfs.js"
import { formatNumber, type Row } from "./report.js"
import { SLEEPERS } from "./trees.js"

const TOKEN = "b9-benchmark-token"
/** Requests per latency series (each one sample). */
const GETS = 2000
const REVOKES = 30
const CLIENTS = 10
const TASKS = 1000
const ROUNDS = 7
const TARGET_P50 = 1

/** A manager served on a free loopback port, for as long as the scope is open. */
const serve = Effect.gen(function*() {
  const context = yield* Layer.build(
    TaskServer.layer({ port: 0, token: TOKEN }).pipe(
      Layer.provideMerge(NodeTaskManager.layerWith({ guardian: false, journal: false }))
    )
  )
  return {
    tm: Context.get(context, TaskManager.TaskManager),
    spawner: Context.get(context, ChildProcessSpawner),
    url: Context.get(context, TaskServer.TaskServer).connect
  }
})

type Served = Effect.Success<typeof serve>

/** One GET with node:http on a keep-alive agent: status and body, as any HTTP client sees them. */
const get = (agent: Http.Agent, url: URL, path: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const request = Http.request(
      { host: url.hostname, port: url.port, path, agent, headers: { authorization: `Bearer ${TOKEN}` } },
      (response) => {
        let body = ""
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => (body += chunk))
        response.on("end", () => response.statusCode === 200 ? resolve(body) : reject(new Error(body)))
      }
    )
    request.on("error", reject)
    request.end()
  })

/** A client of `/api/events` that parses every message as it arrives (one that keeps up). */
const subscribe = (url: URL) =>
  new Promise<{ readonly events: Array<{ readonly _tag: string; readonly id?: number }>; readonly close: () => void }>(
    (resolve, reject) => {
      const events: Array<{ readonly _tag: string; readonly id?: number }> = []
      const request = Http.request(
        {
          host: url.hostname,
          port: url.port,
          path: "/api/events",
          agent: false,
          headers: { authorization: `Bearer ${TOKEN}` }
        },
        (response) => {
          let buffer = ""
          response.setEncoding("utf8")
          response.on("data", (chunk: string) => {
            buffer += chunk
            let end: number
            while ((end = buffer.indexOf("\n\n")) >= 0) {
              const message = buffer.slice(0, end)
              buffer = buffer.slice(end + 2)
              if (message.startsWith("data: ")) events.push(JSON.parse(message.slice(6)))
            }
          })
          response.on("error", () => {})
          resolve({ events, close: () => response.destroy() })
        }
      )
      request.on("error", reject)
      request.end()
    }
  )

/** Submits a task running two sleeping processes and waits until they run; gives its id. */
const startSleeper = async (served: Served): Promise<TaskId.TaskId> => {
  const task = await Effect.runPromise(
    served.tm.submit(served.spawner.exitCode(ChildProcess.make("sh", ["-c", SLEEPERS])))
  )
  await waitUntil(
    "the sleeper's shell",
    () => Effect.runSync(served.tm.get(task.id)).processes.length > 0 ? true : undefined
  )
  return task.id
}

type Consumer = {
  readonly events: Array<{ readonly _tag: string; readonly id?: number }>
  readonly close: () => Promise<void> | void
}

/** An in-process subscriber collecting every event, like an SSE client but without HTTP. */
const localConsumer = (served: Served): Promise<Consumer> =>
  Effect.runPromise(Effect.gen(function*() {
    const scope = yield* Scope.make()
    const stream = yield* served.tm.subscribe.pipe(Scope.provide(scope))
    const events: Array<{ readonly _tag: string; readonly id?: number }> = []
    yield* Stream.runForEach(stream, (event) => Effect.sync(() => events.push(event))).pipe(
      Effect.forkDetach({ startImmediately: true })
    )
    return { events, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
  }))

/**
 * 1000 tasks finish while 10 consumers read the events (SSE clients, or in-process subscribers): events per
 * second delivered to all of them together, and how many got every event without a gap.
 */
const eventRound = async (served: Served, over: "sse" | "local") => {
  const url = new URL(served.url)
  const consumers: ReadonlyArray<Consumer> = await Promise.all(
    Array.from({ length: CLIENTS }, () => over === "sse" ? subscribe(url) : localConsumer(served))
  )
  const ids = new Set<number>()
  const start = now()
  await Effect.runPromise(
    Effect.forEach(Array.from({ length: TASKS }), () =>
      Effect.map(served.tm.submit(Effect.yieldNow), (task) => {
        ids.add(task.id)
      }))
  )
  const expected = TASKS * 3
  const done = (events: Consumer["events"]) =>
    events.some((e) => e._tag === "EventsDropped")
    || events.filter((e) => e._tag === "TaskFinished" && ids.has(e.id!)).length === TASKS
  await waitUntil(
    "every consumer's last TaskFinished",
    () => consumers.every((c) => done(c.events)) ? true : undefined,
    {
      timeout: 60_000
    }
  )
  const millis = now() - start
  const complete =
    consumers.filter((c) =>
      c.events.filter((e) => e.id !== undefined && ids.has(e.id)).length === expected
      && !c.events.some((e) => e._tag === "EventsDropped")
    ).length
  await Promise.all(consumers.map((c) => c.close()))
  return { perSecond: (expected * CLIENTS) / (millis / 1000), complete }
}

export const b9: Benchmark = {
  id: "B9",
  title: "remote overhead",
  run: async ({ log }) => {
    const scope = await Effect.runPromise(Scope.make())
    const served = await Effect.runPromise(serve.pipe(Scope.provide(scope)))
    const url = new URL(served.url)
    const agent = new Http.Agent({ keepAlive: true, maxSockets: 1 })
    const client = await Effect.runPromise(
      TaskClient.make({ connect: served.url, token: TOKEN }).pipe(Scope.provide(scope))
    )
    try {
      const known = await Effect.runPromise(served.tm.submit(Effect.never, { name: "known" }))
      const id = known.id
      log(`  GET /api/tasks/${id} and tm.get(${id}), ${GETS} each ...`)
      const reads = await measure([
        {
          label: "GET /api/tasks/:id (node:http, keep-alive)",
          run: () => timed(() => get(agent, url, `/api/tasks/${id}`))
        },
        {
          label: "TaskClient tasks.get (typed client)",
          run: () => timed(() => Effect.runPromise(client.tasks.get({ params: { id } })))
        },
        { label: "tm.get in process", run: () => timed(() => Effect.runPromise(served.tm.get(id))) }
      ], { warmup: 200, repeats: GETS, collectBetween: false, budget: BUDGET / 3, minRepeats: 200 })
      const [viaHttp, viaClient, inProcess] = [
        pick(reads, "GET /api/tasks/:id (node:http, keep-alive)"),
        pick(reads, "TaskClient tasks.get (typed client)"),
        pick(reads, "tm.get in process")
      ]

      log(`  revokes of a task with two sleeping processes, ${REVOKES} each ...`)
      const [viaApi, local] = await measureFigures([
        {
          label: "POST /api/tasks/:id/revoke",
          run: async () => {
            const sleeper = await startSleeper(served)
            const millis = await timed(() =>
              Effect.runPromise(client.tasks.revoke({ params: { id: sleeper }, payload: {} }))
            )
            return { value: millis }
          }
        },
        {
          label: "tm.revoke in process",
          run: async () => {
            const sleeper = await startSleeper(served)
            return { value: await timed(() => Effect.runPromise(served.tm.revoke(sleeper))) }
          }
        }
      ], { warmup: 3, repeats: REVOKES, collectBetween: false, budget: BUDGET / 3, minRepeats: 10 })
      const revokeApi = series(viaApi, "POST /api/tasks/:id/revoke")
      const revokeLocal = series(local, "tm.revoke in process")

      log(`  ${CLIENTS} SSE clients, and ${CLIENTS} in-process subscribers, while ${TASKS} tasks finish ...`)
      const sseRounds: Array<Awaited<ReturnType<typeof eventRound>>> = []
      const localRounds: Array<Awaited<ReturnType<typeof eventRound>>> = []
      for (let i = 0; i < ROUNDS; i++) {
        const remote = await eventRound(served, "sse")
        const local = await eventRound(served, "local")
        log(
          `  round ${i + 1}: ${formatNumber(remote.perSecond)} events/s over SSE (${remote.complete}/${CLIENTS} `
            + `complete), ${formatNumber(local.perSecond)} in process`
        )
        sseRounds.push(remote)
        localRounds.push(local)
      }
      const sse: Series = { label: `SSE, ${CLIENTS} clients together`, ...withStats(sseRounds.map((r) => r.perSecond)) }
      const inProcessEvents: Series = {
        label: `${CLIENTS} in-process subscribers together`,
        ...withStats(localRounds.map((r) => r.perSecond))
      }
      const complete = sseRounds.every((r) => r.complete === CLIENTS)

      const rows: Array<Row> = [
        row(viaHttp, "ms", inProcess),
        row(viaClient, "ms", inProcess),
        row(inProcess, "ms"),
        row(revokeApi, "ms", revokeLocal),
        row(revokeLocal, "ms"),
        row(sse, "events/s", inProcessEvents),
        row(inProcessEvents, "events/s")
      ]
      return {
        about: [
          "A `NodeTaskManager` served by `TaskServer.layer` on 127.0.0.1 (port 0), clients in the same process.",
          `Reads: ${GETS} sequential \`GET /api/tasks/:id\` of one task, with node:http on a keep-alive agent (the`,
          "server's cost plus the transport) and with the typed `TaskClient` (its encoding and decoding too),",
          "interleaved with `tm.get` on the same manager in process. Revokes: a task running",
          "`sh -c 'sleep 1000 & sleep 1000 & wait'` is started and, once its shell runs, revoked gracefully through",
          "`POST /api/tasks/:id/revoke` (typed client) or `tm.revoke`; the figure is the call until the terminal",
          `record is back. Events: ${CLIENTS} clients read \`/api/events\` (parsing every message) while ${TASKS}`,
          "tasks (each `Effect.yieldNow`) are submitted at once and finish: events delivered per second to all",
          "clients together, from the first submit to the last client's last `TaskFinished`, against 10",
          "in-process `tm.subscribe` consumers of the same events (a separate round each, alternating)."
        ].join("\n"),
        checks: [
          atMost(
            `API round trip p50 at most ${TARGET_P50} ms`,
            viaHttp.stats.median,
            TARGET_P50,
            `p50 ${formatNumber(viaHttp.stats.median)} ms, p99 ${
              formatNumber(viaHttp.stats.p99)
            } ms (typed client p50 ${formatNumber(viaClient.stats.median)} ms)`
          ),
          {
            target: "no event lost by a client that keeps up",
            result: `${sseRounds.map((r) => r.complete).join(", ")} of ${CLIENTS} clients got all ${TASKS * 3} events`
              + " (rounds)",
            verdict: complete ? "met" : "missed"
          }
        ],
        rows,
        notes: [
          "The revoke rows include stopping the tree (SIGTERM, which the shell and both sleeps obey at once, and"
          + " waiting until all three are gone), as in B5; the difference between the two is what the API adds.",
          `Events per second divide ${TASKS * 3} events (TaskSubmitted, TaskStarted, TaskFinished per task) times the`
          + " number of clients by the wall time of the round. The tasks do nothing, so the events come as one burst"
          + " and the figure is what the stream delivers, not how fast tasks finish. The clients run in the server's"
          + " process and share its one thread (as does the in-process consumer)."
        ]
      }
    } finally {
      agent.destroy()
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }
}

/** Milliseconds an async call takes. */
const timed = async (f: () => Promise<unknown>): Promise<number> => {
  const start = now()
  await f()
  return now() - start
}

const withStats = (samples: ReadonlyArray<number>) => ({ samples, stats: stats(samples) })

const series = (figures: Readonly<Record<string, Series>> | undefined, label: string): Series => {
  const found = figures?.["value"]
  if (found === undefined) throw new Error(`missing figures for ${label}`)
  return { ...found, label }
}
