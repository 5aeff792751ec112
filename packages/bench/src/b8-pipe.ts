/**
 * B8's floor for a Node supervisor: `node dist/b8-pipe.js CMD` runs `sh -c CMD` with its stdout on a pipe and
 * writes every line to its own stdout after `[0] `, and does nothing else: no tasks, no guardian, no tail, no
 * follow, no `\r` handling. Whatever `tasks run` costs beyond this is the library's; this itself is what reading,
 * prefixing and writing the bytes in one Node process costs.
 */
import { spawn } from "node:child_process"
import { writeSync } from "node:fs"
import { StringDecoder } from "node:string_decoder"

const PREFIX = "[0] "
const newlines = /\n/g
const child = spawn("sh", ["-c", process.argv[2] ?? "true"], { stdio: ["ignore", "pipe", "inherit"] })
const decoder = new StringDecoder("utf8")
let pending = ""

const write = (text: string) => {
  let written = 0
  const bytes = Buffer.from(text)
  while (written < bytes.length) written += writeSync(1, bytes, written)
}

child.stdout.on("data", (chunk: Buffer) => {
  const text = decoder.write(chunk)
  const last = text.lastIndexOf("\n")
  if (last < 0) {
    pending += text
    return
  }
  const complete = pending + text.slice(0, last)
  pending = text.slice(last + 1)
  write(`${PREFIX}${complete.replace(newlines, `\n${PREFIX}`)}\n`)
})
child.stdout.on("end", () => {
  const rest = pending + decoder.end()
  if (rest.length > 0) write(`${PREFIX}${rest}\n`)
})
child.on("exit", (code) => {
  process.exitCode = code ?? 1
})
