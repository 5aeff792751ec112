/**
 * The typed client beyond the routes: what `--connect` accepts, and following a task's output.
 */
import { TaskCommand } from "@effect-tasks/node"
import { TaskClient } from "@effect-tasks/server"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Scope, Stream } from "effect"
import { ChildProcess } from "effect/process"
import { scoped, serve, sh, TOKEN } from "./helpers.js"

/** A process that writes `count` numbered lines, one write each, to stdout or stderr. */
const counter = (tag: string, count: number, stream: "stdout" | "stderr") =>
  TaskCommand.run(ChildProcess.make("sh", [
    "-c",
    `i=1; while [ $i -le ${count} ]; do echo ${tag}$i${stream === "stderr" ? " >&2" : ""}; i=$((i+1)); done`
  ]))

describe("TaskClient.parseTarget", () => {
  it("reads URLs, host:port, bare ports and socket paths", () => {
    expect(TaskClient.parseTarget("http://127.0.0.1:7420")).toEqual({ _tag: "Url", url: "http://127.0.0.1:7420" })
    expect(TaskClient.parseTarget("http://localhost:7420/")).toEqual({ _tag: "Url", url: "http://localhost:7420" })
    expect(TaskClient.parseTarget("HTTPS://tasks.example")).toEqual({ _tag: "Url", url: "HTTPS://tasks.example" })
    expect(TaskClient.parseTarget("7420")).toEqual({ _tag: "Url", url: "http://127.0.0.1:7420" })
    expect(TaskClient.parseTarget("localhost:8000")).toEqual({ _tag: "Url", url: "http://localhost:8000" })
    expect(TaskClient.parseTarget("/run/user/1000/tasks.sock")).toEqual({
      _tag: "Socket",
      path: "/run/user/1000/tasks.sock"
    })
    expect(TaskClient.parseTarget("./tasks.sock")).toEqual({ _tag: "Socket", path: "./tasks.sock" })
    expect(TaskClient.parseTarget("tasks.sock")).toEqual({ _tag: "Socket", path: "tasks.sock" })
    expect(TaskClient.parseTarget("unix:/tmp/t.sock")).toEqual({ _tag: "Socket", path: "/tmp/t.sock" })
  })
})

describe("TaskClient.follow", () => {
  it.live("gives the kept tail, then every chunk as it comes, and ends with the task's TaskFinished", () =>
    Effect.gen(function*() {
      const { server, tm } = yield* serve()
      const client = yield* TaskClient.make({ connect: server.connect, token: TOKEN })
      const task = yield* tm.submit(
        sh("echo first; sleep 0.5; echo second; echo oops >&2; sleep 0.3; echo third; exit 2"),
        { name: "talker" }
      )
      yield* Effect.sleep("200 millis")
      const seen = yield* TaskClient.follow(client, task.id).pipe(Stream.runCollect)
      const output = seen.flatMap((e) => e._tag === "TaskOutput" ? [e] : [])
      const text = output.map((e) => e.text).join("")
      expect(text).toContain("first\n")
      expect(text.indexOf("first")).toBeLessThan(text.indexOf("second"))
      expect(text.indexOf("second")).toBeLessThan(text.indexOf("third"))
      expect(output.filter((e) => e.stream === "stderr").map((e) => e.text)).toEqual(["oops\n"])
      expect(seen.at(-1)).toMatchObject({ _tag: "TaskFinished", id: task.id, state: "FAILURE" })
    }).pipe(scoped))

  it.live("of a finished task gives its tail and its end at once", () =>
    Effect.gen(function*() {
      const { server, tm } = yield* serve()
      const client = yield* TaskClient.make({ connect: server.connect, token: TOKEN })
      const task = yield* tm.submit(sh("echo done"), { name: "done" })
      yield* tm.await(task.id)
      const seen = yield* TaskClient.follow(client, task.id).pipe(Stream.runCollect)
      expect(seen.map((e) => e._tag)).toEqual(["TaskOutput", "TaskFinished"])
      expect(seen[0]).toMatchObject({ text: "done\n", stream: "stdout" })
      expect(seen[1]).toMatchObject({ state: "SUCCESS" })
    }).pipe(scoped))

  it.live(
    "gives every line of three processes flooding at once, stdout and stderr, each in order",
    () =>
      Effect.gen(function*() {
        const { server, tm } = yield* serve()
        const client = yield* TaskClient.make({ connect: server.connect, token: TOKEN })
        const count = 20_000
        const task = yield* tm.submit(
          Effect.all([counter("a", count, "stdout"), counter("b", count, "stderr"), counter("c", count, "stdout")], {
            concurrency: "unbounded"
          }),
          { name: "flood" }
        )
        const seen = yield* TaskClient.follow(client, task.id).pipe(Stream.runCollect)
        expect(seen.some((e) => e._tag === "OutputSkipped")).toBe(false)
        const lines = { a: [] as Array<string>, b: [] as Array<string>, c: [] as Array<string> }
        const text = { stdout: "", stderr: "" }
        for (const e of seen) if (e._tag === "TaskOutput") text[e.stream] += e.text
        for (const line of text.stdout.split("\n").slice(0, -1)) lines[line[0] as "a" | "c"].push(line)
        for (const line of text.stderr.split("\n").slice(0, -1)) lines.b.push(line)
        const expected = (tag: string) => Array.from({ length: count }, (_, i) => `${tag}${i + 1}`)
        expect(lines.a).toEqual(expected("a"))
        expect(lines.b).toEqual(expected("b"))
        expect(lines.c).toEqual(expected("c"))
        // Three processes, each one's chunks under its own pid.
        expect(new Set(seen.flatMap((e) => e._tag === "TaskOutput" ? [e.pid] : [])).size).toBe(3)
        expect(seen.at(-1)).toMatchObject({ _tag: "TaskFinished", state: "SUCCESS" })
      }).pipe(scoped),
    60_000
  )

  it.live(
    "fails with FollowDropped when the stream ends before the task does (the server closed)",
    () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const { server, tm } = yield* serve().pipe(Scope.provide(scope))
        const client = yield* TaskClient.make({ connect: server.connect, token: TOKEN })
        const task = yield* tm.submit(sh("echo begun; sleep 30"), { name: "long" })
        const following = yield* TaskClient.follow(client, task.id).pipe(
          Stream.runCollect,
          Effect.flip,
          Effect.forkChild({ startImmediately: true })
        )
        yield* Effect.sleep("300 millis")
        yield* Scope.close(scope, Effect.void as never)
        const error = yield* Fiber.join(following)
        expect(error).toBeInstanceOf(TaskClient.FollowDropped)
      }).pipe(scoped),
    30_000
  )

  it.live("of an unknown task fails with TaskNotFound", () =>
    Effect.gen(function*() {
      const { server } = yield* serve()
      const client = yield* TaskClient.make({ connect: server.connect, token: TOKEN })
      const error = yield* TaskClient.follow(client, 9 as any).pipe(Stream.runCollect, Effect.flip)
      expect(error._tag).toBe("TaskNotFound")
    }).pipe(scoped))
})
