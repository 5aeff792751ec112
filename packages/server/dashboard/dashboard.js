// @ts-check
/**
 * The effect-tasks dashboard: a live table of a task manager's tasks, fed by the server's event stream.
 *
 * The token is asked for once and kept in sessionStorage (this tab only). It travels in the Authorization
 * header of every request, the event stream included: EventSource cannot send headers, so the stream is
 * read with fetch(). Nothing polls: the table is a snapshot (GET /api/tasks) kept current by the events,
 * re-read after a reconnect or when the server reports dropped events.
 */

/**
 * @typedef {"QUEUED" | "RUNNING" | "SUCCESS" | "FAILURE" | "REVOKED"} State
 * @typedef {{ reason: string, graceful: boolean }} Revocation
 * @typedef {{ pid: number, command: string, args: string[], startedAt: number, endedAt?: number,
 *   exitCode?: number, signal?: string }} Proc
 * @typedef {{ id: number, name: string, mode: string, state: State, submittedAt: number, startedAt?: number,
 *   finishedAt?: number, revocation?: Revocation, error?: string, processes: Proc[] }} Task
 * @typedef {{ _tag: string, id?: number, [key: string]: any }} TaskEvent
 */

const TOKEN_KEY = "effect-tasks:token"
/** Characters of output kept in the panel; older text is dropped from the top. */
const OUTPUT_LIMIT = 256 * 1024
/** @type {ReadonlyArray<{ state: string, label: string, color: string }>} */
const FILTERS = [
  { state: "", label: "All", color: "" },
  { state: "RUNNING", label: "Running", color: "var(--running)" },
  { state: "QUEUED", label: "Queued", color: "var(--queued)" },
  { state: "SUCCESS", label: "Succeeded", color: "var(--success)" },
  { state: "FAILURE", label: "Failed", color: "var(--failure)" },
  { state: "REVOKED", label: "Revoked", color: "var(--revoked)" }
]

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id))

/**
 * Creates an element with a class and text (never HTML: task names and output are untrusted).
 * @param {string} tag
 * @param {string} [className]
 * @param {string} [text]
 */
const el = (tag, className, text) => {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined) node.textContent = text
  return node
}

const view = {
  app: $("app"),
  login: $("login"),
  loginForm: /** @type {HTMLFormElement} */ ($("login-form")),
  tokenInput: /** @type {HTMLInputElement} */ ($("token")),
  loginError: $("login-error"),
  status: $("status"),
  host: $("host"),
  forget: /** @type {HTMLButtonElement} */ ($("forget")),
  revokeAll: /** @type {HTMLButtonElement} */ ($("revoke-all")),
  chips: $("state-filter"),
  mode: /** @type {HTMLSelectElement} */ ($("mode-filter")),
  rows: $("rows"),
  empty: $("empty"),
  emptyTitle: $("empty-title"),
  emptyHint: $("empty-hint"),
  drawer: $("drawer"),
  drawerId: $("drawer-id"),
  drawerName: $("drawer-name"),
  drawerBadge: $("drawer-badge"),
  drawerMeta: $("drawer-meta"),
  drawerActions: $("drawer-actions"),
  drawerClose: $("drawer-close"),
  output: $("output"),
  toasts: $("toasts"),
  confirm: /** @type {HTMLDialogElement} */ ($("confirm")),
  confirmTitle: $("confirm-title"),
  confirmBody: $("confirm-body"),
  confirmOk: $("confirm-ok")
}

const app = {
  /** @type {string | null} */
  token: sessionStorage.getItem(TOKEN_KEY),
  /** @type {Map<number, Task>} */
  tasks: new Map(),
  filter: { state: "", mode: "" },
  /** @type {number | undefined} */
  selected: undefined,
  /** Tasks revoked from this page and not finished yet. @type {Set<number>} */
  revoking: new Set(),
  /** Ids that appeared since the last render, highlighted once. @type {Set<number>} */
  fresh: new Set(),
  /** The browser clock minus the server's, estimated from live events. @type {number | undefined} */
  skew: undefined,
  /** @type {AbortController | undefined} */
  connection: undefined,
  attempt: 0,
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  retryTimer: undefined,
  output: {
    /** @type {number | undefined} */
    id: undefined,
    /** The follow of the task in the panel. @type {AbortController | undefined} */
    follow: undefined,
    length: 0
  },
  renderQueued: false
}

