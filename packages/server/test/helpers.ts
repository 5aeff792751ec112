/**
 * Test helpers: a real manager (real processes) served on a random port or a temporary socket, and a raw
 * HTTP client (node:http) that sends exactly the headers a test asks for, `Host` included.
 */
import { TaskManager } from "@effect-tasks/core"
import { NodeTaskManager } from "@effect-tasks/node"
import { TaskServer } from "@effect-tasks/server"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ChildProcess from "effect/process/ChildProcess"
import type * as Scope from "effect/Scope"
import { readdirSync, readFileSync } from "node:fs"
import * as Http from "node:http"
import type { Socket } from "node:net"

/**
 * Runs a test body in a scope, with Node's plain services: a task body that spawns needs a spawner in its
 * type, and at run time the task gets the manager's own (task-aware) spawner over it anyway.
 */
export const scoped = <A, E>(
  effect: Effect.Effect<A, E, Scope.Scope | NodeServices.NodeServices>
): Effect.Effect<A, E> => effect.pipe(Effect.scoped, Effect.provide(NodeServices.layer))

/** A token for tests. */
export const TOKEN = "test-token-0123456789abcdef"

/** A manager and a server on a free loopback port (or the options given), for the scope. */
export const serve = (options: Partial<TaskServer.Options> = {}, manager: NodeTaskManager.NodeTaskManagerConfig = {}) =>
  Effect.gen(function*() {
    const managerLayer = NodeTaskManager.layerWith({ guardian: false, grace: "2 seconds", ...manager })
    const context = yield* Layer.build(
      TaskServer.layer({ port: 0, token: TOKEN, ...options }).pipe(Layer.provideMerge(managerLayer))
    )
    const server = Context.get(context, TaskServer.TaskServer)
    const tm = Context.get(context, TaskManager.TaskManager)
    return { server, tm, context }
  })

/** What a raw request got back. */
export interface RawResponse {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  readonly text: string
  readonly json: any
}

/** Options of a raw request. */
export interface RawOptions {
  readonly method?: string
  readonly headers?: Record<string, string>
  readonly body?: string | Buffer
  /** Send the token (default true). */
  readonly auth?: boolean
  readonly socketPath?: string
}

/** Sends one request with node:http (so `Host` and every other header are exactly what the test says). */
export const raw = (base: string, path: string, options: RawOptions = {}): Promise<RawResponse> =>
  new Promise((resolve, reject) => {
    const url = options.socketPath === undefined ? new URL(base) : undefined
    const headers: Record<string, string> = {
      ...(options.auth === false ? {} : { authorization: `Bearer ${TOKEN}` }),
      ...(options.body === undefined ? {} : { "content-type": "application/json" }),
      ...options.headers
    }
    const request = Http.request({
      ...(url === undefined ? { socketPath: options.socketPath } : { host: url.hostname, port: url.port }),
      path,
      method: options.method ?? "GET",
      headers,
      agent: false
    }, (response) => {
      let text = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => (text += chunk))
      response.on("end", () => {
        let json: unknown
        try {
          json = JSON.parse(text)
        } catch {
          json = undefined
        }
        resolve({ status: response.statusCode!, headers: response.headers, text, json })
      })
      response.on("error", reject)
    })
    request.on("error", reject)
    if (options.body !== undefined) request.write(options.body)
    request.end()
  })

/** `raw` as an Effect. */
export const request = (base: string, path: string, options: RawOptions = {}) =>
  Effect.promise(() => raw(base, path, options))

/** True while the process exists and is not a zombie, read from /proc without the library. */
export const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1")
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
    return state !== "Z" && state !== "X"
  } catch {
    return false
  }
}

/** Polls (real time) until `check` is true, failing after `timeout` ms. */
export const eventually = (check: () => boolean | Promise<boolean>, timeout = 5000, what = "condition") =>
  Effect.promise(async () => {
    const deadline = Date.now() + timeout
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })

/** An open event stream read raw: its status, headers, and every `data:` payload parsed so far. */
export interface RawEvents {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  readonly events: Array<any>
  readonly comments: Array<string>
  readonly socket: Socket
  readonly closed: Promise<void>
  readonly close: () => void
}

/** Opens `/api/events` with node:http and parses the Server-Sent Events as they arrive. */
export const openEvents = (base: string, options: RawOptions = {}): Promise<RawEvents> =>
  new Promise((resolve, reject) => {
    const url = options.socketPath === undefined ? new URL(base) : undefined
    const request = Http.request({
      ...(url === undefined ? { socketPath: options.socketPath } : { host: url.hostname, port: url.port }),
      path: "/api/events",
      headers: { authorization: `Bearer ${TOKEN}`, ...options.headers },
      agent: false
    }, (response) => {
      const events: Array<any> = []
      const comments: Array<string> = []
      let buffer = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => {
        buffer += chunk
        let end: number
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const message = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          for (const line of message.split("\n")) {
            if (line.startsWith("data: ")) events.push(JSON.parse(line.slice(6)))
            else if (line.startsWith(":")) comments.push(line.slice(1).trim())
          }
        }
      })
      const closed = new Promise<void>((done) => response.socket.once("close", () => done()))
      response.on("error", () => {})
      resolve({
        status: response.statusCode!,
        headers: response.headers,
        events,
        comments,
        socket: response.socket,
        closed,
        close: () => response.destroy()
      })
    })
    request.on("error", reject)
    request.end()
  })

/** A fresh marker for one test's processes. */
export const freshMark = (): string => `srv-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`

/**
 * A shell command line whose processes (the shell itself, which execs into a marked shell with the same pid,
 * and everything it starts) carry `SERVER_TEST_MARK=<mark>` in their environment.
 */
export const markedScript = (mark: string, script: string): string =>
  `SERVER_TEST_MARK=${mark} exec sh -c '${script.replaceAll("'", "'\\''")}'`

/** Live (non-zombie) pids whose environment carries `SERVER_TEST_MARK=<mark>`, read from /proc. */
export const markedPids = (mark: string): Array<number> => {
  const found: Array<number> = []
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry)
    if (!Number.isInteger(pid) || pid === process.pid) continue
    try {
      if (
        readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(`SERVER_TEST_MARK=${mark}`) && alive(pid)
      ) {
        found.push(pid)
      }
    } catch {
      // gone, or not readable
    }
  }
  return found
}

/** SIGKILLs what a failed test left behind. */
export const killMarked = (mark: string): void => {
  for (const pid of markedPids(mark)) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
}

/** A command task body: `sh -c script`, failing on a non-zero exit. */
export const sh = (script: string) =>
  ChildProcess.make("sh", ["-c", script], { stdin: "ignore" }).pipe(
    Effect.flatMap((handle) => handle.exitCode),
    Effect.flatMap((code) => code === 0 ? Effect.void : Effect.fail(new Error(`exit ${code}`))),
    Effect.scoped
  )
