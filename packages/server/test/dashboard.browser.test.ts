/// <reference lib="dom" />
/**
 * The dashboard in a real browser (Debian's chromium driven by playwright-core), against a real manager
 * running real processes: the token prompt, tasks appearing and changing state live, the output panel,
 * filters, revoking with a click (checked in /proc), reconnecting after a server restart, a phone-width
 * window, and the system's light and dark themes. Screenshots go to packages/server/test-artifacts/.
 */
import { TaskManager } from "@effect-tasks/core"
import { NodeTaskManager } from "@effect-tasks/node"
import { TaskServer } from "@effect-tasks/server"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { existsSync, mkdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core"
import { alive, freshMark, killMarked, markedPids, markedScript, sh, TOKEN } from "./helpers.js"

const CHROMIUM = "/usr/bin/chromium"
const artifacts = fileURLToPath(new URL("../test-artifacts/dashboard/", import.meta.url))
// Without chromium the browser tests cannot run; outside CI they are skipped (install it with
// `apt-get install chromium`, as .ci/run does), under CI=true they run and fail.
const runBrowser = existsSync(CHROMIUM) || process.env["CI"] === "true"

let browser: Browser
const marks: Array<string> = []
const mark = () => {
  const value = freshMark()
  marks.push(value)
  return value
}

beforeAll(async () => {
  if (!runBrowser) return
  mkdirSync(artifacts, { recursive: true })
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run"
    ]
  })
}, 120_000)

afterAll(async () => {
  marks.forEach(killMarked)
  await browser?.close()
})

/** A manager and its server, started and stopped from promise-based test code. */
interface Served {
  readonly url: string
  readonly port: number
  readonly tm: TaskManager.TaskManagerShape
  readonly run: <A, E>(effect: Effect.Effect<A, E, any>) => Promise<A>
  readonly close: () => Promise<void>
}

/** Runs an effect of a test (a task body needs a spawner in its type; the task gets the manager's). */
const run = <A, E>(effect: Effect.Effect<A, E, any>) =>
  Effect.runPromise(effect.pipe(Effect.provide(NodeServices.layer)) as Effect.Effect<A, E>)