// ---------------------------------------------------------------------------------------------------------
// Formatting (the same words as the `tasks` command's tables)

/** @param {number} millis */
const formatDuration = (millis) => {
  const ms = Math.max(0, Math.round(millis))
  if (ms < 1000) return `${ms}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`
  const seconds = Math.floor(ms / 1000)
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`
  const minutes = Math.floor(seconds / 60)
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`
}

const serverNow = () => Date.now() - (app.skew ?? 0)

/** @param {Task} task */
const durationText = (task) => {
  if (task.startedAt === undefined) return "–"
  return formatDuration((task.finishedAt ?? serverNow()) - task.startedAt)
}

/** @param {Task} task */
const isActive = (task) => task.state === "QUEUED" || task.state === "RUNNING"

/** @param {Task} task */
const displayState = (task) => task.state === "RUNNING" && task.revocation ? "STOPPING" : task.state

/** How a task ended, or what it is doing. @param {Task} task */
const resultText = (task) => {
  const root = task.processes[0]
  switch (task.state) {
    case "QUEUED":
      return "waiting for a slot"
    case "RUNNING":
      return task.revocation
        ? `stopping: ${task.revocation.reason}${task.revocation.graceful ? "" : " (kill -9)"}`
        : ""
    case "SUCCESS":
      return task.processes.length > 0 ? "exit 0" : "ok"
    case "FAILURE":
      if (root?.exitCode !== undefined && root.exitCode !== 0) return `exit ${root.exitCode}`
      if (root?.signal !== undefined) return `killed by ${root.signal}`
      return (task.error ?? "failed").split("\n")[0] ?? "failed"
    case "REVOKED": {
      const reason = task.revocation?.reason ?? "user"
      const forced = task.revocation?.graceful === false ? ", kill -9" : ""
      return `revoked: ${reason}${forced}${task.startedAt === undefined ? ", never started" : ""}`
    }
  }
}

/** @param {Proc} proc */
const procOutcome = (proc) => {
  if (proc.endedAt === undefined) return { how: "running", text: "running" }
  if (proc.signal !== undefined) return { how: "signal", text: proc.signal }
  return { how: proc.exitCode === 0 ? "ok" : "error", text: `exit ${proc.exitCode ?? "?"}` }
}

// ---------------------------------------------------------------------------------------------------------
// Talking to the server

class AuthError extends Error {}

const REFUSED = "The server refused this token. It may have restarted with a new one."

/**
 * A JSON request with the token in its header.
 * @param {string} path
 * @param {{ method?: string, body?: unknown, signal?: AbortSignal }} [init]
 */
const api = async (path, init = {}) => {
  /** @type {Record<string, string>} */
  const headers = { authorization: `Bearer ${app.token}` }
  if (init.body !== undefined) headers["content-type"] = "application/json"
  /** @type {RequestInit} */
  const request = { method: init.method ?? "GET", headers, cache: "no-store" }
  if (init.body !== undefined) request.body = JSON.stringify(init.body)
  if (init.signal !== undefined) request.signal = init.signal
  const response = await fetch(path, request)
  if (response.status === 401) {
    signOut(REFUSED)
    throw new AuthError("unauthorized")
  }
  const body = await response.json().catch(() => undefined)
  if (!response.ok) throw new Error(body?.message ?? `HTTP ${response.status}`)
  return body
}

