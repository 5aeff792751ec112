/**
 * The checks every request passes before it reaches a handler: the bearer token (compared in constant
 * time), the `Host` header of a loopback server (against DNS rebinding) and the `Origin` header (against
 * cross-site requests). Pure functions over header values, so each rule is tested on its own.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"
import { isIP } from "node:net"

/** A token as the server keeps it: its SHA-256 digest, so every comparison has the same length. */
export type TokenDigest = Buffer

/** The digest the server compares against. */
export const digest = (token: string): TokenDigest => createHash("sha256").update(token, "utf8").digest()

/**
 * True when `candidate` is the token. Both sides are hashed first, so the comparison takes the same
 * time whatever the candidate's length or how much of it matches.
 */
export const tokenMatches = (expected: TokenDigest, candidate: string): boolean =>
  timingSafeEqual(expected, digest(candidate))

/** 32 random bytes, base64url: 43 characters. */
export const generateToken = (): string => randomBytes(32).toString("base64url")

/** The credential of an `Authorization: Bearer <token>` header, or undefined. */
export const bearerCredential = (authorization: string | undefined): string | undefined => {
  if (authorization === undefined) return undefined
  const match = /^bearer +(\S+) *$/i.exec(authorization)
  return match?.[1]
}

const loopbackName = (hostname: string): boolean => {
  const name = hostname.toLowerCase().replace(/\.$/, "")
  return name === "localhost" || name.endsWith(".localhost")
}

const loopbackIp = (address: string): boolean => {
  const bare = address.startsWith("[") ? address.slice(1, -1) : address
  const kind = isIP(bare)
  if (kind === 4) return bare.startsWith("127.")
  if (kind === 6) {
    const lower = bare.toLowerCase()
    if (lower === "::1") return true
    // An IPv4-mapped loopback, as WHATWG URL normalises it (::ffff:127.0.0.1 -> ::ffff:7f00:1).
    return /^::ffff:(7f[0-9a-f]{2}:[0-9a-f]{1,4}|127\.\d+\.\d+\.\d+)$/.test(lower)
  }
  return false
}

/** True for an address or name a server may bind without exposing itself: 127.0.0.0/8, ::1, localhost. */
export const isLoopbackBind = (host: string): boolean => loopbackName(host) || loopbackIp(host)

/**
 * Parses a `Host` header the way a browser forms one. Undefined for anything that is not a bare
 * `host[:port]` (user info, a path, garbage).
 */
const parseHost = (header: string): URL | undefined => {
  if (header.length === 0 || /[\s/@\\?#]/.test(header)) return undefined
  try {
    const url = new URL(`http://${header}`)
    return url.username === "" && url.password === "" && url.pathname === "/" ? url : undefined
  } catch {
    return undefined
  }
}

/**
 * True when a `Host` header names this machine's loopback: `localhost` (and `*.localhost`, which browsers
 * resolve to loopback themselves), 127.0.0.0/8 or ::1, with any port. A page from a DNS-rebinding
 * attacker reaches a loopback server with the attacker's own name here, and is refused.
 */
export const isLoopbackHostHeader = (header: string | undefined): boolean => {
  if (header === undefined) return false
  const url = parseHost(header)
  return url !== undefined && (loopbackName(url.hostname) || loopbackIp(url.hostname))
}

/**
 * True when an `Origin` header is the server's own: the same host and port as the request's `Host`.
 * `null` (a sandboxed frame, a file) and anything unparsable are foreign.
 */
export const isSameOrigin = (origin: string, host: string | undefined): boolean => {
  if (host === undefined) return false
  const own = parseHost(host)
  if (own === undefined) return false
  try {
    const url = new URL(origin)
    return (url.protocol === "http:" || url.protocol === "https:") && url.host === own.host
  } catch {
    return false
  }
}
