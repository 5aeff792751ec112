/**
 * Serving on a Unix socket privately. The socket file is created with mode 0600 from the start (the
 * process umask is narrowed around the synchronous bind, so there is no moment when another user could
 * connect), checked with `chmod` after, and a stale socket left by a crashed server is replaced, while a
 * live one, or a path that is not a socket, is an error.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { chmodSync, lstatSync, unlinkSync } from "node:fs"
import type * as Http from "node:http"
import { connect } from "node:net"

/** The socket path cannot be used. */
export class SocketUnavailable extends Schema.TaggedError<SocketUnavailable>()("TaskServerError", {
  message: Schema.String
}) {}

const answers = (path: string): Promise<boolean> =>
  new Promise((resolve) => {
    const probe = connect(path)
    probe.once("connect", () => {
      probe.destroy()
      resolve(true)
    })
    probe.once("error", () => resolve(false))
  })

/** Makes `path` free to listen on: absent, or a dead socket (removed). */
export const prepare = (path: string): Effect.Effect<void, SocketUnavailable> =>
  Effect.gen(function*() {
    const stat = lstatSync(path, { throwIfNoEntry: false })
    if (stat === undefined) return
    if (!stat.isSocket()) {
      return yield* new SocketUnavailable({ message: `${path} exists and is not a socket; not replacing it` })
    }
    if (yield* Effect.promise(() => answers(path))) {
      return yield* new SocketUnavailable({ message: `${path} is in use by a running server` })
    }
    yield* Effect.sync(() => unlinkSync(path))
  })

/** Wraps `server.listen` so the socket file is born with mode 0600 (umask 0177 during the bind). */
export const privateListen = (server: Http.Server): Http.Server => {
  const listen = server.listen.bind(server) as (...args: Array<unknown>) => Http.Server
  server.listen = ((...args: Array<unknown>) => {
    const previous = process.umask(0o177)
    try {
      return listen(...args)
    } finally {
      process.umask(previous)
    }
  }) as typeof server.listen
  return server
}

/** Sets mode 0600 on the socket (in case the bind did not honour the umask). */
export const restrict = (path: string): Effect.Effect<void> => Effect.sync(() => chmodSync(path, 0o600))