/**
 * Opens a stream of Server-Sent Events with the token in its header (EventSource cannot send one) and gives its
 * body. A refused token signs out (AuthError); any other refusal is an Error with the server's message.
 * @param {string} path
 * @param {AbortSignal} signal
 * @returns {Promise<ReadableStream<Uint8Array>>}
 */
const openEvents = async (path, signal) => {
  const response = await fetch(path, {
    headers: { authorization: `Bearer ${app.token}`, accept: "text/event-stream" },
    signal,
    cache: "no-store"
  })
  if (response.status === 401) {
    signOut(REFUSED)
    throw new AuthError("unauthorized")
  }
  if (!response.ok || response.body === null) {
    const body = await response.json().catch(() => undefined)
    throw new Error(body?.message ?? `HTTP ${response.status}`)
  }
  return response.body
}

/** @param {Task[]} list */
const replaceTasks = (list) => {
  const known = new Set(app.tasks.keys())
  app.tasks = new Map(list.map((task) => [task.id, task]))
  for (const id of app.tasks.keys()) if (!known.has(id) && known.size > 0) app.fresh.add(id)
  if (app.selected !== undefined && !app.tasks.has(app.selected)) closeDrawer()
  scheduleRender()
}

const resync = () => api("/api/tasks").then(replaceTasks).catch(() => undefined)

/** @param {string} state @param {string} [label] */
const setStatus = (state, label) => {
  view.status.dataset["state"] = state
  document.body.dataset["connection"] = state
  const text = view.status.querySelector(".label")
  if (text) {
    text.textContent = label
      ?? { live: "Live", connecting: "Connecting…", reconnecting: "Reconnecting…", offline: "Offline" }[state]
      ?? state
  }
}

/**
 * Reads Server-Sent Events from a fetch body: one callback per `data:` payload.
 * @param {ReadableStream<Uint8Array>} body
 * @param {(data: string) => void} onData
 */
const readEvents = async (body, onData) => {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let buffer = ""
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    buffer += decoder.decode(value, { stream: true }).replaceAll("\r\n", "\n")
    let end
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const message = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const data = message.split("\n").filter((line) => line.startsWith("data:")).map((line) =>
        line.slice(line.startsWith("data: ") ? 6 : 5)
      ).join("\n")
      if (data.length > 0) onData(data)
    }
  }
}

/** Opens the event stream, loads the snapshot once subscribed, and applies events until the stream ends. */
const connect = async () => {
  clearTimeout(app.retryTimer)
  app.connection?.abort()
  const controller = new AbortController()
  app.connection = controller
  setStatus(app.attempt === 0 ? "connecting" : "reconnecting")
  try {
    const events = await openEvents("/api/events", controller.signal)
    // Subscribed: whatever happens from here on arrives as an event, so the snapshot misses nothing.
    /** @type {TaskEvent[] | undefined} */
    let pending = []
    const snapshot = api("/api/tasks", { signal: controller.signal }).then((list) => {
      replaceTasks(list)
      const queued = pending ?? []
      pending = undefined
      for (const event of queued) apply(event, false)
      if (app.output.id !== undefined) loadOutput(app.output.id)
    })
    snapshot.catch(() => controller.abort())
    await snapshot
    app.attempt = 0
    setStatus("live")
    await readEvents(events, (data) => {
      /** @type {TaskEvent} */
      let event
      try {
        event = JSON.parse(data)
      } catch {
        return
      }
      if (pending) pending.push(event)
      else apply(event, true)
    })
    throw new Error("the event stream ended")
  } catch (error) {
    if (controller.signal.aborted && app.connection !== controller) return
    if (error instanceof AuthError || app.token === null) return
    app.attempt++
    const delay = Math.min(5000, 400 * 2 ** Math.min(app.attempt, 4))
    const at = Date.now() + delay
    const tick = () => {
      const left = Math.ceil((at - Date.now()) / 1000)
      if (app.connection === controller && left > 0) {
        setStatus("reconnecting", `Reconnecting in ${left}s…`)
        app.retryTimer = setTimeout(tick, 250)
      }
    }
    tick()
    app.retryTimer = setTimeout(() => {
      if (app.connection === controller) connect()
    }, delay)
  }
}

