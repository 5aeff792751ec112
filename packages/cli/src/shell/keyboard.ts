/**
 * The shell's input. On a terminal, stdin goes into raw mode and every key press becomes a `Key`
 * (so Ctrl-C and Ctrl-D are keys, not signals); otherwise stdin is read line by line, which keeps
 * `echo "sleep 1" | tasks shell` working. Either way the terminal is restored when the scope closes.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as readline from "node:readline"
import type { Key } from "./editor.js"

/** One unit of input: a key (terminal), a whole line (pipe), or the end of input. */
export type Input =
  | { readonly _tag: "Key"; readonly key: Key }
  | { readonly _tag: "Line"; readonly text: string }
  | { readonly _tag: "End" }

/** Whether stdin is a terminal (keys) rather than a pipe or file (lines). */
export const isTerminal = (): boolean => process.stdin.isTTY === true

/** Hands stdin's input to `offer` until the scope closes, then restores the terminal. */
export const listen = (offer: (input: Input) => void) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const stdin = process.stdin
      if (stdin.isTTY === true) {
        readline.emitKeypressEvents(stdin)
        stdin.setRawMode(true)
        const onKey = (text: string | undefined, key: Key | undefined) => {
          offer({ _tag: "Key", key: key ?? { sequence: text } })
        }
        stdin.on("keypress", onKey)
        stdin.resume()
        return () => {
          stdin.off("keypress", onKey)
          stdin.setRawMode(false)
          stdin.pause()
        }
      }
      const lines = readline.createInterface({ input: stdin, terminal: false })
      lines.on("line", (text) => offer({ _tag: "Line", text }))
      lines.on("close", () => offer({ _tag: "End" }))
      return () => {
        lines.close()
        stdin.pause()
      }
    }),
    (release) => Effect.sync(release)
  )
