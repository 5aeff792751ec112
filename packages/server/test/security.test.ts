/**
 * Every point of the security model, against the real server: the token (missing, wrong, in a URL, compared
 * in constant time), DNS rebinding (`Host`), cross-origin requests (`Origin`), no CORS, binding beyond
 * loopback, the Unix socket's mode, and bad input that gets a 4xx JSON error and changes nothing.
 */
import { NodeTaskManager } from "@effect-tasks/node"
import { TaskClient, TaskServer } from "@effect-tasks/server"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Logger } from "effect"
import { execFileSync } from "node:child_process"
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Security from "../src/internal/security.js"
import {
  alive,
  eventually,
  freshMark,
  killMarked,
  markedPids,
  markedScript,
  raw,
  request,
  scoped,
  serve,
  sh,
  TOKEN
} from "./helpers.js"

const marks: Array<string> = []
const mark = () => {
  const value = freshMark()
  marks.push(value)
  return value
}
const dirs: Array<string> = []
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "tasks-server-"))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  marks.forEach(killMarked)
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

const readCommand = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim()
  } catch {
    return ""
  }
}

/** A manager and server with one running task whose processes are marked; the checks see them in /proc. */
const withRunningTask = (options: Partial<TaskServer.Options> = {}) =>
  Effect.gen(function*() {
    const served = yield* serve(options)
    const m = mark()
    const task = yield* served.tm.submit(sh(markedScript(m, "sleep 1000")), { name: "victim" })
    yield* eventually(() => markedPids(m).some((pid) => readCommand(pid) === "sleep"), 5000, "the victim's sleep")
    const victims = markedPids(m)
    const untouched = Effect.gen(function*() {
      expect((yield* served.tm.get(task.id)).state).toBe("RUNNING")
      expect((yield* served.tm.get(task.id)).revocation).toBeUndefined()
      expect(victims.every(alive)).toBe(true)
      expect((yield* served.tm.list).length).toBe(1)
    })
    return { ...served, task, untouched }
  })

const routes: ReadonlyArray<readonly [string, string]> = [
  ["GET", "/api/tasks"],
  ["GET", "/api/tasks/1"],
  ["GET", "/api/tasks/1/output"],
  ["POST", "/api/tasks/1/revoke"],
  ["POST", "/api/revoke-all"],
  ["GET", "/api/events"],
  ["POST", "/api/tasks"],
  ["GET", "/api/openapi.json"],
  ["GET", "/api/no-such-route"],
  ["DELETE", "/api/tasks/1"]
]

