/**
 * `tasks reap`: kills what earlier managers left behind when they died without cleaning up (host and
 * guardian both killed, a machine that froze). It reads the journals in the state directory, skips
 * those whose host still runs, and kills the recorded trees whose identity (pid and start time) still
 * matches; a pid that was recycled by an unrelated process is reported and left alone.
 *
 * @since 0.1.0
 */
import { Journal } from "@effect-tasks/node"
import { Command, Flag } from "effect/cli"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Flags from "../flags.js"

/** Renders a reap report as the lines `tasks reap` prints. */
export const renderReport = (report: Journal.ReapReport): Array<string> => {
  const lines: Array<string> = []
  const verb = report.dryRun ? "would kill" : "killed"
  const removedVerb = report.dryRun ? "would remove" : "removed"
  const orphans = report.orphanCgroups.map((dir) => `${removedVerb} cgroup ${dir} (its manager died; no journal)`)
  if (report.journals.length === 0) {
    lines.push(`no journals in ${report.stateDirectory}: nothing to reap`)
    lines.push(...orphans)
    return lines
  }
  for (const journal of report.journals) {
    const host = journal.host === undefined ? "?" : `host pid ${journal.host.pid}`
    switch (journal.status) {
      case "reaped": {
        lines.push(`${journal.file}: ${host} is gone; ${verb} ${journal.found.length} process(es)`)
        for (const found of journal.found) lines.push(`  pid ${found.pid} (found by ${found.via})`)
        for (const other of journal.mismatched) {
          lines.push(`  pid ${other.pid} left alone: it is another process now (start time differs)`)
        }
        for (const survivor of journal.survivors) lines.push(`  pid ${survivor.pid} survived (not ours to kill?)`)
        for (const dir of journal.cgroups) lines.push(`  ${removedVerb} cgroup ${dir}`)
        break
      }
      case "host-alive":
        lines.push(`${journal.file}: ${host} still runs; left to it`)
        break
      case "other-machine":
        lines.push(`${journal.file}: written on another machine; left alone`)
        break
      case "previous-boot":
        lines.push(
          `${journal.file}: from a previous boot; its processes are long gone${report.dryRun ? "" : " (removed)"}`
        )
        break
      case "unreadable":
        lines.push(`${journal.file}: unreadable; left alone`)
        break
    }
  }
  lines.push(...orphans)
  const total = report.journals.reduce((n, journal) => n + journal.found.length, 0)
  lines.push(`${verb} ${total} leftover process(es) in ${Math.round(report.durationMillis)}ms`)
  return lines
}

/** The `reap` command. */
export const command = Command.make(
  "reap",
  {
    dryRun: Flag.Boolean("dry-run").pipe(
      Flag.withDefault(false),
      Flag.withDescription("find and report leftovers, signal nothing")
    ),
    stateDir: Flag.String("state-dir").pipe(
      Flag.optional,
      Flag.withMetavar("dir"),
      Flag.withDescription("the managers' state directory (default $XDG_STATE_HOME/effect-tasks)")
    ),
    json: Flags.json
  },
  (config) =>
    Effect.gen(function*() {
      const directory = Option.getOrElse(config.stateDir, () => Journal.defaultStateDirectory())
      const report = yield* Journal.reap(directory, { dryRun: config.dryRun })
      if (config.json) process.stdout.write(`${JSON.stringify(report)}\n`)
      else process.stdout.write(`${renderReport(report).join("\n")}\n`)
    })
).pipe(
  Command.withDescription("Kill what managers that died without cleaning up left behind (from their journals)")
)
