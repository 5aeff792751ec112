/**
 * How much of a task's output the shell shows on a terminal. A task may print a burst of lines at once and
 * then a steady trickle (a token bucket: `burst` lines, refilled at `burst` lines a second); beyond that it is
 * a flood, and the shell stops printing its lines, counting them instead, and keeps the last few. A notice says
 * how many lines went unshown every few seconds while the flood lasts, and once it calms down (or the task
 * ends) a last notice and the flood's last lines close it, so a summary line at the end of a long output is
 * always on screen. Pure: lines and times in, what to print out.
 *
 * @since 0.1.0
 */

/** A line of a task's output. */
export interface Line {
  readonly stream: "stdout" | "stderr"
  readonly text: string
}

/** The limits of one task's output on screen. */
export interface Limits {
  /** Lines printed at once before a flood begins; also the lines a second after that. */
  readonly burst: number
  /** The last lines of a flood printed when it ends. */
  readonly tail: number
  /** Quiet time that ends a flood (milliseconds). */
  readonly calmMillis: number
  /** Time between notices while a flood lasts (milliseconds). */
  readonly noticeMillis: number
}

/** The limits for a terminal of `rows` rows. */
export const limitsFor = (rows: number): Limits => ({
  burst: Math.max(20, rows - 4),
  tail: 10,
  calmMillis: 500,
  noticeMillis: 3000
})

/** A task's state. */
export interface Flood {
  tokens: number
  refilledAt: number
  /** Lines not printed since the flood began (the kept tail included), or 0 when there is no flood. */
  skipped: number
  /** The flood's last lines, oldest first. */
  last: Array<Line>
  lastAt: number
  noticedAt: number
}

/** A task that has printed nothing yet. */
export const make = (limits: Limits, now: number): Flood => ({
  tokens: limits.burst,
  refilledAt: now,
  skipped: 0,
  last: [],
  lastAt: now,
  noticedAt: now
})

/** What to print: notices (a count of lines not shown so far) and lines, in order. */
export type Print =
  | { readonly _tag: "Line"; readonly line: Line }
  | { readonly _tag: "Skipped"; readonly count: number; readonly ended: boolean }

/** Every line, printed (no limit: a followed task, or output that is not a terminal). */
export const all = (lines: ReadonlyArray<Line>): Array<Print> => lines.map((line) => ({ _tag: "Line", line }))

/** Whether a flood is under way. */
export const flooding = (flood: Flood): boolean => flood.skipped > 0

/** Takes the lines a chunk completed at `now` and says what to print of them. */
export const take = (flood: Flood, lines: ReadonlyArray<Line>, limits: Limits, now: number): Array<Print> => {
  const out: Array<Print> = []
  if (!flooding(flood)) {
    flood.tokens = Math.min(limits.burst, flood.tokens + ((now - flood.refilledAt) * limits.burst) / 1000)
    flood.refilledAt = now
  }
  for (const line of lines) {
    if (!flooding(flood) && flood.tokens >= 1) {
      flood.tokens--
      out.push({ _tag: "Line", line })
      continue
    }
    if (!flooding(flood)) flood.noticedAt = now
    flood.skipped++
    flood.last.push(line)
    if (flood.last.length > limits.tail) flood.last.shift()
  }
  if (lines.length > 0) flood.lastAt = now
  if (flooding(flood) && now - flood.noticedAt >= limits.noticeMillis) {
    flood.noticedAt = now
    out.push({ _tag: "Skipped", count: flood.skipped, ended: false })
  }
  return out
}

/** Ends the flood if it has calmed down (or `force`, when the task's output ended): its notice and last lines. */
export const settle = (flood: Flood, limits: Limits, now: number, force = false): Array<Print> => {
  if (!flooding(flood) || (!force && now - flood.lastAt < limits.calmMillis)) return []
  const last = flood.last
  const unshown = flood.skipped - last.length
  const out: Array<Print> = [
    ...(unshown > 0 ? [{ _tag: "Skipped", count: unshown, ended: true } as const] : []),
    ...last.map((line): Print => ({ _tag: "Line", line }))
  ]
  flood.skipped = 0
  flood.last = []
  flood.tokens = limits.burst
  flood.refilledAt = now
  return out
}
