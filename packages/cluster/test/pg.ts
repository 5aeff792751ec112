/**
 * Postgres for the tests: `EFFECT_TASKS_PG_URL` names a server (`.ci/run` starts a throwaway one), each test
 * gets a fresh database on it, and `EFFECT_TASKS_PG_CLUSTER` ("15 NAME") lets a test restart it with
 * `pg_ctlcluster`.
 */
import { execFile, execFileSync } from "node:child_process"

export const pgUrl = process.env.EFFECT_TASKS_PG_URL

/** Under CI a missing server is a failure, not a skip. */
export const requirePgUnderCi = () => {
  if (pgUrl === undefined && process.env.CI === "true") {
    throw new Error("CI=true but EFFECT_TASKS_PG_URL is not set: the Postgres tests cannot run")
  }
}

let seq = 0

/** A new, empty database on the server; returns its URL. */
export const freshPgDatabase = async (): Promise<string> => {
  const name = `et_${process.pid}_${Date.now().toString(36)}_${++seq}`
  execFileSync("psql", [pgUrl!, "-v", "ON_ERROR_STOP=1", "-qc", `CREATE DATABASE ${name}`], { stdio: "pipe" })
  const url = new URL(pgUrl!)
  url.pathname = `/${name}`
  return url.toString()
}

/** Whether the test was told how to restart the server. */
export const canRestartPg = (): boolean => process.env.EFFECT_TASKS_PG_CLUSTER !== undefined

/** Restarts the server (fast shutdown) without blocking this process; resolves once it is back. */
export const restartPg = (): Promise<void> => {
  const [version, name] = process.env.EFFECT_TASKS_PG_CLUSTER!.split(" ")
  return new Promise((resolve, reject) =>
    execFile("pg_ctlcluster", [version!, name!, "restart", "-m", "fast"], (error) => error ? reject(error) : resolve())
  )
}
