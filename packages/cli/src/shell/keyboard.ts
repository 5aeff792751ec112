/**
 * The shell's input. On a terminal, stdin goes into raw mode (so Ctrl-C and Ctrl-D are keys, not
 * signals), bracketed paste is turned on (so a paste arrives as one piece of text), and every read goes
 * through the shell's own decoder (`decoder.ts`), which never glues an Esc to the keys typed after it.
 * Otherwise stdin is read line by line, which keeps `echo "sleep 1" | tasks shell` working. Either way the
 * terminal is restored when the scope closes.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as readline from "node:readline"
import * as Decoder from "./decoder.js"

/** One unit of input: a key or a paste (terminal), a whole line (pipe), or the end of input. */
export type Input =
  | Decoder.Input
  | { readonly _tag: "Line"; readonly text: string }
  | { readonly _tag: "End" }

/** Whether stdin is a terminal (keys) rather than a pipe or file (lines). */
export const isTerminal = (): boolean => process.stdin.isTTY === true

const BRACKETED_PASTE_ON = "\x1b[?2004h"
const BRACKETED_PASTE_OFF = "\x1b[?2004l"

/** Hands stdin's input to `offer` until the scope closes, then restores the terminal. */
export const listen = (offer: (input: Input) => void) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const stdin = process.stdin
      if (stdin.isTTY === true) {
        let decoder = Decoder.empty
        let timer: ReturnType<typeof setTimeout> | undefined
        const deliver = (decoded: Decoder.Decoded) => {
          decoder = decoded.decoder
          for (const input of decoded.inputs) offer(input)
          if (decoded.waiting) timer = setTimeout(onTimeout, Decoder.escapeTimeout)
        }
        const onTimeout = () => {
          timer = undefined
          deliver(Decoder.flush(decoder))
        }
        const onData = (chunk: string) => {
          if (timer !== undefined) clearTimeout(timer)
          timer = undefined
          deliver(Decoder.feed(decoder, chunk))
        }
        // The terminal went away (a hangup): that is the end of input.
        const onEnd = () => offer({ _tag: "End" })
        stdin.setRawMode(true)
        stdin.setEncoding("utf8")
        stdin.on("data", onData)
        stdin.on("end", onEnd)
        stdin.on("error", onEnd)
        stdin.resume()
        if (process.stdout.isTTY === true) process.stdout.write(BRACKETED_PASTE_ON)
        return () => {
          if (timer !== undefined) clearTimeout(timer)
          stdin.off("data", onData)
          stdin.off("end", onEnd)
          stdin.off("error", onEnd)
          if (process.stdout.isTTY === true) {
            try {
              process.stdout.write(BRACKETED_PASTE_OFF)
            } catch {
              // the terminal is gone
            }
          }
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
