/**
 * A B10 runner process: `node b10-runner.js tasks|raw '<JSON {db, port}>'`. `tasks` runs an effect-tasks
 * cluster runner with the no-op job; `raw` runs a bare Effect Cluster runner (persisted messages in
 * SqlMessageStorage on the same database) with the no-op entity. Prints "ready" once up.
 */
import { ClusterRunner, Job, SqliteClient } from "@effect-tasks/cluster"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as NodeCrypto from "@effect/platform-node/NodeCrypto"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as RunnerAddress from "effect/cluster/RunnerAddress"
import * as RunnerHealth from "effect/cluster/RunnerHealth"
import * as Runners from "effect/cluster/Runners"
import * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as SocketRunner from "effect/cluster/SocketRunner"
import * as SqlMessageStorage from "effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "effect/cluster/SqlRunnerStorage"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as RpcSerialization from "effect/rpc/RpcSerialization"
import type * as SqlClient from "effect/sql/SqlClient"
import { Noop, NoopEntity } from "./b10-jobs.js"

/** The SQL client of a `sqlite:` or `postgres://` URL. */
export const sqlLayer = (db: string): Layer.Layer<SqlClient.SqlClient, unknown> =>
  db.startsWith("sqlite:")
    ? SqliteClient.layer({ filename: db.slice("sqlite:".length) })
    : PgClient.layer({ url: Redacted.make(db), maxConnections: 8 })

/** Bare Effect Cluster over sockets with its SQL storage; `port` undefined is a client-only process. */
export const rawCluster = (db: string, port: number | undefined) => {
  const config = ShardingConfig.layer({
    runnerAddress: port === undefined ? Option.none() : Option.some(RunnerAddress.make("127.0.0.1", port)),
    shardLockDisableAdvisory: true,
    shardLockExpiration: Duration.seconds(5),
    shardLockRefreshInterval: Duration.seconds(1),
    refreshAssignmentsInterval: Duration.seconds(1),
    entityReplyPollInterval: Duration.millis(50)
  })
  const serialization = RpcSerialization.layerSchemaBinary()
  const clientProtocol = NodeClusterSocket.layerClientProtocol.pipe(Layer.provide(serialization))
  const storage = Layer.mergeAll(
    SqlMessageStorage.layerWith({ prefix: "b10raw" }).pipe(Layer.provide(NodeCrypto.layerDigest)),
    SqlRunnerStorage.layerWith({ prefix: "b10raw" })
  )
  const sharding = port === undefined
    ? SocketRunner.layerClientOnly.pipe(Layer.provide(clientProtocol))
    : SocketRunner.layer.pipe(
      Layer.provide([NodeClusterSocket.layerSocketServer, clientProtocol, serialization]),
      Layer.provide(RunnerHealth.layerPing.pipe(Layer.provide(Runners.layerRpc), Layer.provide(clientProtocol)))
    )
  return sharding.pipe(Layer.provideMerge(storage), Layer.provide(config), Layer.provide(sqlLayer(db)))
}

const main = () => {
  const [mode, json] = process.argv.slice(2)
  const { db, port } = JSON.parse(json ?? "{}") as { db: string; port: number }
  const ready = Layer.effectDiscard(Effect.sync(() => process.stdout.write("ready\n")))
  const app = mode === "tasks"
    ? ready.pipe(
      Layer.provideMerge(
        ClusterRunner.layer({ db, port, host: "127.0.0.1", guardian: false, jobs: [noop] })
      )
    )
    : ready.pipe(
      Layer.provideMerge(
        NoopEntity.toLayer({ Started: () => Effect.sync(() => Date.now()) }, { concurrency: "unbounded" })
      ),
      Layer.provideMerge(rawCluster(db, port))
    )
  Layer.launch(app as Layer.Layer<never, unknown, never>).pipe(NodeRuntime.runMain)
}

/** The handler of the no-op job. */
const noop = Job.handler(Noop, () => Effect.void)

if (process.argv[1]?.endsWith("b10-runner.js")) main()
