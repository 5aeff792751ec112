/**
 * The guardian process: `node guardian-main.js '<config JSON>'`, started by `Guardian.start` (one per manager),
 * detached into a session of its own, with a pipe on stdin and nothing else.
 *
 * It replays the host's line-delimited records (`started` / `cleaned`) into the set of trees the host still owns.
 * When the pipe closes (the host closed it after its manager shut down, ending with `CLOSE_LINE`, or the kernel
 * closed it because the host died, however it died) or the host is seen dead, it kills every tree still owned (SIGTERM, `grace`, SIGKILL,
 * with the identity checks of `Leftovers.killLeftovers`), deletes the host's journal if the host is dead and
 * nothing survived, and exits. After a normal shutdown nothing is owned, so it just exits.
 *
 * Only `node:` built-ins and the Effect-free process modules are loaded, so it starts in tens of milliseconds
 * and stays small while it waits.
 *
 * @since 0.1.0
 */
import { unlinkSync } from "node:fs"
import { removeTree } from "./Cgroup.js"
import { CLOSE_LINE, decode, killLeftovers, LiveSet } from "./Leftovers.js"
import { isAlive, type ProcessIdentity } from "./ProcessIdentity.js"

interface GuardianConfig {
  readonly host: ProcessIdentity
  readonly grace: number
  readonly journal?: string | undefined
  readonly hostPollInterval?: number | undefined
}

const config = JSON.parse(process.argv[2] ?? "{}") as GuardianConfig
const live = new LiveSet()
let buffer = ""
let finishing = false
let closeRequested = false
const closeRecord = CLOSE_LINE.trim()

// Job-control signals never reach this session, but a stray one must not end the guardian early.
process.on("SIGINT", () => {})
process.on("SIGHUP", () => {})

const drain = (final: boolean) => {
  let newline = buffer.indexOf("\n")
  while (newline >= 0) {
    const line = buffer.slice(0, newline)
    const record = decode(line)
    if (record !== undefined) live.apply(record)
    else if (line === closeRecord) closeRequested = true
    buffer = buffer.slice(newline + 1)
    newline = buffer.indexOf("\n")
  }
  if (final && buffer.length > 0) {
    const record = decode(buffer)
    if (record !== undefined) live.apply(record)
    else if (buffer === closeRecord) closeRequested = true
    buffer = ""
  }
}

const finish = async () => {
  if (finishing) return
  finishing = true
  drain(true)
  // The pipe ended without the host's close line: the host died. (Its /proc entry can still look alive for a
  // moment: the kernel closes a dying process's files before it becomes a zombie.)
  const hostDead = !closeRequested || config.host === undefined || !isAlive(config.host)
  // A live host closed the pipe itself: only the trees it still owned (other managers may share its cookie
  // instance). A dead host: also everything carrying its cookie instance, recorded or not.
  // Cgroups the host still had (containment on) hold nothing but its tasks' processes: kill them and remove them,
  // whether the host died or closed the pipe without removing them.
  const specs = hostDead
    ? [...live.specs(), ...live.instanceSpecs(config.host?.startTime ?? 0), ...live.cgroupSpecs()]
    : [...live.specs(), ...live.cgroupSpecs()]
  let survivors = 0
  if (specs.length > 0) {
    const summary = await killLeftovers(specs, { grace: config.grace ?? 1_000 })
    survivors = summary.survivors.length
  }
  for (const { dir } of live.cgroups()) if (!removeTree(dir)) survivors++
  if (hostDead && survivors === 0 && config.journal !== undefined) {
    try {
      unlinkSync(config.journal)
    } catch {
      // already gone, or never created
    }
  }
  process.exit(0)
}

process.stdin.setEncoding("utf8")
process.stdin.on("data", (chunk: string) => {
  buffer += chunk
  drain(false)
})
process.stdin.on("end", () => void finish())
process.stdin.on("close", () => void finish())
process.stdin.on("error", () => void finish())

// Belt and braces: should the pipe outlive the host (a descendant holding its end), notice the host's death.
if (config.host !== undefined) {
  setInterval(() => {
    if (!isAlive(config.host)) void finish()
  }, config.hostPollInterval ?? 1_000)
}
