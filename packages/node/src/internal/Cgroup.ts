/**
 * cgroup v2 containment, without Effect (the guardian loads it): where the hierarchy is, the cgroups of a
 * manager, its tasks and their spawns, how a spawned command enters its cgroup before it runs anything, and the
 * files a kill reads and writes.
 *
 * Layout, under the cgroup this process runs in (or the `cgroupRoot` a manager is given):
 *
 *     effect-tasks-<host pid>-<host start time>-<random>/   one per manager; the host's identity is in the name,
 *       t1/                                                 so leftovers of a dead host are found without a journal
 *         s1/   s2/   ...                                   one leaf per spawn: `cgroup.kill` cannot target one
 *       t2/ ...                                             process, and a spawn's scope kills its tree alone
 *
 * A task's cgroup holds only leaves, so `cgroup.kill` and `populated` on it cover every spawn of the task. Limits
 * (`pids.max`, `memory.max`) sit on the task's cgroup; where the v2 hierarchy does not offer a controller, a v1
 * hierarchy of that controller gets a parallel `effect-tasks-…/t<n>` the spawn enters too.
 *
 * @since 0.1.0
 */
import {
  accessSync,
  constants,
  type Dirent,
  mkdirSync,
  readdirSync,
  rmdirSync,
  statfsSync,
  statSync,
  writeFileSync
} from "node:fs"
import { delimiter, isAbsolute, join, resolve } from "node:path"
import { isDeadState, readProcText, readStat } from "./ProcessIdentity.js"

/** `statfs(2)`'s type of a cgroup v2 file system. */
const CGROUP2_SUPER_MAGIC = 0x63677270

/**
 * A mounted cgroup hierarchy: where it is mounted, and which cgroup the mount shows at that place (`/` unless
 * a container bind-mounted a subtree). `path` of a directory is the cgroup's name as `/proc/<pid>/cgroup`
 * spells it.
 *
 * @since 0.1.0
 */
export interface Hierarchy {
  readonly mountPoint: string
  readonly mountRoot: string
}

/**
 * A cgroup directory, with its name as `/proc/<pid>/cgroup` spells it (how membership is checked).
 *
 * @since 0.1.0
 */
export interface CgroupTarget {
  readonly dir: string
  readonly path: string
}

/**
 * The controllers a task can be limited with.
 *
 * @since 0.1.0
 */
export type LimitController = "pids" | "memory"

/**
 * Limits of one task's processes, together: `pids` (the most processes and threads alive at once; forks beyond
 * it fail) and `memory` (bytes; beyond it the kernel reclaims, then kills a process of the task).
 *
 * @since 0.1.0
 */
export interface Limits {
  readonly pids?: number | undefined
  readonly memory?: number | undefined
}

const decodeMountField = (field: string): string =>
  field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)))

interface Mount extends Hierarchy {
  readonly fsType: string
  readonly superOptions: ReadonlyArray<string>
}

/** The mounts of `/proc/self/mountinfo`: root and mount point (fields 4 and 5), type and super options. */
const parseMountInfo = (text: string): Array<Mount> => {
  const mounts: Array<Mount> = []
  for (const line of text.split("\n")) {
    const fields = line.split(" ")
    const separator = fields.indexOf("-", 6)
    if (separator < 0 || fields.length < separator + 4) continue
    mounts.push({
      mountRoot: decodeMountField(fields[3]!),
      mountPoint: decodeMountField(fields[4]!),
      fsType: fields[separator + 1]!,
      superOptions: fields[separator + 3]!.split(",")
    })
  }
  return mounts
}

interface ProcCgroupEntry {
  /** 0 for the v2 hierarchy. */
  readonly id: string
  readonly controllers: ReadonlyArray<string>
  readonly path: string
}

/** `/proc/<pid>/cgroup` lines: hierarchy id, controllers (comma separated; empty for v2) and the cgroup's path. */
const parseProcCgroup = (text: string): Array<ProcCgroupEntry> => {
  const entries: Array<ProcCgroupEntry> = []
  for (const line of text.split("\n")) {
    const first = line.indexOf(":")
    const second = line.indexOf(":", first + 1)
    if (first < 0 || second < 0) continue
    const controllers = line.slice(first + 1, second)
    entries.push({
      id: line.slice(0, first),
      controllers: controllers.length === 0 ? [] : controllers.split(","),
      path: line.slice(second + 1)
    })
  }
  return entries
}