describe("the bearer token", () => {
  it("is compared by digest, in constant time, and only an exact match passes", () => {
    const expected = Security.digest("s3cret-token")
    expect(Security.tokenMatches(expected, "s3cret-token")).toBe(true)
    for (
      const wrong of ["", "s3cret-toke", "s3cret-token ", "S3CRET-TOKEN", "s3cret-token-and-more", "x".repeat(10_000)]
    ) {
      expect(Security.tokenMatches(expected, wrong)).toBe(false)
    }
    // Digests have one length whatever the candidate's, so timingSafeEqual never throws or short-cuts on length.
    expect(Security.digest("").length).toBe(Security.digest("x".repeat(10_000)).length)
    expect(Security.bearerCredential("Bearer abc")).toBe("abc")
    expect(Security.bearerCredential("bearer   abc")).toBe("abc")
    expect(Security.bearerCredential("Basic abc")).toBeUndefined()
    expect(Security.bearerCredential("Bearer")).toBeUndefined()
    expect(Security.bearerCredential("Bearer a b")).toBeUndefined()
    expect(Security.generateToken()).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(Security.generateToken()).not.toBe(Security.generateToken())
  })

  it.live("every /api request without it, or with a wrong one, is 401 JSON and changes nothing", () =>
    Effect.gen(function*() {
      const { server, untouched } = yield* withRunningTask({ allowSubmit: true })
      const attempts: ReadonlyArray<Record<string, string>> = [
        {},
        { authorization: "Bearer wrong-token" },
        { authorization: `Bearer ${TOKEN}x` },
        { authorization: `Basic ${Buffer.from(`user:${TOKEN}`).toString("base64")}` },
        { authorization: TOKEN },
        { "x-api-key": TOKEN },
        { cookie: `token=${TOKEN}` }
      ]
      for (const headers of attempts) {
        for (const [method, path] of routes) {
          const res = yield* request(server.connect, path, {
            method,
            auth: false,
            headers,
            ...(method === "POST" ? { body: JSON.stringify({ command: "true" }) } : {})
          })
          expect(res.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(401)
          expect(res.json._tag).toBe("Unauthorized")
          expect(res.headers["www-authenticate"]).toMatch(/^Bearer/)
        }
      }
      yield* untouched
    }).pipe(scoped))

  it.live("a token in the URL is never accepted", () =>
    Effect.gen(function*() {
      const { server, task, untouched } = yield* withRunningTask()
      for (const query of ["token", "access_token", "auth", "bearer"]) {
        for (const path of ["/api/tasks", `/api/tasks/${task.id}/revoke`]) {
          const res = yield* request(server.connect, `${path}?${query}=${TOKEN}`, {
            method: path.endsWith("revoke") ? "POST" : "GET",
            auth: false
          })
          expect(res.status, `${path}?${query}`).toBe(401)
        }
      }
      yield* untouched
    }).pipe(scoped))
})

describe("DNS rebinding: the Host of a loopback server", () => {
  it("names loopback only when it is localhost, *.localhost, 127.0.0.0/8 or ::1", () => {
    for (
      const host of ["localhost", "localhost:7420", "LOCALHOST:1", "app.localhost:80", "127.0.0.1", "127.0.0.1:7420"]
    ) {
      expect(Security.isLoopbackHostHeader(host), host).toBe(true)
    }
    for (
      const host of ["127.1.2.3:9", "[::1]", "[::1]:7420", "[0:0:0:0:0:0:0:1]:1", "[::ffff:127.0.0.1]:5", "2130706433"]
    ) {
      expect(Security.isLoopbackHostHeader(host), host).toBe(true)
    }
    const foreign = [
      undefined,
      "",
      "evil.example",
      "evil.example:7420",
      "localhost.evil.example",
      "127.0.0.1.nip.io:7420",
      "localhost@evil.example",
      "evil.example#@localhost",
      "localhost/evil",
      "10.0.0.1:7420",
      "0.0.0.0:7420",
      "[::]:7420",
      "[::ffff:10.0.0.1]",
      "evil.example\\@localhost",
      "local host"
    ]
    for (const host of foreign) expect(Security.isLoopbackHostHeader(host), String(host)).toBe(false)
  })

  it.live("a request with a rebinding Host is 403, even with the token, and changes nothing", () =>
    Effect.gen(function*() {
      const { server, task, untouched } = yield* withRunningTask({ allowSubmit: true })
      const port = new URL(server.connect).port
      for (const host of [`evil.example:${port}`, `rebind.attacker.test:${port}`, `192.168.1.20:${port}`]) {
        for (
          const [method, path] of [...routes, ["GET", "/"], ["POST", `/api/tasks/${task.id}/revoke`]] as const
        ) {
          const res = yield* request(server.connect, path, {
            method,
            headers: { host },
            ...(method === "POST" ? { body: "{}" } : {})
          })
          expect(res.status, `${host} ${method} ${path}`).toBe(403)
          expect(res.json._tag).toBe("Forbidden")
          expect(res.json.message).toContain("loopback")
        }
      }
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`]) {
        const ok = yield* request(server.connect, "/api/tasks", { headers: { host } })
        expect(ok.status, host).toBe(200)
      }
      yield* untouched
    }).pipe(scoped))

  it.live("a request without a Host header is refused", () =>
    Effect.gen(function*() {
      const { server } = yield* serve()
      const url = new URL(server.connect)
      const answer = yield* Effect.promise(() =>
        new Promise<string>((resolve, reject) => {
          const socket = Net.connect(Number(url.port), url.hostname, () => {
            socket.write(`GET /api/tasks HTTP/1.0\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`)
          })
          let text = ""
          socket.setEncoding("utf8")
          socket.on("data", (chunk: string) => (text += chunk))
          socket.on("end", () => resolve(text))
          socket.on("error", reject)
        })
      )
      expect(answer).toMatch(/^HTTP\/1\.[01] 403/)
    }).pipe(scoped))
})

describe("cross-origin requests", () => {
  it("an Origin is the server's own only with the same host and port", () => {
    expect(Security.isSameOrigin("http://127.0.0.1:7420", "127.0.0.1:7420")).toBe(true)
    expect(Security.isSameOrigin("http://localhost:7420", "localhost:7420")).toBe(true)
    expect(Security.isSameOrigin("http://localhost:7420", "127.0.0.1:7420")).toBe(false)
    expect(Security.isSameOrigin("http://127.0.0.1:7421", "127.0.0.1:7420")).toBe(false)
    expect(Security.isSameOrigin("https://evil.example", "127.0.0.1:7420")).toBe(false)
    expect(Security.isSameOrigin("null", "127.0.0.1:7420")).toBe(false)
    expect(Security.isSameOrigin("file://", "127.0.0.1:7420")).toBe(false)
    expect(Security.isSameOrigin("http://127.0.0.1:7420", undefined)).toBe(false)
  })

  it.live("a POST from another origin is 403 and revokes nothing; the server's own origin is accepted", () =>
    Effect.gen(function*() {
      const { server, task, untouched } = yield* withRunningTask({ allowSubmit: true })
      const own = server.connect
      for (const origin of ["http://evil.example", "null", "http://localhost:1", `${own}.evil.example`]) {
        for (
          const path of [`/api/tasks/${task.id}/revoke`, "/api/revoke-all", "/api/tasks"]
        ) {
          const res = yield* request(own, path, {
            method: "POST",
            headers: { origin },
            body: JSON.stringify(path === "/api/tasks" ? { command: "true" } : { graceful: false })
          })
          expect(res.status, `${origin} ${path}`).toBe(403)
          expect(res.json._tag).toBe("Forbidden")
          expect(res.json.message).toContain("cross-origin")
        }
      }
      yield* untouched
      const same = yield* request(own, `/api/tasks/${task.id}/revoke`, {
        method: "POST",
        headers: { origin: own },
        body: JSON.stringify({ graceful: false })
      })
      expect(same.status).toBe(200)
      expect(same.json.state).toBe("REVOKED")
    }).pipe(scoped))

  it.live("there is no CORS: no Access-Control headers, preflights are refused", () =>
    Effect.gen(function*() {
      const { server } = yield* serve()
      const preflight = yield* request(server.connect, "/api/tasks/1/revoke", {
        method: "OPTIONS",
        auth: false,
        headers: {
          origin: "http://evil.example",
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization"
        }
      })
      expect(preflight.status).toBe(403)
      const plain = yield* request(server.connect, "/api/tasks/1/revoke", { method: "OPTIONS" })
      expect(plain.status).toBe(405)
      for (const res of [preflight, plain, yield* request(server.connect, "/api/tasks")]) {
        expect(Object.keys(res.headers).filter((name) => name.startsWith("access-control-"))).toEqual([])
      }
    }).pipe(scoped))
})

const managerLayer = NodeTaskManager.layerWith({ guardian: false })

/** Starts a server on a socket path and stops it again; the exit says whether it could start. */
const buildOnSocket = (socket: string) =>
  Layer.build(TaskServer.layer({ socket, token: TOKEN }).pipe(Layer.provide(managerLayer))).pipe(
    Effect.scoped,
    Effect.exit
  )

describe("where the server listens", () => {
  it.live("a non-loopback address needs allowRemote, and then a warning is logged", () =>
    Effect.gen(function*() {
      expect(Security.isLoopbackBind("127.0.0.1")).toBe(true)
      expect(Security.isLoopbackBind("::1")).toBe(true)
      expect(Security.isLoopbackBind("localhost")).toBe(true)
      expect(Security.isLoopbackBind("0.0.0.0")).toBe(false)
      expect(Security.isLoopbackBind("::")).toBe(false)

      const refused = yield* Layer.build(
        TaskServer.layer({ host: "0.0.0.0", port: 0, token: TOKEN }).pipe(Layer.provide(managerLayer))
      ).pipe(Effect.scoped, Effect.exit)
      expect(Exit.isFailure(refused)).toBe(true)
      const error = Exit.isFailure(refused) ? JSON.stringify(refused.cause) : ""
      expect(error).toContain("TaskServerError")
      expect(error).toContain("allowRemote")

      const warnings: Array<string> = []
      const capture = Logger.make((options) => {
        if (options.logLevel === "Warn") warnings.push(String(options.message))
      })
      const context = yield* Layer.build(
        TaskServer.layer({ host: "0.0.0.0", port: 0, token: TOKEN, allowRemote: true }).pipe(
          Layer.provide(managerLayer),
          Layer.provide(Logger.layer([capture]))
        )
      )
      expect(warnings.join("\n")).toContain("not loopback")
      const served = yield* TaskServer.TaskServer.pipe(Effect.provideContext(context))
      expect(served.connect).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/)
      // Bound to every interface: the Host check cannot know the names, the token still guards.
      const port = new URL(served.connect).port
      const res = yield* Effect.promise(() =>
        raw(`http://127.0.0.1:${port}`, "/api/tasks", { headers: { host: `tasks.lan:${port}` } })
      )
      expect(res.status).toBe(200)
      const anonymous = yield* Effect.promise(() => raw(`http://127.0.0.1:${port}`, "/api/tasks", { auth: false }))
      expect(anonymous.status).toBe(401)
    }).pipe(scoped))

  it.live("a Unix socket is created with mode 0600, serves the API, and is removed on close", () =>
    Effect.gen(function*() {
      const path = join(tempDir(), "tasks.sock")
      const before = process.umask(0)
      const served = yield* serve({ socket: path }).pipe(Effect.ensuring(Effect.sync(() => process.umask(before))))
      const stat = lstatSync(path)
      expect(stat.isSocket()).toBe(true)
      expect(stat.mode & 0o777).toBe(0o600)
      expect(stat.uid).toBe(process.getuid!())
      expect(served.server.connect).toBe(path)

      const client = yield* TaskClient.make({ connect: path, token: TOKEN })
      yield* served.tm.submit(Effect.void, { name: "over a socket" })
      expect((yield* client.tasks.list()).map((task) => task.name)).toEqual(["over a socket"])
      const anonymous = yield* request("", "/api/tasks", { socketPath: path, auth: false })
      expect(anonymous.status).toBe(401)
      // No DNS rebinding reaches a socket, but a foreign Origin is still refused.
      const foreign = yield* request("", "/api/revoke-all", {
        socketPath: path,
        method: "POST",
        body: "{}",
        headers: { origin: "http://evil.example" }
      })
      expect(foreign.status).toBe(403)
    }).pipe(
      Effect.scoped,
      Effect.andThen(Effect.sync(() => {
        for (const dir of dirs) expect(existsSync(join(dir, "tasks.sock"))).toBe(false)
      }))
    ))

  it.live("a stale socket is replaced; a live one, or a path that is not a socket, is an error", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const stale = join(dir, "stale.sock")
      const listener = Net.createServer().listen(stale)
      yield* Effect.promise(() => new Promise((resolve) => listener.once("listening", resolve)))
      const inUse = yield* buildOnSocket(stale)
      expect(JSON.stringify(inUse)).toContain("in use")
      yield* Effect.promise(() => new Promise((resolve) => listener.close(resolve)))
      // A socket file nobody listens on, as a server killed with SIGKILL leaves it.
      const dead = join(dir, "dead.sock")
      execFileSync("python3", ["-c", "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", dead])
      expect(lstatSync(dead).isSocket()).toBe(true)
      const replaced = yield* buildOnSocket(dead)
      expect(Exit.isSuccess(replaced), JSON.stringify(replaced)).toBe(true)

      const file = join(dir, "not-a-socket")
      writeFileSync(file, "precious")
      const refused = yield* buildOnSocket(file)
      expect(JSON.stringify(refused)).toContain("not a socket")
      expect(lstatSync(file).isFile()).toBe(true)
    }).pipe(scoped))
})

