/**
 * A manager's containment as its spawner and tasks see it: the manager's cgroup (undefined: `/proc` mode), the
 * limits of the task at hand, and the placement of one spawn (its task's cgroup, made at the task's first spawn,
 * a leaf of its own, and the entry shell's command line).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Cgroup from "./Cgroup.js"

/**
 * A manager in cgroup mode: its cgroup and the limits every task gets unless it asks for others.
 *
 * @since 0.1.0
 */
export interface Containment {
  readonly manager: Cgroup.ManagerCgroup
  readonly limits: Cgroup.Limits | undefined
}

/**
 * The containment of the manager a fiber runs under (in its spawner, and in every task's context); undefined in
 * `/proc` mode.
 *
 * @since 0.1.0
 */
export const CurrentContainment = Context.Reference<Containment | undefined>(
  "@effect-tasks/node/internal/CurrentContainment",
  { defaultValue: () => undefined }
)

/**
 * The limits a task asked for with `Containment.withLimits`.
 *
 * @since 0.1.0
 */
export const TaskLimits = Context.Reference<Cgroup.Limits | undefined>("@effect-tasks/node/internal/TaskLimits", {
  defaultValue: () => undefined
})

/**
 * The reason `limits` are invalid, if they are.
 *
 * @since 0.1.0
 */
export const invalidReason = (limits: Cgroup.Limits): string | undefined => {
  for (const [name, value] of Object.entries(limits)) {
    if (value === undefined) continue
    if (name !== "pids" && name !== "memory") return `unknown limit ${JSON.stringify(name)}`
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
      return `${name} must be a positive whole number, got ${String(value)}`
    }
  }
  return undefined
}

/**
 * An error shaped as Node's spawn gives it (`spawn <file> ENOENT`), for a command the entry shell could not run.
 *
 * @since 0.1.0
 */
export const spawnError = (code: "ENOENT" | "EACCES", file: string, args: ReadonlyArray<string>): Error =>
  Object.assign(new Error(`spawn ${file} ${code}`), {
    errno: code === "ENOENT" ? -2 : -13,
    code,
    syscall: `spawn ${file}`,
    path: file,
    spawnargs: [...args]
  })

/**
 * Where and how one spawn runs in cgroup mode: the entry shell with its arguments, and the spawn's leaf.
 *
 * @since 0.1.0
 */
export interface Placement {
  readonly file: string
  readonly args: ReadonlyArray<string>
  readonly leaf: Cgroup.CgroupTarget
}

/**
 * Places one spawn of a task: resolves the command as Node would (a missing one fails here, as Node's spawn
 * fails, instead of making the entry shell exit 127), makes the task's cgroup on its first spawn (with `limits`)
 * and the spawn's leaf. `shell` is the command's `shell` option: the command then runs under that shell, as
 * Node would run it. Returns the error to fail the spawn with.
 *
 * @since 0.1.0
 */
export const place = (
  containment: Containment,
  task: { cgroup: Cgroup.TaskCgroup | undefined },
  limits: Cgroup.Limits | undefined,
  command: string,
  args: ReadonlyArray<string>,
  shell: boolean | string | undefined,
  env: NodeJS.ProcessEnv,
  cwd: string | undefined
): Placement | { readonly error: unknown } => {
  let file = command
  let argv = args
  if (shell !== undefined && shell !== false) {
    file = typeof shell === "string" ? shell : "/bin/sh"
    argv = ["-c", [command, ...args].join(" ")]
  }
  const found = Cgroup.resolveCommand(file, env, cwd)
  if ("code" in found) return { error: spawnError(found.code, file, argv) }
  // Without PATH, Node searches `/usr/bin:/bin` where the shell would search its own default: exec the path.
  if (env.PATH === undefined) file = found.path
  try {
    task.cgroup ??= Cgroup.createTask(containment.manager, {
      pids: limits?.pids ?? containment.limits?.pids,
      memory: limits?.memory ?? containment.limits?.memory
    })
    const leaf = Cgroup.createLeaf(task.cgroup)
    return { file: Cgroup.ENTRY_SHELL, args: Cgroup.entryArguments(leaf, task.cgroup, file, argv, env), leaf }
  } catch (error) {
    return { error }
  }
}
