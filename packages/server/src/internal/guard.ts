/**
 * The outermost layer of the server: every request passes it before routing, and every answer leaves
 * through it. It applies the security rules in order (Host, Origin, bearer token, body size), and turns
 * whatever the router or a handler produced that is not a JSON answer (an unknown route, a wrong method,
 * an empty 4xx, a defect) into a JSON error, so a client always gets `{ _tag, message }`.
 */
import * as ByteSize from "effect/ByteSize"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as FindMyWay from "effect/http/FindMyWay"
import * as HttpIncomingMessage from "effect/http/HttpIncomingMessage"
import { HttpServerRequest } from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import type * as Scope from "effect/Scope"
import { bearerCredential, isLoopbackHostHeader, isSameOrigin, type TokenDigest, tokenMatches } from "./security.js"

/** What the guard needs to know about the server. */
export interface GuardConfig {
  readonly token: TokenDigest
  /** Check `Host` against loopback names (a loopback TCP bind). */
  readonly loopbackOnly: boolean
  readonly allowSubmit: boolean
  readonly maxBodyBytes: number
  /** The routes that exist, to tell a wrong method (405) from an unknown path (404). */
  readonly routes: ReadonlyArray<{ readonly method: string; readonly path: string }>
  /** Paths served without a token (the dashboard's page and assets). */
  readonly publicPaths: ReadonlySet<string>
}

const methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const

/** A JSON error answer: `{ _tag, message }` with the status, never cached. */
export const errorResponse = (
  status: number,
  tag: string,
  message: string,
  headers: Record<string, string> = {}
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.jsonUnsafe({ _tag: tag, message }, {
    status,
    headers: { ...headers, "cache-control": "no-store" }
  })

const statusTags: Record<number, readonly [string, string]> = {
  400: ["BadRequest", "the request is malformed"],
  401: ["Unauthorized", "missing or wrong bearer token"],
  403: ["Forbidden", "refused"],
  404: ["NotFound", "no such route"],
  405: ["MethodNotAllowed", "method not allowed"],
  413: ["PayloadTooLarge", "the request body is too large"],
  415: ["UnsupportedMediaType", "send the body as application/json"],
  500: ["InternalError", "internal error (the server logged it)"]
}

/** A 4xx or 5xx that is not JSON yet (an empty 400 from a decoder, a 415 as text) becomes a JSON error. */
const ensureJson = (response: HttpServerResponse.HttpServerResponse): HttpServerResponse.HttpServerResponse => {
  if (response.status < 400) return response
  const contentType = response.headers["content-type"] ?? ""
  if (contentType.includes("json")) return response
  const [tag, message] = statusTags[response.status] ?? ["Error", `HTTP ${response.status}`]
  return errorResponse(response.status, tag, message)
}

/** The path of a request URL without its query, with repeated slashes collapsed (as the router reads it). */
export const pathOf = (url: string): string => {
  const end = url.search(/[?#]/)
  return (end < 0 ? url : url.slice(0, end)).replace(/\/{2,}/g, "/")
}

/** Reading a body past `MaxBodySize` fails with a `RequestParseError` whose reason is `BodyTooLarge`. */
const hasBodyTooLarge = (cause: Cause.Cause<unknown>): boolean =>
  cause.reasons.some((reason) => {
    const error = reason._tag === "Fail" ? reason.error : reason._tag === "Die" ? reason.defect : undefined
    for (let current: any = error, depth = 0; current != null && depth < 6; depth++) {
      if (current._tag === "MaxBytesError" || current.reason === "BodyTooLarge") return true
      current = typeof current.reason === "object" ? current.reason : current.cause
    }
    return false
  })

const isRouteNotFound = (cause: Cause.Cause<unknown>): boolean =>
  cause.reasons.some((reason) => reason._tag === "Fail" && (reason.error as any)?.reason?._tag === "RouteNotFound")

/**
 * Wraps the routed app. The order of the checks is the order of the answers a client can get: 403 for a
 * foreign Host or Origin before anything else, then 401 without the token, then 403 for a disabled submit,
 * then 413 for a body over the limit, then whatever the route says.
 */
export const make = (config: GuardConfig) => {
  const router = FindMyWay.make<string>({})
  for (const route of config.routes) router.on(route.method as "GET", route.path as `/${string}`, route.path)
  const allowedMethods = (path: string): Array<string> => methods.filter((m) => router.find(m, path) !== undefined)
  const maxBodySize = ByteSize.bytes(config.maxBodyBytes)

  return <E>(
    app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, HttpServerRequest | Scope.Scope>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest | Scope.Scope> =>
    Effect.flatMap(HttpServerRequest, (request) => {
      const headers = request.headers
      const host = headers.host
      if (config.loopbackOnly && !isLoopbackHostHeader(host)) {
        return Effect.succeed(errorResponse(
          403,
          "Forbidden",
          `Host ${JSON.stringify(host ?? "")} is not a loopback name: this server only answers to localhost`
        ))
      }
      const origin = headers.origin
      if (origin !== undefined && !isSameOrigin(origin, host)) {
        return Effect.succeed(
          errorResponse(403, "Forbidden", `cross-origin requests are refused (Origin ${JSON.stringify(origin)})`)
        )
      }
      const path = pathOf(request.url)
      if (!config.publicPaths.has(path)) {
        const credential = bearerCredential(headers.authorization)
        if (credential === undefined) {
          return Effect.succeed(errorResponse(
            401,
            "Unauthorized",
            "missing bearer token: send the header Authorization: Bearer <token>",
            { "www-authenticate": "Bearer realm=\"effect-tasks\"" }
          ))
        }
        if (!tokenMatches(config.token, credential)) {
          return Effect.succeed(errorResponse(401, "Unauthorized", "wrong token", {
            "www-authenticate": "Bearer realm=\"effect-tasks\", error=\"invalid_token\""
          }))
        }
      }
      if (!config.allowSubmit && request.method === "POST" && path.replace(/\/$/, "") === "/api/tasks") {
        return Effect.succeed(
          errorResponse(403, "Forbidden", "submitting tasks is disabled (start the server with allowSubmit: true)")
        )
      }
      const length = Number(headers["content-length"] ?? 0)
      if (length > config.maxBodyBytes) {
        return Effect.succeed(
          errorResponse(413, "PayloadTooLarge", `the request body is over the limit of ${config.maxBodyBytes} bytes`, {
            connection: "close"
          })
        )
      }
      return app.pipe(
        Effect.provideService(HttpIncomingMessage.MaxBodySize, maxBodySize),
        Effect.map(ensureJson),
        Effect.catchCause((cause) => {
          if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
          if (isRouteNotFound(cause)) {
            const allowed = allowedMethods(path)
            return Effect.succeed(
              allowed.length === 0
                ? errorResponse(404, "NotFound", `no route ${request.method} ${path}`)
                : errorResponse(405, "MethodNotAllowed", `${request.method} is not allowed on ${path}`, {
                  allow: allowed.join(", ")
                })
            )
          }
          if (hasBodyTooLarge(cause)) {
            return Effect.succeed(
              errorResponse(
                413,
                "PayloadTooLarge",
                `the request body is over the limit of ${config.maxBodyBytes} bytes`,
                {
                  connection: "close"
                }
              )
            )
          }
          return Effect.as(
            Effect.logError("effect-tasks server: a request failed", cause),
            errorResponse(500, "InternalError", "internal error (the server logged it)")
          )
        })
      )
    })
}
