/**
 * The `TaskContext` of a task: one small object per task over a shared prototype, rather than a
 * closure per hook per task.
 *
 * @internal
 */
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { ProcessInfo, StoppedProcess } from "../ProcessInfo.js"
import type { OutputStream, TaskContextShape } from "../TaskContext.js"
import { awaitForced, awaitRevoked, type Task } from "./task.js"

/** What the manager does when an integration reports on a task. @internal */
export interface Hooks {
  readonly addProcess: (task: Task, process: Pick<ProcessInfo, "pid" | "command" | "args">) => void
  readonly endProcess: (
    task: Task,
    pid: number,
    outcome: { readonly exitCode?: number | undefined; readonly signal?: string | undefined }
  ) => void
  readonly processesStopped: (
    task: Task,
    pid: number,
    report: { readonly stopped: ReadonlyArray<StoppedProcess>; readonly escalated: boolean }
  ) => void
  readonly output: (task: Task, pid: number, stream: OutputStream, text: string) => Effect.Effect<void> | undefined
}

interface TaskContextImpl extends TaskContextShape {
  readonly task: Task
  readonly hooks: Hooks
}

const Proto: ThisType<TaskContextImpl> & Partial<TaskContextShape> = {
  get name() {
    return this.task.record.name
  },
  get mode() {
    return this.task.record.mode
  },
  get grace() {
    return this.task.grace
  },
  get revoked() {
    return awaitRevoked(this.task)
  },
  get forced() {
    return awaitForced(this.task)
  },
  revocationUnsafe() {
    return this.task.record.revocation
  },
  addProcessUnsafe(process) {
    this.hooks.addProcess(this.task, process)
  },
  endProcessUnsafe(pid, outcome) {
    this.hooks.endProcess(this.task, pid, outcome)
  },
  processesStoppedUnsafe(pid, report) {
    this.hooks.processesStopped(this.task, pid, report)
  },
  outputUnsafe(pid, stream, text) {
    return this.hooks.output(this.task, pid, stream, text)
  }
}

/** @internal */
export const make = (task: Task, hooks: Hooks, scope: Scope.Scope): TaskContextShape => {
  const context = Object.create(Proto)
  context.id = task.record.id
  context.scope = scope
  context.task = task
  context.hooks = hooks
  return context
}