// ---------------------------------------------------------------------------------------------------------
// Applying events

/**
 * @param {TaskEvent} event
 * @param {boolean} live  received as it happened (used to estimate the clock difference)
 */
const apply = (event, live) => {
  if (live && typeof event["at"] === "number") {
    const sample = Date.now() - event["at"]
    app.skew = app.skew === undefined ? sample : Math.min(app.skew, sample)
  }
  const id = /** @type {number} */ (event.id)
  const task = app.tasks.get(id)
  switch (event._tag) {
    case "TaskSubmitted":
      if (task === undefined) {
        app.tasks.set(id, {
          id,
          name: event["name"],
          mode: event["mode"],
          state: event["state"],
          submittedAt: event["at"],
          ...(event["state"] === "RUNNING" ? { startedAt: event["at"] } : {}),
          processes: []
        })
        app.fresh.add(id)
      }
      break
    case "TaskStarted":
      if (task && isActive(task)) {
        task.state = "RUNNING"
        task.startedAt ??= event["at"]
      }
      break
    case "TaskRevoking":
      if (task && isActive(task)) task.revocation = event["revocation"]
      break
    case "TaskFinished":
      if (task) {
        task.state = event["state"]
        task.finishedAt = event["at"]
        if (event["revocation"]) task.revocation = event["revocation"]
        if (event["error"]) task.error = event["error"]
        app.revoking.delete(id)
      }
      break
    case "ProcessStarted":
      if (task && !task.processes.some((p) => p.pid === event["pid"])) {
        task.processes.push({
          pid: event["pid"],
          command: event["command"],
          args: event["args"],
          startedAt: event["at"]
        })
      }
      break
    case "ProcessExited":
      if (task) {
        const proc = task.processes.find((p) => p.pid === event["pid"] && p.endedAt === undefined)
        if (proc) {
          proc.endedAt = event["at"]
          if (event["exitCode"] !== undefined) proc.exitCode = event["exitCode"]
          if (event["signal"] !== undefined) proc.signal = event["signal"]
        }
      }
      break
    case "TaskOutput":
      // The panel has a follow of its own (see `loadOutput`): the event stream's copy is not needed.
      return
    case "EventsDropped":
      // This page fell behind and missed events: read the whole state again.
      resync()
      return
    default:
      return
  }
  scheduleRender()
}

// ---------------------------------------------------------------------------------------------------------
// Rendering

const scheduleRender = () => {
  if (app.renderQueued) return
  app.renderQueued = true
  requestAnimationFrame(() => {
    app.renderQueued = false
    render()
  })
}

/** @param {string} state */
const badge = (state) => {
  const node = el("span", "badge", state === "STOPPING" ? "STOPPING" : state)
  node.dataset["state"] = state
  return node
}

/** @param {Task} task */
const processesCell = (task) => {
  const cell = el("div", "procs")
  for (const proc of task.processes) {
    const { how, text } = procOutcome(proc)
    const chip = el("span", "proc")
    chip.dataset["how"] = how
    chip.title = [proc.command, ...proc.args].join(" ")
    chip.append(el("span", "pid", String(proc.pid)), el("span", "how", text))
    cell.append(chip)
  }
  return cell
}

/** @param {Task} task */
const actionsCell = (task) => {
  const box = el("div", "row-actions")
  if (!isActive(task)) return box
  const pending = app.revoking.has(task.id)
  const graceful = /** @type {HTMLButtonElement} */ (el("button", "act revoke", "Revoke"))
  graceful.type = "button"
  graceful.dataset["action"] = "revoke"
  graceful.title = "SIGTERM, then SIGKILL after the grace period"
  const force = /** @type {HTMLButtonElement} */ (el("button", "act kill", "Kill"))
  force.type = "button"
  force.dataset["action"] = "kill"
  force.title = "SIGKILL now"
  graceful.disabled = pending || task.revocation !== undefined
  force.disabled = task.revocation?.graceful === false
  box.append(graceful, force)
  return box
}

