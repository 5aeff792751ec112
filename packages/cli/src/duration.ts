/**
 * Durations on the command line: `--grace 5s`, `--grace 500ms`, `1m30s`. Parsed strictly (a unit
 * is required), so `--grace 5` is an error rather than a guess between seconds and milliseconds.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
const part = /(\d+(?:\.\d+)?)(ms|s|m|h)/y

/** Parses `500ms`, `5s`, `1.5s`, `2m`, `1h`, `1m30s` (parts add up); `None` for anything else. */
export const parse = (input: string): Option.Option<Duration.Duration> => {
  const text = input.trim()
  if (text.length === 0) return Option.none()
  let millis = 0
  part.lastIndex = 0
  while (part.lastIndex < text.length) {
    const match = part.exec(text)
    if (match === null) return Option.none()
    millis += Number(match[1]) * units[match[2]!]!
  }
  return Number.isFinite(millis) ? Option.some(Duration.millis(Math.round(millis))) : Option.none()
}

/** The one-line error for a value `parse` rejected. */
export const invalidMessage = (input: string): string =>
  `a duration with a unit, such as 500ms, 5s or 1m30s (got "${input}")`

/** Short human form of milliseconds for tables: `85ms`, `1.2s`, `12.3s`, `2m05s`, `1h02m`. */
export const format = (millis: number): string => {
  const ms = Math.max(0, Math.round(millis))
  if (ms < 1000) return `${ms}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`
  const totalSeconds = Math.floor(ms / 1000)
  if (totalSeconds < 3600) {
    return `${Math.floor(totalSeconds / 60)}m${String(totalSeconds % 60).padStart(2, "0")}s`
  }
  const totalMinutes = Math.floor(totalSeconds / 60)
  return `${Math.floor(totalMinutes / 60)}h${String(totalMinutes % 60).padStart(2, "0")}m`
}

/** A running time as a toolbar shows it: `12s`, `4m`, `2h` (whole units, rounded down). */
export const formatCoarse = (millis: number): string => {
  const seconds = Math.max(0, Math.floor(millis / 1000))
  if (seconds < 60) return `${seconds}s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`
  return `${Math.floor(seconds / 3600)}h`
}
