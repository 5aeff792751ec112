/**
 * The routes of the contract, against a real manager running real processes: what each answers, with
 * which status, in core's JSON form, through raw HTTP and through the typed client derived from the API.
 */
import { TaskId, TrackedTask } from "@effect-tasks/core"
import { TaskApi, TaskClient } from "@effect-tasks/server"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import {
  alive,
  eventually,
  freshMark,
  killMarked,
  markedPids,
  markedScript,
  openEvents,
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
afterAll(() => marks.forEach(killMarked))

const id = (n: number) => TaskId.TaskId.make(n)

describe("GET /api/tasks and /api/tasks/:id", () => {
  it.live("lists every retained task in ascending id, in core's JSON form", () =>
    Effect.gen(function*() {
      const { server, tm } = yield* serve()
      const empty = yield* request(server.connect, "/api/tasks")
      expect(empty.status).toBe(200)
      expect(empty.headers["content-type"]).toContain("application/json")
      expect(empty.json).toEqual([])

      const m = mark()
      const first = yield* tm.submit(sh("echo one"), { name: "one", mode: "build" })
      yield* tm.await(first.id)
      yield* tm.submit(sh(markedScript(m, "sleep 30")), { name: "two" })
      yield* tm.submit(Effect.fail("boom"), { name: "three" })
      yield* eventually(() => markedPids(m).length > 0, 5000, "the sleeper")
      const listed = yield* request(server.connect, "/api/tasks")
      expect(listed.status).toBe(200)
      const expected = (yield* tm.list).map(TrackedTask.toJson)
      expect(listed.json).toEqual(JSON.parse(JSON.stringify(expected)))
      expect(listed.json.map((task: any) => task.id)).toEqual([1, 2, 3])
      for (const task of listed.json) {
        for (const key of ["id", "name", "mode", "state", "processes"]) expect(task).toHaveProperty(key)
      }
      expect(listed.json[2].state).toBe("FAILURE")
      expect(listed.json[2].error).toContain("boom")

      const one = yield* request(server.connect, "/api/tasks/2")
      expect(one.status).toBe(200)
      expect(one.json).toMatchObject({ id: 2, name: "two", mode: "default", state: "RUNNING" })
      expect(one.json.processes).toHaveLength(1)
      expect(one.json.processes[0].command).toBe("sh")
    }).pipe(scoped))

  it.live("an unknown id is 404 with a JSON error; an id that is not a positive integer is 400", () =>
    Effect.gen(function*() {
      const { server, tm } = yield* serve()
      yield* tm.submit(Effect.void, { name: "only" })
      const missing = yield* request(server.connect, "/api/tasks/42")
      expect(missing.status).toBe(404)
      expect(missing.headers["content-type"]).toContain("application/json")
      expect(missing.json).toMatchObject({ _tag: "TaskNotFound", id: 42 })
      expect(missing.json.message).toContain("42")
      for (const bad of ["abc", "0", "-1", "1.5", "99999999999999999999", "%20", "1x"]) {
        for (const path of [`/api/tasks/${bad}`, `/api/tasks/${bad}/output`]) {
          const res = yield* request(server.connect, path)
          expect(res.status, `${path}`).toBe(400)
          expect(res.json._tag, `${path}`).toBe("BadRequest")
          expect(typeof res.json.message).toBe("string")
        }
        const revoke = yield* request(server.connect, `/api/tasks/${bad}/revoke`, { method: "POST", body: "{}" })
        expect(revoke.status, bad).toBe(400)
      }
      const revokeMissing = yield* request(server.connect, "/api/tasks/7/revoke", { method: "POST", body: "{}" })
      expect(revokeMissing.status).toBe(404)
      expect(revokeMissing.json._tag).toBe("TaskNotFound")
    }).pipe(scoped))
})

describe("GET /api/tasks/:id/output", () => {
  it.live("answers the kept tail of both streams, with the dropped counts", () =>
    Effect.gen(function*() {
      const { server, tm } = yield* serve({}, { outputTail: 16 })
      const task = yield* tm.submit(sh("printf 'out-0123456789abcdefXYZ'; printf 'err-line' >&2"), { name: "printer" })
      yield* tm.await(task.id)
      const res = yield* request(server.connect, `/api/tasks/${task.id}/output`)
      expect(res.status).toBe(200)
      expect(res.json).toEqual({ stdout: "3456789abcdefXYZ", stderr: "err-line", droppedStdout: 7, droppedStderr: 0 })
      const none = yield* request(server.connect, "/api/tasks/99/output")
      expect(none.status).toBe(404)
      expect(none.json._tag).toBe("TaskNotFound")
    }).pipe(scoped))
})

describe("POST /api/tasks/:id/revoke and /api/revoke-all", () => {
  it.live("a graceful revoke answers with the terminal record once every process is gone", () =>
    Effect.gen(function*() {
      const { server, tm } = yield* serve()
      const m = mark()
      const task = yield* tm.submit(sh(markedScript(m, "sleep 1000 & sleep 1000; wait")), { name: "sleepers" })
      yield* eventually(() => markedPids(m).length === 3, 5000, "sh and two sleeps")
      const pids = markedPids(m)
      const res = yield* request(server.connect, `/api/tasks/${task.id}/revoke`, { method: "POST", body: "{}" })
      expect(res.status).toBe(200)
      expect(res.json).toMatchObject({ id: task.id, state: "REVOKED", revocation: { reason: "user", graceful: true } })
      expect(res.json.processes[0].signal).toBe("SIGTERM")
      // Answered only once the task stopped: nothing it started is alive (checked in /proc).
      expect(pids.filter(alive)).toEqual([])
      expect(markedPids(m)).toEqual([])
    }).pipe(scoped))

  it.live("graceful: false kills at once; no body means graceful; a finished task comes back unchanged", () =>
    Effect.gen(function*() {
      const { server, tm } = yield* serve({}, { grace: "30 seconds" })
      const m = mark()
      const stubborn = yield* tm.submit(sh(markedScript(m, "trap '' TERM; sleep 1000")), { name: "stubborn" })
      yield* eventually(() => markedPids(m).length === 2, 5000, "the stubborn shell")
      const started = Date.now()
      const forced = yield* request(server.connect, `/api/tasks/${stubborn.id}/revoke`, {
        method: "POST",
        body: JSON.stringify({ graceful: false })
      })
      expect(forced.status).toBe(200)
      expect(forced.json.revocation).toEqual({ reason: "user", graceful: false })
      expect(forced.json.processes[0].signal).toBe("SIGKILL")
      expect(Date.now() - started).toBeLessThan(10_000) // not the 30 s grace
      expect(markedPids(m)).toEqual([])

      const quiet = yield* tm.submit(sh("sleep 1000"), { name: "quiet" })
      yield* eventually(() => true)
      const bare = yield* request(server.connect, `/api/tasks/${quiet.id}/revoke`, { method: "POST" })
      expect(bare.status).toBe(200)
      expect(bare.json.revocation).toEqual({ reason: "user", graceful: true })

      const again = yield* request(server.connect, `/api/tasks/${quiet.id}/revoke`, {
        method: "POST",
        body: JSON.stringify({ graceful: false })
      })
      expect(again.status).toBe(200)
      expect(again.json).toEqual(bare.json)
    }).pipe(scoped))

  it.live("revoke-all answers with the terminal records of every active task", () =>
    Effect.gen(function*() {
      const { server, tm } = yield* serve({}, { concurrency: { batch: 1 } })
      const m = mark()
      yield* tm.await((yield* tm.submit(sh("true"), { name: "done" })).id)
      yield* tm.submit(sh(markedScript(m, "sleep 1000")), { name: "a", mode: "batch" })
      yield* tm.submit(sh(markedScript(m, "sleep 1000")), { name: "queued", mode: "batch" })
      yield* tm.submit(sh(markedScript(m, "sleep 1000")), { name: "b" })
      yield* eventually(() => markedPids(m).length === 4, 5000, "a and b")
      const res = yield* request(server.connect, "/api/revoke-all", { method: "POST", body: "{}" })
      expect(res.status).toBe(200)
      expect(res.json.map((task: any) => [task.name, task.state])).toEqual([
        ["a", "REVOKED"],
        ["queued", "REVOKED"],
        ["b", "REVOKED"]
      ])
      expect(res.json[1].startedAt).toBeUndefined()
      expect(markedPids(m)).toEqual([])
      const list = yield* request(server.connect, "/api/tasks")
      expect(list.json[0].state).toBe("SUCCESS")
    }).pipe(scoped))
})

describe("GET /api/events", () => {
  it.live("streams one JSON TaskEvent per Server-Sent Event, from the moment the headers arrive", () =>
    Effect.gen(function*() {
      const { server, tm } = yield* serve()
      const stream = yield* Effect.promise(() => openEvents(server.connect))
      expect(stream.status).toBe(200)
      expect(stream.headers["content-type"]).toContain("text/event-stream")
      // The headers mean subscribed: a task submitted right now is seen from its first event.
      const task = yield* tm.submit(sh("echo hello"), { name: "hello" })
      yield* tm.await(task.id)
      yield* eventually(() => stream.events.some((e) => e._tag === "TaskFinished"), 5000, "TaskFinished")
      const tags = stream.events.map((e) => e._tag)
      expect(tags[0]).toBe("TaskSubmitted")
      expect(tags).toContain("TaskStarted")
      expect(tags).toContain("ProcessStarted")
      expect(tags).toContain("ProcessExited")
      expect(stream.events.find((e) => e._tag === "TaskOutput")).toMatchObject({
        id: 1,
        stream: "stdout",
        text: "hello\n"
      })
      expect(stream.events.at(-1)).toMatchObject({ _tag: "TaskFinished", id: 1, state: "SUCCESS" })
      stream.close()
    }).pipe(scoped))

  it.live("a client that falls behind gets the dropped-events notice", () =>
    Effect.gen(function*() {
      const { server, tm } = yield* serve({}, { eventBuffer: 8 })
      const stream = yield* Effect.promise(() => openEvents(server.connect))
      // 100 tasks that finish at once publish 300 events in one go, far more than 8 fit in the buffer.
      yield* Effect.forEach(Array.from({ length: 100 }, (_, i) => i), (i) => tm.submit(Effect.void, { name: `t${i}` }))
      yield* tm.submit(Effect.void, { name: "last" })
      yield* eventually(() => stream.events.some((e) => e._tag === "EventsDropped"), 5000, "EventsDropped")
      const notice = stream.events.find((e) => e._tag === "EventsDropped")
      expect(notice.count).toBeGreaterThan(0)
      const delivered = stream.events.filter((e) => e._tag !== "EventsDropped").length
      const dropped = stream.events.filter((e) => e._tag === "EventsDropped").reduce((n, e) => n + e.count, 0)
      yield* eventually(
        () =>
          stream.events.filter((e) => e._tag !== "EventsDropped").length
              + stream.events.filter((e) => e._tag === "EventsDropped").reduce((n, e) => n + e.count, 0) === 303,
        5000,
        "every event delivered or counted"
      )
      expect(delivered + dropped).toBeLessThanOrEqual(303)
      stream.close()
    }).pipe(scoped))

  it.live("the typed client decodes the stream into TaskEvents", () =>
    Effect.gen(function*() {
      const { server, tm } = yield* serve()
      const client = yield* TaskClient.make({ connect: server.connect, token: TOKEN })
      const events = yield* client.tasks.events()
      const collected = yield* events.pipe(
        Stream.takeUntil((e) => e._tag === "TaskFinished"),
        Stream.runCollect,
        Effect.forkChild({ startImmediately: true })
      )
      yield* tm.submit(Effect.succeed(1), { name: "quick" })
      const seen = yield* Fiber.join(collected)
      expect(seen.map((e) => e._tag)).toEqual(["TaskSubmitted", "TaskStarted", "TaskFinished"])
    }).pipe(scoped))
})

describe("POST /api/tasks", () => {
  it.live("without allowSubmit it is 403 whatever the body, and nothing runs", () =>
    Effect.gen(function*() {
      const { server, tm } = yield* serve()
      for (const body of [JSON.stringify({ command: "touch /tmp/never" }), "{bad json", ""]) {
        const res = yield* request(server.connect, "/api/tasks", { method: "POST", body })
        expect(res.status).toBe(403)
        expect(res.json._tag).toBe("Forbidden")
        expect(res.json.message).toContain("allowSubmit")
      }
      expect(yield* tm.list).toEqual([])
      const client = yield* TaskClient.make({ connect: server.connect, token: TOKEN })
      const error = yield* client.tasks.submit({ payload: { command: "true" } }).pipe(Effect.flip)
      expect(error._tag).toBe("Forbidden")
    }).pipe(scoped))

  it.live("with allowSubmit it runs a shell command (sh -c) on the node spawner, and answers 201", () =>
    Effect.gen(function*() {
      const { server, tm } = yield* serve({ allowSubmit: true })
      const res = yield* request(server.connect, "/api/tasks", {
        method: "POST",
        body: JSON.stringify({ command: "echo $((6 * 7)); echo 7 >&2", mode: "remote" })
      })
      expect(res.status).toBe(201)
      expect(res.json).toMatchObject({ id: 1, name: "echo $((6 * 7)); echo 7 >&2", mode: "remote" })
      expect(["RUNNING", "SUCCESS"]).toContain(res.json.state)
      const done = yield* tm.await(id(1))
      expect(done.state, TrackedTask.toJson(done).error).toBe("SUCCESS")
      expect(done.processes[0]).toMatchObject({ command: "sh", args: ["-c", "echo $((6 * 7)); echo 7 >&2"] })
      expect(yield* tm.output(id(1))).toMatchObject({ stdout: "42\n", stderr: "7\n" })
    }).pipe(scoped))

  it.live("with args the program runs without a shell; name, mode and timeout are applied; failures keep the code", () =>
    Effect.gen(function*() {
      const { server, tm } = yield* serve({ allowSubmit: true })
      const client = yield* TaskClient.make({ connect: server.connect, token: TOKEN })
      const argv = yield* client.tasks.submit({ payload: { command: "printf", args: ["%s|", "a b", "$HOME"] } })
      expect(argv.name).toBe("printf %s| a b $HOME")
      yield* tm.await(argv.id)
      expect((yield* tm.output(argv.id)).stdout).toBe("a b|$HOME|")

      const failing = yield* client.tasks.submit({ payload: { command: "exit 3", name: "fails" } })
      const failed = yield* tm.await(failing.id)
      expect(failed.state).toBe("FAILURE")
      expect(failed.processes[0]?.exitCode).toBe(3)
      const record = yield* client.tasks.get({ params: { id: failing.id } })
      // One readable line: no stack frames, so no server file paths, reach the client.
      expect(record.error).toBe("CommandFailed: exit 3")

      const m = mark()
      const slow = yield* client.tasks.submit({
        payload: { command: markedScript(m, "sleep 1000"), name: "slow", mode: "remote", timeout: 300 }
      })
      expect(slow).toMatchObject({ name: "slow", mode: "remote" })
      const timedOut = yield* tm.await(slow.id)
      expect(timedOut.state).toBe("REVOKED")
      expect(timedOut.revocation).toEqual({ reason: "timeout", graceful: true })
      expect(markedPids(m)).toEqual([])
    }).pipe(scoped))

  it.live("a bad submit is a 400 that says what is wrong, and runs nothing", () =>
    Effect.gen(function*() {
      const { server, tm } = yield* serve({ allowSubmit: true })
      const cases: Array<[string, string]> = [
        ["{}", "payload.command"],
        [JSON.stringify({ command: "" }), "payload.command"],
        [JSON.stringify({ command: 5 }), "payload.command"],
        [JSON.stringify({ command: "true", args: "x" }), "payload.args"],
        [JSON.stringify({ command: "true", timeout: -1 }), "payload.timeout"],
        [JSON.stringify({ command: "true", timeout: "10s" }), "payload.timeout"],
        [JSON.stringify({ command: "true", env: { A: "1" } }), "payload.env"],
        ["[1,2]", "payload"],
        ["{\"command\": \"true\"", "payload"]
      ]
      for (const [body, where] of cases) {
        const res = yield* request(server.connect, "/api/tasks", { method: "POST", body })
        expect(res.status, body).toBe(400)
        expect(res.json._tag, body).toBe("BadRequest")
        expect(res.json.issues.map((i: any) => i.path).join(" "), body).toContain(where)
      }
      expect(yield* tm.list).toEqual([])
    }).pipe(scoped))
})

describe("the OpenAPI document and the typed client", () => {
  it.live("GET /api/openapi.json describes every route, behind the token", () =>
    Effect.gen(function*() {
      const { server } = yield* serve()
      const res = yield* request(server.connect, "/api/openapi.json")
      expect(res.status).toBe(200)
      expect(res.json.openapi).toMatch(/^3\./)
      expect(Object.keys(res.json.paths).toSorted()).toEqual([
        "/api/events",
        "/api/revoke-all",
        "/api/tasks",
        "/api/tasks/{id}",
        "/api/tasks/{id}/follow",
        "/api/tasks/{id}/output",
        "/api/tasks/{id}/revoke"
      ])
      expect(Object.keys(res.json.paths["/api/tasks"]).toSorted()).toEqual(["get", "post"])
      expect(res.json.components.securitySchemes.bearer.type).toBe("http")
      expect(res.json.components.securitySchemes.bearer.scheme.toLowerCase()).toBe("bearer")
      const anonymous = yield* request(server.connect, "/api/openapi.json", { auth: false })
      expect(anonymous.status).toBe(401)
    }).pipe(scoped))

  it.live("the client gets typed errors: TaskNotFound, Unauthorized", () =>
    Effect.gen(function*() {
      const { server, tm } = yield* serve()
      const client = yield* TaskClient.make({ connect: server.connect, token: TOKEN })
      const task = yield* tm.submit(Effect.succeed("x"), { name: "x" })
      const got = yield* client.tasks.get({ params: { id: task.id } })
      expect(got).toMatchObject({ id: task.id, name: "x", state: "SUCCESS" })
      const missing = yield* client.tasks.get({ params: { id: id(77) } }).pipe(Effect.flip)
      expect(missing).toBeInstanceOf(TaskApi.TaskNotFound)
      expect(missing).toMatchObject({ _tag: "TaskNotFound", id: 77 })
      const intruder = yield* TaskClient.make({ connect: server.connect, token: "not-the-token" })
      const refused = yield* intruder.tasks.list().pipe(Effect.flip)
      expect(refused._tag).toBe("Unauthorized")
    }).pipe(scoped))
})

describe("GET / (the dashboard)", () => {
  it.live("serves the page and its assets without a token, under a strict content security policy", () =>
    Effect.gen(function*() {
      const { server } = yield* serve()
      const page = yield* request(server.connect, "/", { auth: false })
      expect(page.status).toBe(200)
      expect(page.headers["content-type"]).toBe("text/html; charset=utf-8")
      expect(page.text).toContain("<title>effect-tasks</title>")
      expect(page.headers["content-security-policy"]).toContain("default-src 'none'")
      expect(page.headers["content-security-policy"]).toContain("script-src 'self'")
      expect(page.headers["content-security-policy"]).toContain("frame-ancestors 'none'")
      expect(page.headers["x-content-type-options"]).toBe("nosniff")
      expect(page.headers["referrer-policy"]).toBe("no-referrer")
      for (
        const [path, type] of [["/dashboard.js", "text/javascript"], ["/dashboard.css", "text/css"], [
          "/favicon.svg",
          "image/svg+xml"
        ]] as const
      ) {
        const asset = yield* request(server.connect, path, { auth: false })
        expect(asset.status, path).toBe(200)
        expect(asset.headers["content-type"], path).toContain(type)
      }
      // Everything else needs the token, even a path that does not exist.
      expect((yield* request(server.connect, "/index.html", { auth: false })).status).toBe(401)
      expect((yield* request(server.connect, "/dashboard.js?x", { auth: false })).status).toBe(200)
    }).pipe(scoped))
})