/** A signature of what a row shows, so unchanged rows are not rebuilt. @param {Task} task */
const signature = (task) =>
  JSON.stringify([
    task.state,
    task.revocation,
    task.error,
    task.processes,
    app.revoking.has(task.id),
    app.selected === task.id
  ])

/** @param {HTMLTableRowElement} row @param {Task} task */
const fillRow = (row, task) => {
  const cells = [
    el("td", "c-id", String(task.id)),
    el("td", "c-name", task.name),
    el("td", "c-mode"),
    el("td", "c-state"),
    el("td", "c-duration", durationText(task)),
    el("td", "c-result", resultText(task)),
    el("td", "c-processes"),
    el("td", "c-actions")
  ]
  cells[1].title = task.name
  cells[2].append(el("span", "", task.mode))
  cells[3].append(badge(displayState(task)))
  const resultClass = task.state === "FAILURE"
    ? "failure"
    : task.state === "REVOKED"
    ? "revoked"
    : task.revocation && isActive(task)
    ? "stopping"
    : ""
  if (resultClass) cells[5].classList.add(resultClass)
  cells[5].title = task.error ?? resultText(task)
  if (task.processes.length > 0) cells[6].append(processesCell(task))
  cells[7].append(actionsCell(task))
  row.replaceChildren(...cells)
  row.dataset["state"] = task.state
  row.setAttribute("aria-selected", String(app.selected === task.id))
}

/** @type {Map<number, { row: HTMLTableRowElement, signature: string }>} */
const rows = new Map()

const visibleTasks = () =>
  [...app.tasks.values()]
    .filter((task) => app.filter.state === "" || task.state === app.filter.state)
    .filter((task) => app.filter.mode === "" || task.mode === app.filter.mode)
    .toSorted((a, b) => b.id - a.id)

const renderChips = () => {
  /** @type {Record<string, number>} */
  const counts = { "": 0 }
  for (const task of app.tasks.values()) {
    if (app.filter.mode !== "" && task.mode !== app.filter.mode) continue
    counts[""]++
    counts[task.state] = (counts[task.state] ?? 0) + 1
  }
  view.chips.replaceChildren(...FILTERS.map((filter) => {
    const chip = /** @type {HTMLButtonElement} */ (el("button", "chip"))
    chip.type = "button"
    chip.setAttribute("role", "radio")
    chip.setAttribute("aria-checked", String(app.filter.state === filter.state))
    chip.dataset["state"] = filter.state
    if (filter.color) {
      const swatch = el("span", "swatch")
      swatch.style.setProperty("--c", filter.color)
      chip.append(swatch)
    }
    chip.append(el("span", "", filter.label), el("span", "count", String(counts[filter.state] ?? 0)))
    return chip
  }))
}

const renderModes = () => {
  const modes = [...new Set([...app.tasks.values()].map((task) => task.mode))].toSorted()
  const current = [...view.mode.options].slice(1).map((option) => option.value)
  if (modes.join("\n") === current.join("\n")) return
  const all = el("option", "", "All modes")
  all.setAttribute("value", "")
  view.mode.replaceChildren(
    all,
    ...modes.map((mode) => {
      const option = el("option", "", mode)
      option.setAttribute("value", mode)
      return option
    })
  )
  view.mode.value = modes.includes(app.filter.mode) ? app.filter.mode : ""
  app.filter.mode = view.mode.value
}