const within = (path: string, ancestor: string): boolean =>
  path === ancestor || path.startsWith(ancestor.endsWith("/") ? ancestor : `${ancestor}/`)

/** The directory of cgroup `path` in `mount`, or undefined when the mount does not show it. */
const dirOf = (mount: Hierarchy, path: string): string | undefined => {
  if (!within(path, mount.mountRoot)) return undefined
  const relative = mount.mountRoot === "/" ? path : path.slice(mount.mountRoot.length)
  return relative === "/" || relative === "" ? mount.mountPoint : join(mount.mountPoint, relative)
}

/** The cgroup path (as `/proc/<pid>/cgroup` spells it) of directory `dir` in `mount`. */
const pathOf = (mount: Hierarchy, dir: string): string => {
  const relative = dir.slice(mount.mountPoint.length)
  const path = mount.mountRoot === "/" ? relative : `${mount.mountRoot}${relative}`
  return path.length === 0 ? "/" : path
}

const errnoCode = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined

const readText = (path: string): string | undefined => {
  try {
    return readProcText(path)
  } catch {
    return undefined
  }
}

/**
 * Where this process may contain its tasks: the v2 hierarchy (`mount`), the directory new manager cgroups go in
 * (`base`), and the v1 hierarchies of the limit controllers with this process's cgroup in each.
 *
 * @since 0.1.0
 */
export interface Location {
  readonly mount: Hierarchy
  /**
   * Whether the v2 hierarchy is mounted with `favordynmods`: without it, moving a process into a cgroup may wait
   * for an RCU grace period (milliseconds) unless another move happened just before.
   */
  readonly favordynmods: boolean
  readonly base: string
  /** This process's own v2 cgroup directory. */
  readonly own: string
  readonly v1: ReadonlyMap<LimitController, { readonly mount: Hierarchy; readonly own: string }>
}

/**
 * Finds the v2 hierarchy and this process's place in it (or checks `root`, a directory given instead): Linux
 * only, from `/proc/self/mountinfo` and the `0::` line of `/proc/self/cgroup`, stripping a container's mount
 * root. Returns the reason when there is none.
 *
 * @since 0.1.0
 */
export const locate = (root?: string | undefined): Location | { readonly unavailable: string } => {
  if (process.platform !== "linux") return { unavailable: `cgroups are Linux only (this is ${process.platform})` }
  const mountInfo = readText("/proc/self/mountinfo")
  const selfCgroup = readText("/proc/self/cgroup")
  if (mountInfo === undefined || selfCgroup === undefined) return { unavailable: "no /proc/self/mountinfo" }
  return locateIn(mountInfo, selfCgroup, root)
}

/**
 * `locate` over the texts of `/proc/self/mountinfo` and `/proc/self/cgroup`.
 *
 * @since 0.1.0
 */
export const locateIn = (
  mountInfo: string,
  selfCgroup: string,
  root?: string | undefined
): Location | { readonly unavailable: string } => {
  const mounts = parseMountInfo(mountInfo)
  const entries = parseProcCgroup(selfCgroup)
  const v2Line = entries.find((entry) => entry.id === "0")
  const v2Mounts = mounts.filter((mount) => mount.fsType === "cgroup2")
  if (v2Mounts.length === 0) return { unavailable: "no cgroup v2 hierarchy is mounted" }
  let mount: Mount | undefined
  let own: string | undefined
  for (const candidate of v2Mounts) {
    const dir = v2Line === undefined ? undefined : dirOf(candidate, v2Line.path)
    if (dir !== undefined) {
      mount = candidate
      own = dir
      break
    }
  }
  let base = own
  if (root !== undefined) {
    const absolute = resolve(root)
    let isCgroup2 = false
    try {
      isCgroup2 = statfsSync(absolute).type === CGROUP2_SUPER_MAGIC
    } catch (error) {
      return { unavailable: `${absolute}: ${errnoCode(error) ?? String(error)}` }
    }
    if (!isCgroup2) return { unavailable: `${absolute} is not in a cgroup v2 file system` }
    mount = v2Mounts.filter((candidate) => within(absolute, candidate.mountPoint))
      .toSorted((a, b) => b.mountPoint.length - a.mountPoint.length)[0]
    if (mount === undefined) return { unavailable: `${absolute} is not under a cgroup v2 mount` }
    base = absolute
  }
  if (mount === undefined || own === undefined || base === undefined) {
    return { unavailable: "this process's cgroup is not visible in the mounted cgroup v2 hierarchy" }
  }
  const v1 = new Map<LimitController, { mount: Hierarchy; own: string }>()
  for (const controller of ["pids", "memory"] as const) {
    const line = entries.find((entry) => entry.controllers.includes(controller))
    if (line === undefined) continue
    for (const candidate of mounts) {
      if (candidate.fsType !== "cgroup" || !candidate.superOptions.includes(controller)) continue
      const dir = dirOf(candidate, line.path)
      if (dir !== undefined) v1.set(controller, { mount: candidate, own: dir })
    }
  }
  return { mount, favordynmods: mount.superOptions.includes("favordynmods"), base, own, v1 }
}

