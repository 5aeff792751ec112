/**
 * Finding the cgroup hierarchy in every layout (pure v2, hybrid, a container's bind-mounted subtree, none), the
 * names of manager cgroups, and the entry shell's command line, on texts as the kernel writes them; the entry
 * shell and command resolution on the real machine.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Cgroup from "../src/internal/Cgroup.js"

const HYBRID_MOUNTS = [
  "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
  "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
  "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids",
  "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd",
  "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw"
].join("\n")

const HYBRID_SELF = [
  "9:name=systemd:/",
  "8:pids:/",
  "4:memory:/jobs/42",
  "0::/"
].join("\n")

describe("locateIn", () => {
  it("hybrid: v2 at /sys/fs/cgroup/unified, v1 pids and memory beside it", () => {
    const location = Cgroup.locateIn(HYBRID_MOUNTS, HYBRID_SELF)
    expect(location).toEqual({
      mount: expect.objectContaining({ mountPoint: "/sys/fs/cgroup/unified", mountRoot: "/" }),
      favordynmods: false,
      base: "/sys/fs/cgroup/unified",
      own: "/sys/fs/cgroup/unified",
      v1: new Map([
        ["pids", { mount: expect.objectContaining({ mountPoint: "/sys/fs/cgroup/pids" }), own: "/sys/fs/cgroup/pids" }],
        [
          "memory",
          {
            mount: expect.objectContaining({ mountPoint: "/sys/fs/cgroup/memory" }),
            own: "/sys/fs/cgroup/memory/jobs/42"
          }
        ]
      ])
    })
  })

  it("pure v2 in a delegated systemd scope: the scope is where managers go", () => {
    const location = Cgroup.locateIn(
      "29 22 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,favordynmods,memory_recursiveprot",
      "0::/user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope"
    )
    expect("unavailable" in location).toBe(false)
    if ("unavailable" in location) return
    expect(location.own).toBe("/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope")
    expect(location.base).toBe(location.own)
    expect(location.favordynmods).toBe(true)
    expect(location.v1.size).toBe(0)
  })

  it("a container that bind-mounts its own subtree: the mount's root is stripped", () => {
    const location = Cgroup.locateIn(
      "700 650 0:26 /docker/abc /sys/fs/cgroup ro,nosuid - cgroup2 cgroup rw",
      "0::/docker/abc/init"
    )
    if ("unavailable" in location) throw new Error(location.unavailable)
    expect(location.own).toBe("/sys/fs/cgroup/init")
  })

  it("a mount point with a space (escaped as \\040 in mountinfo)", () => {
    const location = Cgroup.locateIn("41 31 0:38 / /mnt/cgroup\\040v2 rw - cgroup2 cgroup2 rw", "0::/a")
    if ("unavailable" in location) throw new Error(location.unavailable)
    expect(location.own).toBe("/mnt/cgroup v2/a")
  })

  it("no v2 hierarchy, or this process outside the mounted one: unavailable, with the reason", () => {
    expect(Cgroup.locateIn("35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory", "4:memory:/")).toEqual({
      unavailable: "no cgroup v2 hierarchy is mounted"
    })
    expect(Cgroup.locateIn("700 650 0:26 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup rw", "0::/other")).toEqual({
      unavailable: "this process's cgroup is not visible in the mounted cgroup v2 hierarchy"
    })
  })

  it("a root that is not in a cgroup v2 file system is refused", () => {
    const dir = mkdtempSync(join(tmpdir(), "effect-tasks-not-cgroup-"))
    try {
      expect(Cgroup.locateIn(HYBRID_MOUNTS, HYBRID_SELF, dir)).toEqual({
        unavailable: `${dir} is not in a cgroup v2 file system`
      })
    } finally {
      rmSync(dir, { recursive: true })
    }
  })
})

describe("manager names", () => {
  it("carry the host's identity, and nothing else parses as one", () => {
    expect(Cgroup.managerHost("effect-tasks-123-4567-ab12cd34")).toEqual({
      pid: 123,
      startTime: 4567,
      journaled: false
    })
    expect(Cgroup.managerHost("effect-tasks-123-4567-ab12cd34-journal")).toEqual({
      pid: 123,
      startTime: 4567,
      journaled: true
    })
    expect(Cgroup.managerHost("effect-tasks-test-123-ab")).toBeUndefined()
    expect(Cgroup.managerHost("effect-tasks-floor-123")).toBeUndefined()
    expect(Cgroup.managerHost("t1")).toBeUndefined()
  })
})

describe("the entry shell", () => {
  const task: Cgroup.TaskCgroup = { dir: "/cg/m/t1", path: "/m/t1", v1: ["/v1/pids/m/t1"], spawns: 1 }
  const leaf = { dir: "/cg/m/t1/s1", path: "/m/t1/s1" }

  it("enters the leaf and every v1 cgroup of the task, restores PWD, then execs the command with its argv", () => {
    const args = Cgroup.entryArguments(leaf, task, "printf", ["%s|", "a b", "'q'", "$HOME"], { PWD: "/it's" })
    expect(args.slice(2)).toEqual(["effect-tasks-entry", "printf", "%s|", "a b", "'q'", "$HOME"])
    expect(args[1]).toBe(
      "echo $$ >'/cg/m/t1/s1/cgroup.procs' && echo $$ >'/v1/pids/m/t1/cgroup.procs' || exit 125; " +
        "PWD='/it'\\''s'; exec \"$@\""
    )
    expect(Cgroup.entryArguments(leaf, task, "true", [], {})[1]).toContain("unset PWD;")
  })

  it("runs the command unchanged (argv, environment), or exits 125 without running it when it cannot enter", () => {
    const dir = mkdtempSync(join(tmpdir(), "effect-tasks-entry-"))
    try {
      // A plain directory stands in for the cgroup: the shell's write to cgroup.procs works the same way.
      const fake = { dir, path: "/fake" }
      const fakeTask: Cgroup.TaskCgroup = { ...fake, v1: [], spawns: 0 }
      const args = Cgroup.entryArguments(fake, fakeTask, "/usr/bin/env", [], { ONLY: "x" })
      const out = execFileSync("/bin/sh", args, { env: { ONLY: "x" }, encoding: "utf8" })
      expect(out).toBe("ONLY=x\n")
      const missing = { dir: join(dir, "missing"), path: "/missing" }
      const failing = Cgroup.entryArguments(missing, { ...missing, v1: [], spawns: 0 }, "/bin/echo", ["ran"], {})
      let status: number | null = null
      try {
        execFileSync("/bin/sh", failing, { stdio: "pipe" })
      } catch (error) {
        status = (error as { status: number | null }).status
      }
      expect(status).toBe(125)
    } finally {
      rmSync(dir, { recursive: true })
    }
  })
})

describe("resolveCommand", () => {
  it("finds what execvp would (PATH of the child, a path relative to cwd), or says ENOENT / EACCES", () => {
    const dir = mkdtempSync(join(tmpdir(), "effect-tasks-resolve-"))
    try {
      writeFileSync(join(dir, "tool"), "#!/bin/sh\n")
      chmodSync(join(dir, "tool"), 0o755)
      writeFileSync(join(dir, "data"), "x")
      expect(Cgroup.resolveCommand("tool", { PATH: `/nonexistent:${dir}` }, undefined)).toEqual({
        path: join(dir, "tool")
      })
      expect(Cgroup.resolveCommand("./tool", {}, dir)).toEqual({ path: join(dir, "tool") })
      expect(Cgroup.resolveCommand("data", { PATH: dir }, undefined)).toEqual({ code: "EACCES" })
      expect(Cgroup.resolveCommand("nope", { PATH: dir }, undefined)).toEqual({ code: "ENOENT" })
      expect(Cgroup.resolveCommand("sh", {}, undefined)).toEqual({ path: expect.stringMatching(/\/sh$/) })
      // A directory is not a command.
      expect(Cgroup.resolveCommand(dir, {}, undefined)).toEqual({ code: "EACCES" })
    } finally {
      rmSync(dir, { recursive: true })
    }
  })
})
