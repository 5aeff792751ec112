/**
 * The processes a task owns, and the task's last word on them. The first process a task starts
 * (or attaches) gives the task a cookie prefix and registers one final sweep on the task's scope:
 * when the task ends, for any reason, everything that still carries the task's cookie, or belongs
 * to one of its roots' groups, sessions or subtrees, is killed before the task becomes terminal.
 *
 * @since 0.1.0
 */
import { TaskContext } from "@effect-tasks/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import { type ProcessIdentity, readIdentity, startTimeNow } from "./ProcessIdentity.js"
import type { TreeSpec } from "./ProcessTree.js"
import { killTree } from "./TreeKill.js"

/** The environment variable that marks every process of a task (the Jenkins technique). */
export const COOKIE_VARIABLE = "EFFECT_TASKS_COOKIE"

/** Hears about processes as they start and as their trees are cleaned up (the guardian listens here). */
export interface ProcessObserverShape {
  readonly started: (identity: ProcessIdentity, cookie: string) => void
  readonly cleaned: (cookie: string) => void
}

/** Where process start and cleanup notices go; by default nowhere. */
export const ProcessObserver = Context.Reference<ProcessObserverShape>("@effect-tasks/node/ProcessObserver", {
  defaultValue: () => ({ started: () => {}, cleaned: () => {} })
})

/** What a task owns: the roots it started or attached, and the cookie prefix its descendants carry. */
export interface TaskProcesses {
  readonly roots: Array<ProcessIdentity>
  readonly prefix: string
  readonly minStartTime: number
  /** Spawns whose own kill has not completed yet. */
  open: number
  /** Processes attached by pid (they have no spawn kill of their own). */
  attached: number
  /** A spawn's kill gave up on a survivor. */
  unclean: boolean
}

/** No live process has this pid (it never existed, or it has already exited). */
export class ProcessNotFound extends Schema.TaggedError<ProcessNotFound>()("ProcessNotFound", {
  pid: Schema.Number
}) {
  override get message(): string {
    return `no live process with pid ${this.pid}`
  }
}

const instance = `${process.pid}-${Math.random().toString(36).slice(2, 10)}`

/**
 * The start of the cookie of every process that tasks in this Node process start
 * (`<pid>-<random>/`): match it in `/proc/<pid>/environ` to count what this process's tasks left.
 */
export const instancePrefix = `${instance}/`
const owned = new WeakMap<TaskContext.TaskContextShape, TaskProcesses>()
let taskSeq = 0

/**
 * Kills a tree the way the task's revocation says: gracefully (SIGTERM, the task's grace, SIGKILL)
 * unless a non-graceful revoke is recorded or arrives while it waits.
 */
export const killFor = (task: TaskContext.TaskContextShape, spec: TreeSpec): Effect.Effect<boolean> =>
  Effect.suspend(() => {
    const revocation = task.revocationUnsafe()
    return killTree(spec, {
      graceful: revocation === undefined || revocation.graceful,
      grace: task.grace,
      forced: task.forced
    })
  }).pipe(Effect.map((summary) => summary.survivors.length === 0))

/** The task's processes, created on first use together with the task's final sweep. */
export const forTask = (task: TaskContext.TaskContextShape): Effect.Effect<TaskProcesses> =>
  Effect.suspend(() => {
    const existing = owned.get(task)
    if (existing !== undefined) return Effect.succeed(existing)
    const created: TaskProcesses = {
      roots: [],
      prefix: `${instance}/${++taskSeq}/`,
      minStartTime: startTimeNow(),
      open: 0,
      attached: 0,
      unclean: false
    }
    owned.set(task, created)
    return Effect.flatMap(ProcessObserver, (observer) =>
      Effect.as(
        Scope.addFinalizer(
          task.scope,
          Effect.andThen(
            Effect.suspend(() =>
              // Every spawn already killed its own tree and nothing was attached: a walk would find nothing.
              created.open === 0 && created.attached === 0 && !created.unclean
                ? Effect.void
                : killFor(task, {
                  roots: created.roots,
                  cookie: { name: COOKIE_VARIABLE, prefix: created.prefix },
                  minStartTime: created.minStartTime
                })
            ),
            Effect.sync(() => observer.cleaned(created.prefix))
          )
        ),
        created
      ))
  })

/**
 * Attaches a process started some other way (by pid) to the current task: it is recorded on the
 * task and killed, with its group, session and subtree, when the task ends.
 */
export const attach = Effect.fn("TaskProcesses.attach")(function*(pid: number) {
  const task = yield* TaskContext.TaskContext
  const identity = readIdentity(pid)
  if (identity === undefined) return yield* new ProcessNotFound({ pid })
  const processes = yield* forTask(task)
  processes.roots.push(identity)
  processes.attached++
  ;(yield* ProcessObserver).started(identity, processes.prefix)
  task.addProcessUnsafe({ pid, command: `pid ${pid}`, args: [] })
  return identity
})