/** The shell that puts a spawn in its cgroup, then execs the command. */
export const ENTRY_SHELL = "/bin/sh"

/**
 * The cgroup of one manager: its directory, the v2 controllers it enables for its tasks' limits, and the v1
 * directories of limit controllers the v2 hierarchy does not offer (made on first use).
 *
 * @since 0.1.0
 */
export interface ManagerCgroup extends CgroupTarget {
  readonly location: Location
  readonly name: string
  readonly enabled: Set<LimitController>
  readonly v1: Map<LimitController, string>
  /** Hears about every directory made, so a guardian and a journal can remove it after the host dies. */
  readonly onCreated: (dir: string, path: string | undefined) => void
  tasks: number
}

/**
 * The prefix of every manager cgroup's name; the rest is `<host pid>-<host start time>-<random>`, then `-journal`
 * when a journal records the cgroup.
 *
 * @since 0.1.0
 */
export const MANAGER_PREFIX = "effect-tasks-"

/**
 * The host (pid and start time) that made a manager cgroup named `name`, if it is one, and whether a journal
 * records it.
 *
 * @since 0.1.0
 */
export const managerHost = (
  name: string
): { readonly pid: number; readonly startTime: number; readonly journaled: boolean } | undefined => {
  const match = /^effect-tasks-(\d+)-(\d+)-[0-9a-z]+(-journal)?$/.exec(name)
  return match === null
    ? undefined
    : { pid: Number(match[1]), startTime: Number(match[2]), journaled: match[3] !== undefined }
}

const describeError = (error: unknown): string => errnoCode(error) ?? (error instanceof Error ? error.message : "?")

/**
 * Makes this manager's cgroup in `location.base` and checks it can contain processes: it has `cgroup.kill`
 * (Linux 5.14+), this process may move processes into it (write access to `cgroup.procs` of the closest common
 * ancestor, which is what delegation grants), and the entry shell exists. Returns the reason otherwise, with the
 * directory removed again.
 *
 * @since 0.1.0
 */
export const createManager = (
  location: Location,
  onCreated: ManagerCgroup["onCreated"],
  journaled = false
): ManagerCgroup | { readonly unavailable: string } => {
  const host = readStat(process.pid)
  const name = `${MANAGER_PREFIX}${process.pid}-${host?.startTime ?? 0}-${Math.random().toString(36).slice(2, 10)}${
    journaled ? "-journal" : ""
  }`
  const dir = join(location.base, name)
  try {
    mkdirSync(dir)
  } catch (error) {
    const code = describeError(error)
    const hint = code === "EACCES" || code === "EPERM" || code === "EROFS"
      ? " (run as root, or in a delegated cgroup: systemd-run --user --scope -p Delegate=yes ...)"
      : ""
    return { unavailable: `cannot create a cgroup in ${location.base}: ${code}${hint}` }
  }
  const fail = (reason: string) => {
    removeTree(dir)
    return { unavailable: reason }
  }
  try {
    accessSync(join(dir, "cgroup.kill"), constants.W_OK)
  } catch {
    return fail("the kernel has no cgroup.kill (Linux 5.14 or later is needed)")
  }
  // Moving a process between two cgroups needs write access to cgroup.procs of their closest common ancestor.
  let ancestor = location.own
  while (!within(dir, ancestor) && ancestor.length > location.mount.mountPoint.length) {
    ancestor = ancestor.slice(0, ancestor.lastIndexOf("/"))
  }
  try {
    accessSync(join(ancestor, "cgroup.procs"), constants.W_OK)
    accessSync(join(dir, "cgroup.procs"), constants.W_OK)
    accessSync(ENTRY_SHELL, constants.X_OK)
  } catch (error) {
    return fail(`cannot move processes into ${dir}: ${describeError(error)}`)
  }
  const manager: ManagerCgroup = {
    dir,
    path: pathOf(location.mount, dir),
    location,
    name,
    enabled: new Set(),
    v1: new Map(),
    onCreated,
    tasks: 0
  }
  onCreated(dir, manager.path)
  return manager
}