const render = () => {
  renderModes()
  renderChips()
  const list = visibleTasks()
  const keep = new Set(list.map((task) => task.id))
  for (const [id, entry] of rows) {
    if (!keep.has(id)) {
      entry.row.remove()
      rows.delete(id)
    }
  }
  /** @type {Element | null} */
  let previous = null
  for (const task of list) {
    let entry = rows.get(task.id)
    const sig = signature(task)
    if (entry === undefined) {
      const row = /** @type {HTMLTableRowElement} */ (el("tr"))
      row.dataset["id"] = String(task.id)
      entry = { row, signature: "" }
      rows.set(task.id, entry)
      if (app.fresh.has(task.id)) row.classList.add("fresh")
    }
    if (entry.signature !== sig) {
      fillRow(entry.row, task)
      entry.signature = sig
    }
    /** @type {Element | null} */
    const expected = previous === null ? view.rows.firstElementChild : previous.nextElementSibling
    if (expected !== entry.row) view.rows.insertBefore(entry.row, expected)
    previous = entry.row
  }
  app.fresh.clear()
  const filtered = app.tasks.size > 0
  view.empty.hidden = list.length > 0
  view.emptyTitle.textContent = filtered ? "No tasks match these filters" : "No tasks yet"
  view.emptyHint.textContent = filtered
    ? "Pick another state or mode above."
    : "Tasks submitted to this manager show up here as they start."
  view.revokeAll.hidden = ![...app.tasks.values()].some(isActive)
  renderDrawerHead()
}

/** Durations of running tasks move every second; only those cells are touched. */
const tickDurations = () => {
  for (const [id, entry] of rows) {
    const task = app.tasks.get(id)
    if (task?.state !== "RUNNING") continue
    const cell = entry.row.querySelector(".c-duration")
    if (cell) cell.textContent = durationText(task)
  }
  const task = app.selected === undefined ? undefined : app.tasks.get(app.selected)
  if (task?.state === "RUNNING") renderDrawerHead()
}

// ---------------------------------------------------------------------------------------------------------
// The output panel

const renderDrawerHead = () => {
  const task = app.selected === undefined ? undefined : app.tasks.get(app.selected)
  if (task === undefined) return
  view.drawerId.textContent = `#${task.id}`
  view.drawerName.textContent = task.name
  view.drawerBadge.replaceChildren(badge(displayState(task)))
  const pids = task.processes.map((p) => p.pid).join(", ")
  view.drawerMeta.textContent = [
    task.mode,
    durationText(task),
    resultText(task),
    pids ? `pid ${pids}` : ""
  ].filter((part) => part !== "").join("  ·  ")
  const actions = actionsCell(task)
  const signature = actions.textContent + [...actions.querySelectorAll("button")].map((b) => b.disabled).join()
  if (view.drawerActions.dataset["signature"] !== signature) {
    view.drawerActions.replaceChildren(...actions.children)
    view.drawerActions.dataset["signature"] = signature
  }
}

/** @param {string} text @param {boolean} [stderr] @param {boolean} [note] */
const appendOutput = (text, stderr = false, note = false) => {
  if (text.length === 0) return
  const box = view.output
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 24
  const last = box.lastChild
  if (!stderr && !note && last instanceof Text) last.appendData(text)
  else if (!stderr && !note) box.append(text)
  else box.append(el("span", note ? "note" : "err", text))
  app.output.length += text.length
  while (app.output.length > OUTPUT_LIMIT && box.firstChild) {
    app.output.length -= box.firstChild.textContent?.length ?? 0
    box.firstChild.remove()
  }
  if (atBottom) box.scrollTop = box.scrollHeight
}

/**
 * Follows a task's output into the panel: GET /api/tasks/:id/follow replays the kept tail, then streams every
 * chunk in order until the task's TaskFinished, with no gap between the two. (A tail read once, topped up with
 * the event stream's TaskOutput events, loses whatever is written between the read and its answer.)
 * @param {number} id
 */
