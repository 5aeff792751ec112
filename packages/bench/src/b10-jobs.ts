/**
 * What B10's processes share: the no-op job, the raw Effect Cluster entity it is compared with, and the
 * sharding settings both sides use.
 */
import { Job } from "@effect-tasks/cluster"
import * as ClusterSchema from "effect/cluster/ClusterSchema"
import * as Entity from "effect/cluster/Entity"
import * as Rpc from "effect/rpc/Rpc"
import * as Schema from "effect/Schema"

/** The no-op job (effect-tasks side). */
export const Noop = Job.make("noop", { payload: Schema.Struct({}) })

/** The raw side: a persisted entity message whose handler replies with the time it started. */
export const Started = Rpc.make("Started", { success: Schema.Number }).annotate(ClusterSchema.Persisted, true)

/** The raw side's entity. */
export const NoopEntity = Entity.make("B10Noop", [Started])