/**
 * Makes `controller` available to the manager's tasks: through the v2 hierarchy when it offers it (enabled in
 * the manager's `cgroup.subtree_control`), else through that controller's v1 hierarchy (a manager directory
 * there). Returns the reason when neither works.
 *
 * @since 0.1.0
 */
export const enableController = (manager: ManagerCgroup, controller: LimitController): string | undefined => {
  if (manager.enabled.has(controller) || manager.v1.has(controller)) return undefined
  const offered = (readText(join(manager.dir, "cgroup.controllers")) ?? "").trim().split(/\s+/)
  if (offered.includes(controller)) {
    try {
      writeFileSync(join(manager.dir, "cgroup.subtree_control"), `+${controller}`)
      manager.enabled.add(controller)
      return undefined
    } catch (error) {
      return `cannot enable the ${controller} controller in ${manager.dir}: ${describeError(error)}`
    }
  }
  const v1 = manager.location.v1.get(controller)
  if (v1 === undefined) {
    return `no ${controller} controller: the cgroup v2 hierarchy does not offer it to ${manager.location.base}, ` +
      `and no cgroup v1 ${controller} hierarchy is mounted`
  }
  const dir = join(v1.own, manager.name)
  try {
    mkdirSync(dir)
  } catch (error) {
    return `cannot create a ${controller} cgroup in ${v1.own}: ${describeError(error)}`
  }
  manager.v1.set(controller, dir)
  manager.onCreated(dir, undefined)
  return undefined
}

/**
 * The controllers `limits` needs.
 *
 * @since 0.1.0
 */
export const controllersOf = (limits: Limits | undefined): Array<LimitController> => {
  const controllers: Array<LimitController> = []
  if (limits?.pids !== undefined) controllers.push("pids")
  if (limits?.memory !== undefined) controllers.push("memory")
  return controllers
}

/**
 * The cgroup of one task: its v2 directory (whose leaves hold the spawns) and the v1 directories its spawns
 * also enter (for limits only v1 offers here).
 *
 * @since 0.1.0
 */
export interface TaskCgroup extends CgroupTarget {
  readonly v1: ReadonlyArray<string>
  spawns: number
}

const limitFiles = (
  version: 1 | 2,
  controller: LimitController,
  value: number
): ReadonlyArray<readonly [string, string]> =>
  controller === "pids"
    ? [["pids.max", String(value)]]
    : version === 2
    ? [["memory.max", String(value)]]
    : [["memory.limit_in_bytes", String(value)]]

/**
 * Makes the next task's cgroup, with `limits` (every controller they need must have been enabled). Throws the
 * file system's error; the directories made so far are removed first.
 *
 * @since 0.1.0
 */
