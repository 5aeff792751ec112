/**
 * Driving `tasks shell` in a real pseudo-terminal through tmux: type as a person would, press
 * Ctrl-C, and read the screen. Each session runs on its own tmux server (a unique socket), which
 * is killed at the end whatever happens.
 */
import { execFileSync } from "node:child_process"
import { randomUUID } from "node:crypto"

/** A tmux session running one command. */
export interface Tmux {
  /** Sends keys as `tmux send-keys` takes them: literal text, or key names such as `Enter`, `C-c`, `Escape`. */
  readonly keys: (...keys: ReadonlyArray<string>) => void
  /** Types literal text (no key-name interpretation). */
  readonly type: (text: string) => void
  /** Writes these bytes to the pane in one write, as a terminal sends an Alt key (`1b 65` is Esc and e). */
  readonly bytes: (...bytes: ReadonlyArray<number>) => void
  /** Pastes text as a terminal does: bracketed (`ESC [200~ ... ESC [201~`) when the program asked for it. */
  readonly paste: (text: string) => void
  /** Resizes the window, as a person resizing the terminal does (the program gets SIGWINCH). */
  readonly resize: (columns: number, rows?: number) => void
  /** The visible screen (trailing blank lines removed). */
  readonly screen: () => string
  /** Everything the pane printed, scrollback included. */
  readonly history: () => string
  /** Waits until the screen satisfies `predicate`; throws with the screen after `timeout` ms. */
  readonly waitFor: (predicate: (screen: string) => boolean, what: string, timeout?: number) => Promise<string>
  /** The pid of the pane's process (the command). */
  readonly panePid: () => number
}

/** Whether tmux is installed. */
export const available = (): boolean => {
  try {
    execFileSync("tmux", ["-V"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

/**
 * Runs `command` (a shell command line) in a fresh tmux server with a 120x40 window, hands the
 * session to `f`, and kills the server afterwards.
 */
export const withTmux = async <A>(
  command: string,
  env: NodeJS.ProcessEnv,
  f: (tmux: Tmux) => Promise<A>
): Promise<A> => {
  const socket = `tasks-e2e-${randomUUID().slice(0, 8)}`
  const tmux = (...args: ReadonlyArray<string>) =>
    execFileSync("tmux", ["-L", socket, "-f", "/dev/null", ...args], { encoding: "utf8", env })
  tmux("new-session", "-d", "-s", "main", "-x", "120", "-y", "40", command)
  const screen = () => tmux("capture-pane", "-p", "-t", "main").replace(/\s+$/, "")
  const session: Tmux = {
    keys: (...keys) => void tmux("send-keys", "-t", "main", ...keys),
    type: (text) => void tmux("send-keys", "-t", "main", "-l", text),
    bytes: (...bytes) =>
      void tmux("send-keys", "-t", "main", "-H", ...bytes.map((b) => b.toString(16).padStart(2, "0"))),
    paste: (text) => {
      tmux("set-buffer", "-b", "e2e", "--", text)
      tmux("paste-buffer", "-p", "-d", "-b", "e2e", "-t", "main")
    },
    resize: (columns, rows = 40) => void tmux("resize-window", "-t", "main", "-x", String(columns), "-y", String(rows)),
    screen,
    history: () => tmux("capture-pane", "-p", "-S", "-", "-t", "main").replace(/\s+$/, ""),
    panePid: () => Number(tmux("display-message", "-p", "-t", "main", "#{pane_pid}").trim()),
    waitFor: async (predicate, what, timeout = 10_000) => {
      const deadline = Date.now() + timeout
      let last = ""
      while (true) {
        try {
          last = screen()
        } catch {
          // the server is gone: the screen cannot change any more
        }
        if (predicate(last)) return last
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; screen:\n${last}`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
  }
  try {
    return await f(session)
  } finally {
    try {
      tmux("kill-server")
    } catch {
      // already gone
    }
  }
}