const loadOutput = async (id) => {
  app.output.follow?.abort()
  const controller = new AbortController()
  app.output.follow = controller
  app.output.id = id
  view.output.replaceChildren()
  app.output.length = 0
  const current = () => app.output.follow === controller
  let finished = false
  try {
    await readEvents(await openEvents(`/api/tasks/${id}/follow`, controller.signal), (data) => {
      if (!current()) return
      /** @type {{ _tag: string, [key: string]: any }} */
      let message
      try {
        message = JSON.parse(data)
      } catch {
        return
      }
      if (message._tag === "TaskOutput") appendOutput(message["text"], message["stream"] === "stderr")
      else if (message._tag === "OutputSkipped") {
        const dropped = message["stdout"] + message["stderr"]
        if (dropped > 0) appendOutput(`… ${dropped} earlier characters not kept\n`, false, true)
      } else if (message._tag === "TaskFinished") finished = true
    })
    if (!current()) return
    if (!finished) {
      appendOutput(
        "… the output stopped here: this page fell behind. Select the task again to reload it.\n",
        false,
        true
      )
    } else if (app.output.length === 0) appendOutput("(no output)\n", false, true)
  } catch (error) {
    if (controller.signal.aborted || !current() || error instanceof AuthError) return
    appendOutput(`could not load the output: ${error instanceof Error ? error.message : String(error)}\n`, false, true)
  }
}

/** @param {number} id */
const selectTask = (id) => {
  if (app.selected === id) return
  app.selected = id
  view.drawer.hidden = false
  view.drawerActions.dataset["signature"] = ""
  view.output.replaceChildren()
  app.output.length = 0
  loadOutput(id)
  render()
  rows.get(id)?.row.scrollIntoView({ block: "nearest" })
}

const closeDrawer = () => {
  app.selected = undefined
  app.output.id = undefined
  app.output.follow?.abort()
  app.output.follow = undefined
  view.drawer.hidden = true
  scheduleRender()
}

// ---------------------------------------------------------------------------------------------------------
// Revoking

/**
 * Asks before doing anything destructive; resolves to true when confirmed.
 * @param {string} title @param {string} body @param {string} ok
 */
const confirmAction = (title, body, ok) =>
  new Promise((resolve) => {
    view.confirmTitle.textContent = title
    view.confirmBody.textContent = body
    view.confirmOk.textContent = ok
    view.confirm.returnValue = ""
    view.confirm.addEventListener("close", () => resolve(view.confirm.returnValue === "ok"), { once: true })
    view.confirm.showModal()
  })

/** @param {string} message @param {"error" | "info"} [kind] */
const toast = (message, kind = "error") => {
  const node = el("div", `toast ${kind}`, message)
  node.setAttribute("role", kind === "error" ? "alert" : "status")
  view.toasts.append(node)
  setTimeout(() => node.remove(), 6000)
}

/** @param {number} id @param {boolean} force */
const revoke = async (id, force) => {
  const task = app.tasks.get(id)
  if (task === undefined || !isActive(task)) return
  const name = `#${task.id} “${task.name}”`
  const confirmed = force
    ? await confirmAction(
      `Kill task ${name} now?`,
      "Every process it started gets SIGKILL at once, with no time to clean up.",
      "Kill now"
    )
    : await confirmAction(
      `Revoke task ${name}?`,
      "Its processes get SIGTERM, then SIGKILL if they are still running after the grace period.",
      "Revoke"
    )
  if (!confirmed) return
  app.revoking.add(id)
  scheduleRender()
  try {
    const done = await api(`/api/tasks/${id}/revoke`, { method: "POST", body: { graceful: !force } })
    app.tasks.set(id, done)
  } catch (error) {
    if (!(error instanceof AuthError)) {
      toast(`Could not revoke task ${id}: ${error instanceof Error ? error.message : error}`)
    }
  } finally {
    app.revoking.delete(id)
    scheduleRender()
  }
}

