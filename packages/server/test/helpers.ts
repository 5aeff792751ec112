/**
 * Test helpers: a real manager (real processes) served on a random port or a temporary socket, and a raw
 * HTTP client (node:http) that sends exactly the headers a test asks for, `Host` included.
 */
import { TaskManager } from "@effect-tasks/core"
import { NodeTaskManager } from "@effect-tasks/node"
import { TaskServer } from "@effect-tasks/server"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Http from "node:http"

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
    const tm = Context.get(context, TaskManager)
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
