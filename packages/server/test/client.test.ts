/**
 * The typed client beyond the routes: what `--connect` accepts, and following a task's output.
 */
import { TaskClient } from "@effect-tasks/server"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { scoped, serve, sh, TOKEN } from "./helpers.js"

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
  it.live("gives the kept tail, then live output, and ends with the task's TaskFinished", () =>
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

  it.live("of an unknown task fails with TaskNotFound", () =>
    Effect.gen(function*() {
      const { server } = yield* serve()
      const client = yield* TaskClient.make({ connect: server.connect, token: TOKEN })
      const error = yield* TaskClient.follow(client, 9 as any).pipe(Stream.runCollect, Effect.flip)
      expect(error._tag).toBe("TaskNotFound")
    }).pipe(scoped))
})