describe("bad input gets a 4xx JSON error and changes nothing", () => {
  it.live("malformed JSON, a field of the wrong type, an unknown field, a wrong content type", () =>
    Effect.gen(function*() {
      const { server, task, untouched } = yield* withRunningTask({ allowSubmit: true })
      const revoke = `/api/tasks/${task.id}/revoke`
      const cases: ReadonlyArray<readonly [string, string, number, Record<string, string>?]> = [
        [revoke, "{\"graceful\": false", 400],
        [revoke, "not json at all", 400],
        [revoke, "{\"graceful\": \"no\"}", 400],
        [revoke, "{\"graceful\": 0}", 400],
        [revoke, "{\"gracefull\": false}", 400],
        [revoke, "[false]", 400],
        [revoke, "\"false\"", 400],
        [revoke, "{\"graceful\": false}", 415, { "content-type": "text/plain" }],
        ["/api/revoke-all", "{\"graceful\": \"false\"}", 400],
        ["/api/revoke-all", "{\"force\": true}", 400],
        ["/api/tasks", "{\"command\": [\"rm\"]}", 400],
        ["/api/tasks", "{\"command\": \"true\", \"timeout\": \"soon\"}", 400]
      ]
      for (const [path, body, status, headers] of cases) {
        const res = yield* request(server.connect, path, { method: "POST", body, headers: headers ?? {} })
        expect(res.status, `${path} ${body}`).toBe(status)
        expect(res.headers["content-type"], `${path} ${body}`).toContain("application/json")
        expect(typeof res.json._tag).toBe("string")
        expect(typeof res.json.message).toBe("string")
      }
      yield* untouched
    }).pipe(scoped))

  it.live("an oversized body is 413, whether announced by Content-Length or sent chunked", () =>
    Effect.gen(function*() {
      const { server, task, untouched } = yield* withRunningTask({ allowSubmit: true, maxBodyBytes: 1024 })
      const big = JSON.stringify({ command: `echo ${"x".repeat(4096)}` })
      const announced = yield* request(server.connect, "/api/tasks", {
        method: "POST",
        body: big,
        headers: { "content-length": String(Buffer.byteLength(big)) }
      })
      expect(announced.status).toBe(413)
      expect(announced.json._tag).toBe("PayloadTooLarge")
      const chunked = yield* request(server.connect, "/api/tasks", { method: "POST", body: big })
      expect(chunked.status).toBe(413)
      expect(chunked.json._tag).toBe("PayloadTooLarge")
      const revoke = yield* request(server.connect, `/api/tasks/${task.id}/revoke`, {
        method: "POST",
        body: JSON.stringify({ graceful: false, pad: "x".repeat(4096) })
      })
      expect(revoke.status).toBe(413)
      yield* untouched
    }).pipe(scoped))

  it.live("a method that is not allowed is 405 with Allow; an unknown route is 404; both JSON", () =>
    Effect.gen(function*() {
      const { server, task, untouched } = yield* withRunningTask()
      const cases: ReadonlyArray<readonly [string, string, number, string?]> = [
        ["DELETE", `/api/tasks/${task.id}`, 405, "GET"],
        ["PUT", `/api/tasks/${task.id}`, 405, "GET"],
        ["GET", `/api/tasks/${task.id}/revoke`, 405, "POST"],
        ["DELETE", "/api/tasks", 405, "GET, POST"],
        ["PATCH", "/api/events", 405, "GET"],
        ["GET", "/api/revoke-all", 405, "POST"],
        ["POST", "/api/openapi.json", 405, "GET"],
        ["GET", "/api/tasks/1/kill", 404],
        ["POST", "/api/shutdown", 404]
      ]
      for (const [method, path, status, allow] of cases) {
        const res = yield* request(server.connect, path, { method, ...(method === "GET" ? {} : { body: "{}" }) })
        expect(res.status, `${method} ${path}`).toBe(status)
        expect(res.json._tag, `${method} ${path}`).toBe(status === 405 ? "MethodNotAllowed" : "NotFound")
        if (allow !== undefined) expect(res.headers["allow"]).toBe(allow)
      }
      yield* untouched
    }).pipe(scoped))
})

