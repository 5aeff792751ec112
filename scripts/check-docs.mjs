// Type-checks every ```ts example: the fenced blocks of README.md and docs/*.md, and the ```ts blocks inside
// the doc comments of packages/*/src. Part of `pnpm check`, so a broken example fails CI.
//
// Each block is a standalone module: it compiles as written against the packages' public entry points (their
// built `dist`, through their `exports` maps, exactly as a user would import them). A block that is partial on
// purpose is fenced ```ts partial and skipped. Every block is compiled from inside the workspace package that
// depends on all the `@effect-tasks/*` packages it imports, so it resolves them the way that package would.
//
// The checker also checks itself: it compiles, with the real blocks, canary blocks with known mistakes and
// fails unless it reports exactly those, at the right lines.
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"

const root = new URL("..", import.meta.url).pathname
const packagesDir = join(root, "packages")

/** A ```ts block: where it came from (file, 1-based line of its first code line), and its code. */
const block = (file, line, code) => ({ file, line, code })

/** The ```ts blocks of a markdown text; `partial` blocks are skipped. */
export const markdownBlocks = (file, text) => {
  const blocks = []
  const lines = text.split("\n")
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})\s*(ts|typescript)(?:\s+(.*))?$/.exec(lines[i])
    if (open === null) continue
    const [, indent, fence, , info = ""] = open
    const code = []
    let j = i + 1
    while (j < lines.length && !new RegExp(`^\\s*${fence}\\s*$`).test(lines[j])) {
      code.push(lines[j++].slice(indent.length))
    }
    if (!/\bpartial\b/.test(info)) blocks.push(block(file, i + 2, code.join("\n")))
    else blocks.push({ ...block(file, i + 2, code.join("\n")), partial: true })
    i = j
  }
  return blocks
}

/** The ```ts blocks inside the doc comments of a TypeScript source. */
export const docCommentBlocks = (file, text) => {
  const lines = text.split("\n")
  const blocks = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s*\*\s?(`{3,})\s*(ts|typescript)(?:\s+(.*))?$/.exec(lines[i])
    if (open === null) continue
    const [, fence, , info = ""] = open
    const code = []
    let j = i + 1
    while (j < lines.length && !new RegExp(`^\\s*\\*\\s?${fence}\\s*$`).test(lines[j])) {
      code.push(lines[j++].replace(/^\s*\*( |$)/, ""))
    }
    blocks.push({ ...block(file, i + 2, code.join("\n")), partial: /\bpartial\b/.test(info) })
    i = j
  }
  return blocks
}

/** Mistakes the formatter makes that a skipped (partial) block would otherwise keep. */
const lint = (b) => {
  const problems = []
  b.code.split("\n").forEach((text, i) => {
    // dprint formats ```ts blocks as TypeScript: outside a generator `yield* x` parses as `yield * x`.
    if (/\byield \* /.test(text)) {
      problems.push(
        `${b.file}:${
          b.line + i
        }: "yield *" outside a generator (the formatter split "yield*"): put the code inside Effect.gen`
      )
    }
  })
  return problems
}

const workspace = readdirSync(packagesDir)
  .filter((dir) => existsSync(join(packagesDir, dir, "package.json")))
  .map((dir) => {
    const json = JSON.parse(readFileSync(join(packagesDir, dir, "package.json"), "utf8"))
    const deps = new Set(Object.keys({ ...json.dependencies, ...json.devDependencies, ...json.peerDependencies }))
    return { dir: join(packagesDir, dir), name: json.name, deps }
  })

const packageName = (specifier) =>
  specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : specifier.split("/")[0]

/** The workspace package that can resolve every package the block imports (the one with the fewest dependencies). */
const hostOf = (b) => {
  const imported = [...b.code.matchAll(/(?:^|\n)\s*import\s[^"']*["']([^"'.][^"']*)["']/g)].map((m) =>
    packageName(m[1])
  )
  const own = imported.filter((name) => name.startsWith("@effect-tasks/"))
  const others = imported.filter((name) => !name.startsWith("@effect-tasks/") && !name.startsWith("node:"))
  const candidates = workspace.filter((p) =>
    own.every((name) => name === p.name || p.deps.has(name))
    && others.every((name) =>
      existsSync(join(p.dir, "node_modules", name)) || existsSync(join(root, "node_modules", name))
    )
  )
  return candidates.toSorted((a, b) => a.deps.size - b.deps.size)[0]
}

const collect = () => {
  const blocks = []
  const docs = [
    "README.md",
    ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)
  ]
  for (const file of docs) blocks.push(...markdownBlocks(file, readFileSync(join(root, file), "utf8")))
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith(".ts")) {
        blocks.push(...docCommentBlocks(relative(root, path), readFileSync(path, "utf8")))
      }
    }
  }
  for (const p of workspace) if (existsSync(join(p.dir, "src"))) walk(join(p.dir, "src"))
  return blocks
}

// Canaries: a broken block in markdown, a broken block in a doc comment, and a broken partial block that must
// be skipped. The checker must report exactly the first two, each at its own line.
const canaryMarkdown = [
  "```ts",
  "import { TaskManager } from \"@effect-tasks/core\"",
  "export const broken: number = TaskManager.layer",
  "```",
  "",
  "```ts partial",
  "export const skipped: number = \"not checked\"",
  "```"
].join("\n")
const canaryComment = ["/**", " * ```ts", " * export const late: string = 42", " * ```", " */"].join("\n")
const canaries = [...markdownBlocks("(canary).md", canaryMarkdown), ...docCommentBlocks("(canary).ts", canaryComment)]
const canaryExpected = ["(canary).md:3", "(canary).ts:3"]