const revokeAll = async () => {
  const active = [...app.tasks.values()].filter(isActive)
  if (active.length === 0) return
  const confirmed = await confirmAction(
    `Revoke all ${active.length} active task${active.length === 1 ? "" : "s"}?`,
    "Each gets SIGTERM, then SIGKILL after its grace period. Queued tasks never start.",
    "Revoke all"
  )
  if (!confirmed) return
  for (const task of active) app.revoking.add(task.id)
  scheduleRender()
  try {
    const done = await api("/api/revoke-all", { method: "POST", body: { graceful: true } })
    for (const task of done) app.tasks.set(task.id, task)
  } catch (error) {
    if (!(error instanceof AuthError)) toast(`Could not revoke: ${error instanceof Error ? error.message : error}`)
  } finally {
    for (const task of active) app.revoking.delete(task.id)
    scheduleRender()
  }
}

// ---------------------------------------------------------------------------------------------------------
// Signing in and out

/** @param {string} [reason] */
const signOut = (reason) => {
  app.token = null
  sessionStorage.removeItem(TOKEN_KEY)
  app.connection?.abort()
  app.connection = undefined
  clearTimeout(app.retryTimer)
  app.tasks.clear()
  closeDrawer()
  view.app.hidden = true
  view.forget.hidden = true
  view.revokeAll.hidden = true
  view.login.hidden = false
  view.loginError.hidden = reason === undefined
  view.loginError.textContent = reason ?? ""
  setStatus("offline", "Signed out")
  view.tokenInput.value = ""
  view.tokenInput.focus()
}

const start = () => {
  view.login.hidden = true
  view.app.hidden = false
  view.forget.hidden = false
  app.attempt = 0
  render()
  connect()
}

view.loginForm.addEventListener("submit", async (event) => {
  event.preventDefault()
  const token = view.tokenInput.value.trim()
  if (token.length === 0) return
  // Check the token before keeping it, so a typo is answered here and not by a dead page.
  const response = await fetch("/api/tasks", { headers: { authorization: `Bearer ${token}` }, cache: "no-store" })
    .catch(() => undefined)
  if (response === undefined) {
    view.loginError.textContent = "The server does not answer."
    view.loginError.hidden = false
    return
  }
  if (response.status === 401) {
    view.loginError.textContent = "That token is not this server's."
    view.loginError.hidden = false
    view.tokenInput.select()
    return
  }
  app.token = token
  sessionStorage.setItem(TOKEN_KEY, token)
  start()
})

// ---------------------------------------------------------------------------------------------------------
// Wiring

view.chips.addEventListener("click", (event) => {
  const chip = /** @type {HTMLElement | null} */ (/** @type {HTMLElement} */ (event.target).closest(".chip"))
  if (chip === null) return
  app.filter.state = chip.dataset["state"] ?? ""
  scheduleRender()
})

view.mode.addEventListener("change", () => {
  app.filter.mode = view.mode.value
  scheduleRender()
})

view.rows.addEventListener("click", (event) => {
  const target = /** @type {HTMLElement} */ (event.target)
  const row = /** @type {HTMLElement | null} */ (target.closest("tr"))
  if (row === null) return
  const id = Number(row.dataset["id"])
  const action = /** @type {HTMLElement | null} */ (target.closest("[data-action]"))
  if (action !== null) {
    event.stopPropagation()
    revoke(id, action.dataset["action"] === "kill")
    return
  }
  selectTask(id)
})

view.drawerClose.addEventListener("click", closeDrawer)
view.drawerActions.addEventListener("click", (event) => {
  const action = /** @type {HTMLElement | null} */ (/** @type {HTMLElement} */ (event.target).closest("[data-action]"))
  if (action !== null && app.selected !== undefined) revoke(app.selected, action.dataset["action"] === "kill")
})
view.revokeAll.addEventListener("click", revokeAll)
view.forget.addEventListener("click", () => signOut())
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !view.confirm.open && app.selected !== undefined) closeDrawer()
})
window.addEventListener("online", () => {
  if (app.token !== null) {
    app.attempt = 0
    connect()
  }
})

view.host.textContent = location.host
setInterval(tickDurations, 1000)
if (app.token === null) signOut()
else start()
