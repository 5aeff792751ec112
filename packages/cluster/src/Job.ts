/**
 * Jobs: what a cluster task runs. An Effect cannot cross a process boundary, so a cluster task names a job
 * and carries its payload; the job's schemas say how payload, success and error travel as JSON. Clients
 * need only the definition (`Job.make`); every runner registers the same definitions with their handlers
 * (`Job.handler`), and a task's handler runs on the runner's local task manager, so every process it starts
 * belongs to the task.
 *
 * ```ts
 * import { Job } from "@effect-tasks/cluster"
 * import { Effect, Schema } from "effect"
 *
 * export const Render = Job.make("render", {
 *   payload: Schema.Struct({ scene: Schema.String, frames: Schema.Number }),
 *   success: Schema.Struct({ bytes: Schema.Number })
 * })
 *
 * // in every runner:
 * export const RenderHandler = Job.handler(Render, ({ frames }) => Effect.succeed({ bytes: frames * 1024 }))
 * ```
 *
 * @since 0.1.0
 */
import { TaskManager } from "@effect-tasks/core"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

/**
 * A schema whose values travel as JSON (through `Schema.toCodecJson`) without services.
 *
 * @since 0.1.0
 * @category models
 */
export type JsonSchema = Schema.Top & { readonly DecodingServices: never; readonly EncodingServices: never }

/**
 * A named job with the schemas of its payload, success and typed error.
 *
 * @since 0.1.0
 * @category models
 */
export interface Job<
  out Name extends string = string,
  out Payload extends JsonSchema = JsonSchema,
  out Success extends JsonSchema = JsonSchema,
  out Error extends JsonSchema = JsonSchema
> {
  readonly name: Name
  readonly payload: Payload
  readonly success: Success
  readonly error: Error
}

/**
 * Any job.
 *
 * @since 0.1.0
 * @category models
 */
export type Any = Job<string, JsonSchema, JsonSchema, JsonSchema>

/**
 * The payload type of a job.
 *
 * @since 0.1.0
 * @category type-level
 */
export type Payload<J extends Any> = J["payload"]["Type"]

/**
 * The success type of a job.
 *
 * @since 0.1.0
 * @category type-level
 */
export type Success<J extends Any> = J["success"]["Type"]

/**
 * The typed error of a job.
 *
 * @since 0.1.0
 * @category type-level
 */
export type Error<J extends Any> = J["error"]["Type"]

const validName = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/

/**
 * Defines a job. `success` defaults to `Schema.Void` and `error` to `Schema.Never`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <
  const Name extends string,
  Payload extends JsonSchema,
  Success extends JsonSchema = typeof Schema.Void,
  Error extends JsonSchema = typeof Schema.Never
>(
  name: Name,
  schemas: { readonly payload: Payload; readonly success?: Success; readonly error?: Error }
): Job<Name, Payload, Success, Error> => {
  if (!validName.test(name)) throw new globalThis.Error(`invalid job name ${JSON.stringify(name)}`)
  return {
    name,
    payload: schemas.payload,
    success: (schemas.success ?? Schema.Void) as Success,
    error: (schemas.error ?? Schema.Never) as Error
  }
}

/**
 * A job with the code that runs it on a runner.
 *
 * @since 0.1.0
 * @category models
 */
export interface Handler<out R = never> {
  readonly job: Any
  readonly run: (payload: unknown) => Effect.Effect<unknown, unknown, R>
}

/**
 * Gives a job its code. The effect runs as a task of the runner's local task manager (with the task's
 * `TaskManager.Provided` services, and the Node process services that make its processes the task's).
 *
 * @since 0.1.0
 * @category constructors
 */
export const handler = <J extends Any, R = never>(
  job: J,
  run: (payload: Payload<J>) => Effect.Effect<Success<J>, Error<J>, R>
): Handler<Exclude<R, TaskManager.Provided>> => ({ job, run: run as Handler<Exclude<R, TaskManager.Provided>>["run"] })