// The public modules of these packages document every export with `@since` and `@category`, and their barrel
// is `export * as X` lines only, as in Effect.
const documentedPackages = ["core"]

/** Exports of a public module without a doc comment that has `@since` and `@category`. */
export const undocumentedExports = (file, text) => {
  const problems = []
  const lines = text.split("\n")
  lines.forEach((line, i) => {
    if (!/^export (declare )?(const|let|type|interface|class|function|abstract class|enum|namespace) /.test(line)) {
      return
    }
    let j = i - 1
    if (!lines[j]?.trim().endsWith("*/")) {
      problems.push(`${file}:${i + 1}: export without a doc comment`)
      return
    }
    while (j > 0 && !lines[j].trim().startsWith("/**")) j--
    const doc = lines.slice(j, i).join("\n")
    if (!doc.includes("@since") || !doc.includes("@category")) {
      problems.push(`${file}:${i + 1}: doc comment without @since and @category`)
    }
  })
  return problems
}

const surfaceProblems = () =>
  documentedPackages.flatMap((name) => {
    const dir = join(packagesDir, name, "src")
    const problems = []
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith(".ts")) continue
      const file = `packages/${name}/src/${entry.name}`
      const text = readFileSync(join(dir, entry.name), "utf8")
      if (entry.name === "index.ts") {
        for (const [i, line] of text.split("\n").entries()) {
          if (line.startsWith("export ") && !/^export \* as \w+ from "\.\/\w+\.js"$/.test(line)) {
            problems.push(`${file}:${i + 1}: the barrel has only \`export * as X from "./X.js"\` lines`)
          }
        }
      } else problems.push(...undocumentedExports(file, text))
    }
    return problems
  })

const run = () => {
  const all = [...collect(), ...canaries]
  const problems = [...all.flatMap(lint), ...surfaceProblems()]
  const checked = all.filter((b) => !b.partial)
  const byHost = new Map()
  for (const b of checked) {
    const host = hostOf(b)
    if (host === undefined) {
      problems.push(`${b.file}:${b.line}: no workspace package can resolve every package this example imports`)
      continue
    }
    if (!byHost.has(host)) byHost.set(host, [])
    byHost.get(host).push(b)
  }
  const reported = []
  for (const [host, blocks] of byHost) {
    const out = join(host.dir, ".tsbuild", "docs")
    rmSync(out, { recursive: true, force: true })
    mkdirSync(out, { recursive: true })
    const sources = new Map()
    blocks.forEach((b, i) => {
      const name = `example${i}.ts`
      sources.set(name, b)
      writeFileSync(join(out, name), `${b.code}\n`)
    })
    writeFileSync(
      join(out, "tsconfig.json"),
      JSON.stringify({
        extends: relative(out, join(root, "tsconfig.base.json")),
        compilerOptions: {
          noEmit: true,
          composite: false,
          incremental: false,
          declaration: false,
          declarationMap: false,
          noUnusedLocals: false,
          noUnusedParameters: false,
          moduleDetection: "force",
          rootDir: "."
        },
        include: ["*.ts"]
      })
    )
    let output = ""
    try {
      execFileSync(join(root, "node_modules", ".bin", "tsc"), ["-p", join(out, "tsconfig.json"), "--pretty", "false"], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"]
      })
    } catch (error) {
      output = `${error.stdout ?? ""}${error.stderr ?? ""}`
    }
    // Diagnostics name the generated file; map them back to the block's own file and line.
    for (const text of output.split("\n")) {
      const m = /(example\d+\.ts)\((\d+),(\d+)\): (.*)$/.exec(text)
      if (m === null) {
        if (text.trim() !== "" && !/^\s/.test(text)) {
          reported.push({ where: `(tsc in ${relative(root, out)})`, message: text })
        } else if (text.trim() !== "" && reported.length > 0) reported.at(-1).message += `\n${text}`
        continue
      }
      const b = sources.get(m[1])
      reported.push({ where: `${b.file}:${b.line + Number(m[2]) - 1}`, column: m[3], message: m[4] })
    }
  }
  const canaryHits = reported.filter((r) => r.where.startsWith("(canary)")).map((r) => r.where)
  const real = reported.filter((r) => !r.where.startsWith("(canary)"))
  const canaryProblems = problems.filter((p) => p.startsWith("(canary)"))
  if (JSON.stringify(canaryHits.toSorted()) !== JSON.stringify(canaryExpected) || canaryProblems.length > 0) {
    console.error(
      `check-docs: the checker no longer catches broken examples: expected errors at ${canaryExpected.join(", ")}, `
        + `got ${canaryHits.join(", ") || "none"}${
          canaryProblems.length > 0 ? ` and ${canaryProblems.join("; ")}` : ""
        }`
    )
    process.exit(1)
  }
  const failures = [
    ...problems.filter((p) => !p.startsWith("(canary)")),
    ...real.map((r) => `${r.where}${r.column === undefined ? "" : `:${r.column}`}: ${r.message}`)
  ]
  for (const failure of failures) console.error(failure)
  const skipped = all.filter((b) => b.partial && !b.file.startsWith("(canary)")).length
  const count = checked.filter((b) => !b.file.startsWith("(canary)")).length
  if (failures.length > 0) {
    console.error(`check-docs: ${failures.length} problem(s) in ${count} examples`)
    process.exit(1)
  }
  console.log(`check-docs: ${count} examples compile (${skipped} marked partial were skipped)`)
}

run()