describe("a slow or stuck client", () => {
  it.live(
    "an event-stream client that never reads is dropped; the API and the manager carry on",
    () =>
      Effect.gen(function*() {
        const { server, tm } = yield* serve({ stallTimeout: "500 millis" }, { outputTail: 1024 })
        const url = new URL(server.connect)
        // A client that subscribes and then never reads a byte: its socket is paused, the buffers fill up.
        const stuck = Net.connect(Number(url.port), url.hostname)
        stuck.write(`GET /api/events HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`)
        stuck.pause()
        stuck.on("error", () => {})
        let closed = false
        stuck.once("close", () => (closed = true))
        yield* Effect.sleep("100 millis")

        // A flood of output, far more than the socket buffers hold, then nothing (the stream goes idle).
        const flood = yield* tm.submit(sh("yes 'a line of output that goes nowhere fast' | head -c 50000000"), {
          name: "flood"
        })
        // Meanwhile the API answers and other tasks run and finish.
        const quick = yield* tm.submit(sh("echo still here"), { name: "quick" })
        expect((yield* tm.await(quick.id)).state).toBe("SUCCESS")
        const listed = yield* request(server.connect, "/api/tasks")
        expect(listed.status).toBe(200)
        expect(listed.json.map((task: any) => task.name)).toEqual(["flood", "quick"])
        expect((yield* tm.await(flood.id)).state).toBe("SUCCESS")
        yield* Effect.sleep("1500 millis")

        // Reading again, the client finds its connection closed by the server: it was dropped. A client that was
        // not dropped would now read the rest of its buffered events and stay connected to an idle stream.
        stuck.resume()
        yield* eventually(() => closed, 10_000, "the stuck client's connection to close")
        // The server still serves new subscribers.
        const fresh = yield* request(server.connect, "/api/tasks")
        expect(fresh.status).toBe(200)
      }).pipe(scoped),
    60_000
  )

  it.live(
    "a follow client that stops reading never slows the task: once further behind than followBuffer it is dropped",
    () =>
      Effect.gen(function*() {
        const { server, tm } = yield* serve({ stallTimeout: "60 seconds", followBuffer: 1024 * 1024 })
        const url = new URL(server.connect)
        const gate = `/tmp/effect-tasks-follow-gate-${process.pid}-${Date.now()}`
        const flood = yield* tm.submit(
          sh(`while [ ! -e ${gate} ]; do sleep 0.05; done; yes 'a line that nobody reads in time' | head -c 50000000`),
          { name: "flood" }
        )
        // A follower over HTTP that reads nothing: its socket and the server's buffer for it fill up.
        const received: Array<string> = []
        let ended = false
        const response = yield* Effect.promise(() =>
          new Promise<Http.IncomingMessage>((resolve, reject) => {
            const request = Http.get({
              host: url.hostname,
              port: url.port,
              path: `/api/tasks/${flood.id}/follow`,
              headers: { authorization: `Bearer ${TOKEN}` },
              agent: false
            }, resolve)
            request.on("error", reject)
          })
        )
        response.pause()
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => received.push(chunk))
        response.on("end", () => (ended = true))
        response.on("error", () => {})
        writeFileSync(gate, "")
        // The task writes its 50 MB at full speed and ends, the follower still paused.
        const done = yield* tm.await(flood.id)
        rmSync(gate, { force: true })
        expect(done.state).toBe("SUCCESS")
        response.resume()
        yield* eventually(() => ended, 10_000, "the dropped follow to end")
        const text = received.join("")
        // What it got is exact up to where it was dropped, and it has no TaskFinished: it knows it was cut short.
        expect(text).toContain("a line that nobody reads in time")
        expect(text).not.toContain("TaskFinished")
        expect(text.length).toBeLessThan(20_000_000)
      }).pipe(scoped),
    60_000
  )

  it.live("a client that keeps reading is not dropped", () =>
    Effect.gen(function*() {
      const { server, tm } = yield* serve({ stallTimeout: "300 millis" })
      const url = new URL(server.connect)
      const reader = Net.connect(Number(url.port), url.hostname)
      reader.write(`GET /api/events HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`)
      let bytes = 0
      let closed = false
      reader.on("data", (chunk: Buffer) => (bytes += chunk.length))
      reader.once("close", () => (closed = true))
      const flood = yield* tm.submit(sh("yes 'output' | head -c 5000000"), { name: "flood" })
      yield* tm.await(flood.id)
      yield* Effect.sleep("1 second")
      expect(bytes).toBeGreaterThan(1_000_000)
      expect(closed).toBe(false)
      reader.destroy()
    }).pipe(scoped), 60_000)
})