export const createTask = (manager: ManagerCgroup, limits: Limits | undefined): TaskCgroup => {
  const name = `t${++manager.tasks}`
  const dir = join(manager.dir, name)
  mkdirSync(dir)
  const v1: Array<string> = []
  try {
    for (const controller of controllersOf(limits)) {
      const value = controller === "pids" ? limits!.pids! : limits!.memory!
      if (manager.enabled.has(controller)) {
        for (const [file, text] of limitFiles(2, controller, value)) writeFileSync(join(dir, file), text)
        continue
      }
      const parent = manager.v1.get(controller)
      if (parent === undefined) throw new Error(`the ${controller} controller is not enabled`)
      const v1Dir = join(parent, name)
      mkdirSync(v1Dir)
      v1.push(v1Dir)
      for (const [file, text] of limitFiles(1, controller, value)) writeFileSync(join(v1Dir, file), text)
    }
  } catch (error) {
    for (const made of [...v1, dir]) removeTree(made)
    throw error
  }
  return { dir, path: pathOf(manager.location.mount, dir), v1, spawns: 0 }
}

/**
 * Makes the leaf of a task's next spawn. Throws the file system's error.
 *
 * @since 0.1.0
 */
export const createLeaf = (task: TaskCgroup): CgroupTarget => {
  const name = `s${++task.spawns}`
  const dir = join(task.dir, name)
  mkdirSync(dir)
  return { dir, path: `${task.path === "/" ? "" : task.path}/${name}` }
}

const quote = (text: string): string => `'${text.replaceAll("'", "'\\''")}'`

/**
 * The arguments of `ENTRY_SHELL` that move the new process into `leaf` (and the task's v1 cgroups) and then exec
 * `file` with `args`, so that nothing of the command runs outside its cgroup. It exits 125 without running the
 * command if it cannot enter. The shell's own `PWD` is undone: the command gets exactly the environment given.
 *
 * @since 0.1.0
 */
export const entryArguments = (
  leaf: CgroupTarget,
  task: TaskCgroup,
  file: string,
  args: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv
): Array<string> => {
  const enter = [leaf.dir, ...task.v1].map((dir) => `echo $$ >${quote(join(dir, "cgroup.procs"))}`).join(" && ")
  const pwd = env.PWD === undefined ? "unset PWD" : `PWD=${quote(env.PWD)}`
  return ["-c", `${enter} || exit 125; ${pwd}; exec "$@"`, "effect-tasks-entry", file, ...args]
}

const resolved = new Map<string, string>()

const isExecutableFile = (path: string): "yes" | "no" | "denied" => {
  try {
    if (!statSync(path).isFile()) return "denied"
    accessSync(path, constants.X_OK)
    return "yes"
  } catch (error) {
    return errnoCode(error) === "EACCES" ? "denied" : "no"
  }
}

/** libuv's search path when the environment has none (`_PATH_DEFPATH`). */
const DEFAULT_PATH = "/usr/bin:/bin"

/**
 * What `execvp` would run for `file` in a child with `env` and `cwd`, found the way libuv searches (the
 * child's `PATH`, else `/usr/bin:/bin`; a name with a slash is a path): the path, or the error code Node's spawn
 * would fail with (`ENOENT`, or `EACCES` when only non-executable candidates exist). The entry shell runs the
 * command once it is in its cgroup, so a missing command must be caught before: it would exit 127 instead.
 *
 * @since 0.1.0
 */
export const resolveCommand = (
  file: string,
  env: NodeJS.ProcessEnv,
  cwd: string | undefined
): { readonly path: string } | { readonly code: "ENOENT" | "EACCES" } => {
  const base = cwd ?? process.cwd()
  if (file.includes("/")) {
    const path = resolve(base, file)
    const found = isExecutableFile(path)
    return found === "yes" ? { path } : { code: found === "denied" ? "EACCES" : "ENOENT" }
  }
  if (file.length === 0) return { code: "ENOENT" }
  const searchPath = env.PATH ?? DEFAULT_PATH
  const key = `${searchPath}\0${file}`
  const cached = resolved.get(key)
  if (cached !== undefined && isExecutableFile(cached) === "yes") return { path: cached }
  let denied = false
  for (const entry of searchPath.split(delimiter)) {
    const dir = entry.length === 0 ? base : isAbsolute(entry) ? entry : resolve(base, entry)
    const path = join(dir, file)
    const found = isExecutableFile(path)
    if (found === "yes") {
      // Relative search entries depend on the working directory: only absolute hits are worth keeping.
      if (isAbsolute(entry)) {
        if (resolved.size >= 256) resolved.clear()
        resolved.set(key, path)
      }
      return { path }
    }
    if (found === "denied") denied = true
  }
  return { code: denied ? "EACCES" : "ENOENT" }
}

