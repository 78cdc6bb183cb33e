/**
 * The host side of the e2e box: its cgroup, its overlay "disk", and the clean-up of runs whose test
 * process died without destroying its box. See docs/e2e.md.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Everything the boxes create in the cgroup2 hierarchy lives under this group. */
const CGROUP_GROUP = "update-agent-e2e";
const PRIVATE_CGROUP2_MOUNT = "/run/update-agent-e2e/cgroup2";

/** What a run records about itself (runs/<name>/box.json), for the clean-up of stale runs. */
export interface RunRecord {
  name: string;
  ownerPid: number;
  cgroup: string;
  root: string;
  overlay: boolean;
  createdAt: string;
  /** Kept on purpose (UPDATE_AGENT_E2E_KEEP=1): the sweep leaves it alone. */
  kept?: boolean;
}

function mountInfo(): { target: string; fstype: string }[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const fields = line.split(" ");
      const dash = fields.indexOf("-");
      return { target: unescapeMount(fields[4] ?? ""), fstype: fields[dash + 1] ?? "" };
    });
}

function unescapeMount(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function isMountPoint(path: string): boolean {
  return mountInfo().some((m) => m.target === path);
}

/**
 * A cgroup2 hierarchy the box's cgroup can go in: the host's (`/sys/fs/cgroup` on a unified host,
 * `/sys/fs/cgroup/unified` on a hybrid one), else a private mount of our own (pure cgroup v1 hosts).
 */
export function cgroup2Root(): string {
  const found = mountInfo().find((m) => m.fstype === "cgroup2");
  if (found) return found.target;
  mkdirSync(PRIVATE_CGROUP2_MOUNT, { recursive: true });
  if (!isMountPoint(PRIVATE_CGROUP2_MOUNT)) mustRun("mount", ["-t", "cgroup2", "cgroup2", PRIVATE_CGROUP2_MOUNT]);
  return PRIVATE_CGROUP2_MOUNT;
}

/** An empty cgroup for one box, `<cgroup2>/update-agent-e2e/<name>`. */
export function freshBoxCgroup(name: string): string {
  const path = join(cgroup2Root(), CGROUP_GROUP, name);
  if (existsSync(path)) removeCgroupTree(path);
  mkdirSync(path, { recursive: true });
  return path;
}

/** SIGKILLs every process in the cgroup and below (cgroup.kill, or one by one on kernels before 5.14). */
export function killCgroup(path: string): void {
  if (!existsSync(path)) return;
  try {
    writeFileSync(join(path, "cgroup.kill"), "1");
    return;
  } catch {
    // no cgroup.kill: fall through
  }
  for (const dir of cgroupTree(path)) {
    const procs = readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter((p) => p !== "");
    for (const pid of procs) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // gone already
      }
    }
  }
}

/** The cgroup and its descendants, deepest first. */
function cgroupTree(path: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.isDirectory()) out.push(...cgroupTree(join(path, entry.name)));
  }
  out.push(path);
  return out;
}

/** Removes a cgroup and everything below it; true when it is gone (its processes must have exited). */
export function removeCgroupTree(path: string): boolean {
  if (!existsSync(path)) return true;
  try {
    for (const dir of cgroupTree(path)) rmdirSync(dir);
    return true;
  } catch {
    return false;
  }
}

export async function removeCgroupTreeEventually(path: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!removeCgroupTree(path)) {
    if (Date.now() > deadline) throw new Error(`cannot remove the box's cgroup ${path}: processes are still in it`);
    killCgroup(path);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The run's disk: an overlay of the cached tree (never written) and the run's own upper directory.
 * Where the run directory cannot hold an overlay upper dir (it is itself on overlayfs, as in some
 * containers), the tree is copied instead (slower, about 300 MB). Returns whether it is an overlay.
 */
export function mountRunDisk(rootfs: string, runDir: string): boolean {
  const [upper, work, root] = ["upper", "work", "root"].map((d) => join(runDir, d)) as [string, string, string];
  for (const dir of [upper, work, root]) mkdirSync(dir, { recursive: true });
  const options = `lowerdir=${rootfs},upperdir=${upper},workdir=${work}`;
  const result = spawnSync("mount", ["-t", "overlay", "overlay", "-o", options, root], { encoding: "utf8" });
  if (result.status === 0) return true;
  process.stderr.write(`e2e box: overlay mount failed (${result.stderr.trim()}); copying the root file system instead\n`);
  mustRun("cp", ["-a", "--reflink=auto", `${rootfs}/.`, root]);
  return false;
}

export function unmountRunDisk(root: string): void {
  if (!isMountPoint(root)) return;
  const result = spawnSync("umount", [root], { encoding: "utf8" });
  if (result.status !== 0) spawnSync("umount", ["-l", root]);
}

/** True while a process with this pid exists (EPERM: it exists, it is just not ours). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Kills and removes the runs under `runsDir` whose test process is gone (it crashed or was killed). */
export function sweepStaleRuns(runsDir: string): void {
  if (!existsSync(runsDir)) return;
  for (const name of readdirSync(runsDir)) {
    const dir = join(runsDir, name);
    let record: RunRecord | undefined;
    try {
      record = JSON.parse(readFileSync(join(dir, "box.json"), "utf8")) as RunRecord;
    } catch {
      record = undefined;
    }
    // A run without its record is being created right now (box.json is written first), or is debris.
    if (!record && Date.now() - statSync(dir).mtimeMs < 5 * 60_000) continue;
    if (record && (record.kept || pidAlive(record.ownerPid))) continue;
    if (record) {
      killCgroup(record.cgroup);
      removeCgroupTree(record.cgroup);
    }
    unmountRunDisk(join(dir, "root"));
    if (!isMountPoint(join(dir, "root"))) rmSync(dir, { recursive: true, force: true });
  }
}

function mustRun(command: string, args: string[]): void {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr || result.error?.message}`);
}