const startServer = async (port = 0, manager: NodeTaskManager.NodeTaskManagerConfig = {}): Promise<Served> => {
  const scope = await Effect.runPromise(Scope.make())
  const layer = TaskServer.layer({ port, token: TOKEN }).pipe(
    Layer.provideMerge(NodeTaskManager.layerWith({ guardian: false, grace: "3 seconds", ...manager }))
  )
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  const server = Context.get(context, TaskServer.TaskServer)
  return {
    url: server.connect,
    port: Number(new URL(server.connect).port),
    tm: Context.get(context, TaskManager.TaskManager),
    run,
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const open = async (
  url: string,
  options: { readonly width?: number; readonly height?: number; readonly dark?: boolean } = {}
) => {
  const context: BrowserContext = await browser.newContext({
    viewport: { width: options.width ?? 1280, height: options.height ?? 800 },
    colorScheme: options.dark === true ? "dark" : "light"
  })
  const page = await context.newPage()
  const requested: Array<string> = []
  const problems: Array<string> = []
  page.on("request", (request) => requested.push(request.url()))
  page.on("pageerror", (error) => problems.push(String(error)))
  page.on("console", (message) => {
    if (message.type() === "error" && !message.text().includes("Failed to load resource")) problems.push(message.text())
  })
  await page.goto(`${url}/`)
  return { page, context, requested, problems }
}

const signIn = async (page: Page, token = TOKEN) => {
  await page.locator("#token").fill(token)
  await page.locator("#login-form button[type=submit]").click()
}

/** Waits until the row of task `id` shows `state` (updated live: the test never reloads). */
const waitForState = (page: Page, id: number, state: string, timeout = 20_000) =>
  page.waitForFunction(
    ([id, state]) => document.querySelector(`#rows tr[data-id="${id}"] .badge`)?.textContent === state,
    [id, state] as const,
    { timeout }
  )

const shot = (page: Page, name: string) => page.screenshot({ path: `${artifacts}${name}.png` })

describe.skipIf(!runBrowser)("the dashboard in chromium", () => {
  it("asks for the token once, keeps it for the tab, and never puts it in a URL", async () => {
    const served = await startServer()
    try {
      const { page, context, requested, problems } = await open(served.url)
      await page.locator("#login").waitFor()
      await shot(page, "login-1280")
      await signIn(page, "not-the-token")
      await page.locator("#login-error").waitFor()
      expect(await page.locator("#login-error").textContent()).toContain("not this server's")
      await signIn(page)
      await page.locator("#app").waitFor()
      await page.waitForFunction(() => document.querySelector("#status")?.getAttribute("data-state") === "live")
      expect(await page.locator("#empty-title").textContent()).toBe("No tasks yet")
      await shot(page, "empty-1280")
      expect(await page.evaluate(() => sessionStorage.length)).toBe(1)
      expect(await page.evaluate(() => localStorage.length)).toBe(0)

      // A reload in the same tab does not ask again.
      await page.reload()
      await page.locator("#app").waitFor()
      expect(await page.locator("#login").isHidden()).toBe(true)

      const urls = [...requested, page.url()]
      expect(urls.length).toBeGreaterThan(3)
      for (const url of urls) expect(url).not.toContain(TOKEN)
      expect(problems).toEqual([])
      await context.close()
    } finally {
      await served.close()
    }
  }, 120_000)

  it("shows tasks appearing and changing state live, their output, and revokes with a click", async () => {
    const served = await startServer(0, { concurrency: { batch: 1 } })
    try {
      const { page, context, problems } = await open(served.url)
      await signIn(page)
      await page.waitForFunction(() => document.querySelector("#status")?.getAttribute("data-state") === "live")

      const m = mark()
      const { tm } = served
      const ticker = await served.run(
        tm.submit(sh(markedScript(m, "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.3; done")), {
          name: "ticker",
          mode: "serve"
        })
      )
      await waitForState(page, ticker.id, "RUNNING")
      const quick = await served.run(tm.submit(sh("echo done"), { name: "quick", mode: "build" }))
      await waitForState(page, quick.id, "SUCCESS")
      const failing = await served.run(tm.submit(sh("echo oops >&2; exit 3"), { name: "failing", mode: "build" }))
      await waitForState(page, failing.id, "FAILURE")
      expect(await page.locator(`#rows tr[data-id="${failing.id}"] .c-result`).textContent()).toBe("exit 3")
      // A queued task starts when the one before it is revoked.
      const first = await served.run(tm.submit(sh(markedScript(m, "sleep 1000")), { name: "first", mode: "batch" }))
      const second = await served.run(tm.submit(sh(markedScript(m, "sleep 1000")), { name: "second", mode: "batch" }))
      await waitForState(page, first.id, "RUNNING")
      await waitForState(page, second.id, "QUEUED")

      // The output panel follows the ticker live.
      await page.locator(`#rows tr[data-id="${ticker.id}"] .c-name`).click()
      await page.locator("#drawer").waitFor()
      await page.waitForFunction(() => /tick 2\b/.test(document.querySelector("#output")?.textContent ?? ""))
      const before = (await page.locator("#output").textContent()) ?? ""
      await page.waitForFunction(
        (length) => (document.querySelector("#output")?.textContent ?? "").length > length + 12,
        before.length
      )
      // Every line, in order, none twice: the kept tail and the live chunks join without a gap.
      const ticks = ((await page.locator("#output").textContent()) ?? "").trim().split("\n").map((line) => line.trim())
      expect(ticks).toEqual(ticks.map((_, i) => `tick ${i + 1}`))
      await shot(page, "live-1280-light")

      // Revoke `first` with a click: a confirmation, then REVOKED, and `second` starts.
      const firstPid = (await served.run(tm.get(first.id))).processes[0]!.pid
      await page.locator(`#rows tr[data-id="${first.id}"] [data-action="revoke"]`).click()
      await page.locator("#confirm").waitFor()
      expect(await page.locator("#confirm-title").textContent()).toContain("Revoke task #4")
      await shot(page, "confirm-1280")
      await page.locator("#confirm-ok").click()
      await waitForState(page, first.id, "REVOKED")
      await waitForState(page, second.id, "RUNNING")
      expect(alive(firstPid)).toBe(false)

      // Kill the ticker from the output panel (force), and check /proc that nothing it started is left.
      const tickerPids = markedPids(m).filter((pid) => pid !== firstPid)
      expect(tickerPids.length).toBeGreaterThan(0)
      await page.locator("#drawer-actions [data-action='kill']").click()
      expect(await page.locator("#confirm-title").textContent()).toContain("Kill task #1")
      await page.locator("#confirm-ok").click()
      await waitForState(page, ticker.id, "REVOKED")
      expect(await page.locator(`#rows tr[data-id="${ticker.id}"] .c-result`).textContent()).toBe(
        "revoked: user, kill -9"
      )
      await page.locator(`#rows tr[data-id="${second.id}"] [data-action="revoke"]`).click()
      await page.locator("#confirm-ok").click()
      await waitForState(page, second.id, "REVOKED")
      // Independently of the library: no marked process is alive.
      expect(markedPids(m)).toEqual([])
      await shot(page, "revoked-1280-light")
      expect(problems).toEqual([])
      await context.close()
    } finally {
      await served.close()
    }
  }, 180_000)

  it("filters by state and mode, follows the dark theme, and fits a phone", async () => {
    const served = await startServer()
    try {
      const { tm } = served
      const m = mark()
      await served.run(
        tm.submit(sh("echo '<b>not bold</b>'"), {
          name: "compile <img src=x onerror=\"window.pwned=1\">",
          mode: "build"
        })
      )
      await served.run(tm.submit(sh("exit 1"), { name: "lint", mode: "check" }))
      const runner = await served.run(tm.submit(sh(markedScript(m, "echo serving; sleep 1000")), {
        name: "dev-server",
        mode: "serve"
      }))
      await served.run(tm.await(2 as never))

      const dark = await open(served.url, { dark: true })
      await signIn(dark.page)
      await waitForState(dark.page, runner.id, "RUNNING")
      await waitForState(dark.page, 2, "FAILURE")
      // Task names and output are text, never markup.
      expect(await dark.page.locator("#rows tr[data-id=\"1\"] .c-name").textContent()).toBe(
        "compile <img src=x onerror=\"window.pwned=1\">"
      )
      expect(await dark.page.evaluate(() => document.querySelectorAll("#rows img").length)).toBe(0)
      await dark.page.locator("#rows tr[data-id=\"1\"] .c-name").click()
      await dark.page.waitForFunction(() => (document.querySelector("#output")?.textContent ?? "").includes("<b>"))
      expect(await dark.page.evaluate(() => document.querySelectorAll("#output b").length)).toBe(0)
      expect(await dark.page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined()
      const background = await dark.page.evaluate(() => getComputedStyle(document.body).backgroundColor)
      expect(background).toBe("rgb(13, 15, 18)")
      await dark.page.locator(".chip[data-state=\"FAILURE\"]").click()
      await dark.page.waitForFunction(() => document.querySelectorAll("#rows tr").length === 1)
      expect(await dark.page.locator("#rows tr .c-name").textContent()).toBe("lint")
      await dark.page.locator(".chip[data-state=\"\"]").click()
      await dark.page.locator("#mode-filter").selectOption("serve")
      await dark.page.waitForFunction(() => document.querySelectorAll("#rows tr").length === 1)
      expect(await dark.page.locator("#rows tr .c-name").textContent()).toBe("dev-server")
      await dark.page.locator("#mode-filter").selectOption("")
      await dark.page.locator(`#rows tr[data-id="${runner.id}"] .c-name`).click()
      await dark.page.waitForFunction(() => (document.querySelector("#output")?.textContent ?? "").includes("serving"))
      await shot(dark.page, "live-1280-dark")
      expect(dark.problems).toEqual([])
      await dark.context.close()

      const light = await open(served.url)
      await signIn(light.page)
      await waitForState(light.page, runner.id, "RUNNING")
      expect(await light.page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe(
        "rgb(246, 247, 249)"
      )
      await light.context.close()

      const phone = await open(served.url, { width: 390, height: 844 })
      await signIn(phone.page)
      await waitForState(phone.page, runner.id, "RUNNING")
      expect(await phone.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
      await shot(phone.page, "table-390")
      const revoke = phone.page.locator(`#rows tr[data-id="${runner.id}"] [data-action="revoke"]`)
      expect(await revoke.isVisible()).toBe(true)
      await revoke.click()
      await phone.page.locator("#confirm-ok").click()
      await waitForState(phone.page, runner.id, "REVOKED")
      expect(markedPids(m)).toEqual([])
      await phone.page.locator(`#rows tr[data-id="${runner.id}"] .c-name`).click()
      await phone.page.locator("#drawer").waitFor()
      await shot(phone.page, "output-390")
      expect(phone.problems).toEqual([])
      await phone.context.close()
    } finally {
      await served.close()
    }
  }, 180_000)

  it("reconnects after the server restarts, and shows the new manager's tasks", async () => {
    const first = await startServer()
    const { page, context, problems } = await open(first.url)
    try {
      await first.run(first.tm.submit(sh("echo from the first server"), { name: "before-restart" }))
      await signIn(page)
      await waitForState(page, 1, "SUCCESS")
      await first.close()
      await page.waitForFunction(() => document.querySelector("#status")?.getAttribute("data-state") === "reconnecting")
      await shot(page, "reconnecting-1280")

      const second = await startServer(first.port)
      try {
        await second.run(second.tm.submit(sh("echo from the second server"), { name: "after-restart" }))
        await page.waitForFunction(
          () => document.querySelector("#status")?.getAttribute("data-state") === "live",
          null,
          {
            timeout: 30_000
          }
        )
        await page.waitForFunction(() => document.querySelector("#rows tr .c-name")?.textContent === "after-restart")
        expect(await page.locator("#rows tr").count()).toBe(1)
        // Live again: a task submitted now shows up without a reload.
        await second.run(second.tm.submit(sh("sleep 0.2"), { name: "after-reconnect" }))
        await waitForState(page, 2, "SUCCESS")
        expect(problems).toEqual([])
      } finally {
        await second.close()
      }
    } finally {
      await context.close()
    }
  }, 180_000)
})