/**
 * Whether the cgroup at `dir` (or a descendant) holds a live process: `populated` of `cgroup.events`. A directory
 * that is gone holds nothing. Zombies do not count.
 *
 * @since 0.1.0
 */
export const isPopulated = (dir: string): boolean => {
  const events = readText(join(dir, "cgroup.events"))
  return events !== undefined && events.includes("populated 1")
}

const subdirectories = (dir: string): Array<string> => {
  let entries: Array<Dirent>
  try {
    entries = readdirSync(dir, { withFileTypes: true })
  } catch {
    return []
  }
  return entries.filter((entry) => entry.isDirectory()).map((entry) => join(dir, entry.name))
}

/**
 * The pids in the cgroup at `dir` and every cgroup below it (each `cgroup.procs`), deepest last.
 *
 * @since 0.1.0
 */
export const memberPids = (dir: string): Array<number> => {
  const pids: Array<number> = []
  const visit = (at: string) => {
    const text = readText(join(at, "cgroup.procs"))
    if (text !== undefined) {
      for (const line of text.split("\n")) {
        if (line.length > 0) pids.push(Number(line))
      }
    }
    for (const child of subdirectories(at)) visit(child)
  }
  visit(dir)
  return pids
}

/**
 * Writes `1` to `cgroup.kill` of `dir`: SIGKILL to every process in it and below, including one being forked.
 * Returns false when the directory is gone.
 *
 * @since 0.1.0
 */
export const killAll = (dir: string): boolean => {
  try {
    writeFileSync(join(dir, "cgroup.kill"), "1")
    return true
  } catch {
    return false
  }
}

/**
 * The v2 cgroup path of process `pid` (its `0::` line), or undefined when it is gone.
 *
 * @since 0.1.0
 */
export const cgroupOf = (pid: number): string | undefined => {
  const text = readText(`/proc/${pid}/cgroup`)
  if (text === undefined) return undefined
  return parseProcCgroup(text).find((entry) => entry.id === "0")?.path
}

/**
 * Whether cgroup path `path` is `target` or below it.
 *
 * @since 0.1.0
 */
export const isWithin = within

/**
 * Removes the cgroup at `dir` and every cgroup below it, deepest first. Returns whether it is gone (a cgroup
 * that still holds a live process, or one this process may not remove, stays).
 *
 * @since 0.1.0
 */
export const removeTree = (dir: string): boolean => {
  // Most cgroups removed are leaves: try the removal first, and list the directory only when it has cgroups below
  // (the kernel answers EBUSY), which saves a read of the directory on every spawn.
  const attempt = (): "gone" | "busy" | "stays" => {
    try {
      rmdirSync(dir)
      return "gone"
    } catch (error) {
      const code = errnoCode(error)
      return code === "ENOENT" ? "gone" : code === "EBUSY" || code === "ENOTEMPTY" ? "busy" : "stays"
    }
  }
  const first = attempt()
  if (first !== "busy") return first === "gone"
  for (const child of subdirectories(dir)) removeTree(child)
  return attempt() === "gone"
}

/**
 * Manager cgroups in `dir` whose host is dead (its pid gone, or now another process) and which no journal
 * records: what a manager without a journal left when it died with its guardian. A journaled manager's cgroups
 * are its journal's to reap (whichever state directory that is), so a reap of another directory, or another
 * manager's start, leaves them alone.
 *
 * @since 0.1.0
 */
export const orphanManagers = (dir: string): Array<string> => {
  let names: Array<string>
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const orphans: Array<string> = []
  for (const name of names) {
    const host = managerHost(name)
    if (host === undefined || host.journaled) continue
    const stat = readStat(host.pid)
    if (stat !== undefined && stat.startTime === host.startTime && !isDeadState(stat.state)) continue
    orphans.push(join(dir, name))
  }
  return orphans
}

/**
 * The cgroup path of directory `dir` in the v2 hierarchy of `location`.
 *
 * @since 0.1.0
 */
export const targetOf = (location: Location, dir: string): CgroupTarget => ({ dir, path: pathOf(location.mount, dir) })
