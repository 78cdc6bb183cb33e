/**
 * The e2e box's root file system: a Debian bookworm minbase tree with systemd, dbus and python3-gi,
 * built by debootstrap once and cached. The cache key is a hash of the recipe (suite, packages and
 * the customize script), so editing the recipe rebuilds the tree, and nothing else does.
 * Boxes never write to the cached tree: each run boots from an overlay on top of it (box.ts).
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { pidAlive } from "./box-host.js";

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = join(HERE, "..", "..");
export const CUSTOMIZE_SCRIPT = join(HERE, "rootfs-customize.sh");

/** What goes into the tree. Changing anything here (or in rootfs-customize.sh) changes the cache key. */
export const ROOTFS_RECIPE = {
  suite: "bookworm",
  variant: "minbase",
  packages: [
    "systemd",
    "systemd-sysv",
    "dbus",
    // The rpm-ostreed simulator runs inside the box on Debian's python3 with GObject introspection.
    "python3",
    "python3-gi",
    "gir1.2-glib-2.0",
    // setpriv/runuser (util-linux is essential, listed for clarity), ps/pgrep.
    "util-linux",
    "procps",
    // logind asks polkit before it reboots for an unprivileged caller (the agent's "boot this release again"),
    // and the agent's package installs a polkit rule: the scenarios run them in the real polkitd. polkitd
    // depends on a logind package; libpam-systemd is the one that provides it (systemd has the daemon).
    "polkitd",
    "libpam-systemd",
  ],
} as const;

export const DEFAULT_MIRROR = "http://deb.debian.org/debian";
const DEBOOTSTRAP_TIMEOUT_MS = 15 * 60_000;
const LOCK_WAIT_MS = 20 * 60_000;

export interface BuildRootfsOptions {
  /** Default: defaultCacheDir(). */
  cacheDir?: string;
  /** Default: $UPDATE_AGENT_E2E_MIRROR or deb.debian.org. Not part of the cache key. */
  mirror?: string;
  /** debootstrap's output goes here (default: a log file next to the tree). */
  log?: (line: string) => void;
}

/** `$UPDATE_AGENT_E2E_CACHE`, else `.cache/e2e/` in the checkout (gitignored). */
export function defaultCacheDir(): string {
  return process.env.UPDATE_AGENT_E2E_CACHE || join(REPO_ROOT, ".cache", "e2e");
}

export function recipeKey(): string {
  const hash = createHash("sha256");
  hash.update(JSON.stringify(ROOTFS_RECIPE));
  hash.update(readFileSync(CUSTOMIZE_SCRIPT));
  return hash.digest("hex").slice(0, 16);
}

/**
 * Returns the path of the cached root file system for the current recipe, building it first when it is
 * missing (about a minute and 250 MB). Concurrent callers (parallel test files) wait for one build.
 * Older trees (other recipes) are removed once the new one is in place.
 */
export async function buildRootfs(options: BuildRootfsOptions = {}): Promise<string> {
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  mkdirSync(cacheDir, { recursive: true });
  const key = recipeKey();
  const rootfs = join(cacheDir, `rootfs-${key}`);
  const marker = `${rootfs}.done`;
  if (existsSync(marker)) return rootfs;

  const unlock = await lock(join(cacheDir, "rootfs.lock"));
  try {
    if (existsSync(marker)) return rootfs;
    const building = `${rootfs}.building`;
    rmSync(building, { recursive: true, force: true });
    rmSync(rootfs, { recursive: true, force: true });
    const logPath = `${rootfs}.log`;
    writeFileSync(logPath, "");
    const log = options.log ?? ((line: string) => writeFileSync(logPath, line, { flag: "a" }));
    const mirror = options.mirror ?? (process.env.UPDATE_AGENT_E2E_MIRROR || DEFAULT_MIRROR);
    const { suite, variant, packages } = ROOTFS_RECIPE;
    // Downloaded .debs are kept (debootstrap checks them against the mirror's index): a recipe change
    // then costs the unpacking, not the download.
    const debs = join(cacheDir, "debs");
    mkdirSync(debs, { recursive: true });
    const args = [`--variant=${variant}`, `--include=${packages.join(",")}`, `--cache-dir=${debs}`, suite, building, mirror];
    log(`${new Date().toISOString()} debootstrap ${args.join(" ")}\n`);
    requireDebootstrap();
    // In a mount namespace of its own: the /proc and /sys debootstrap mounts in the tree cannot outlive
    // it, even if it is killed half-way (and then `rm -rf` of the tree cannot reach the host's).
    await run("unshare", ["--mount", "--propagation", "private", "debootstrap", ...args], log, logPath);
    log(`${new Date().toISOString()} customizing\n`);
    await run("/bin/sh", [CUSTOMIZE_SCRIPT, building], log, logPath);
    renameSync(building, rootfs);
    writeFileSync(marker, JSON.stringify({ recipe: ROOTFS_RECIPE, key, builtAt: new Date().toISOString() }, null, 1));
    for (const name of readdirSync(cacheDir)) {
      if (name.startsWith("rootfs-") && !name.startsWith(`rootfs-${key}`) && name !== "rootfs.lock") rmSync(join(cacheDir, name), { recursive: true, force: true });
    }
    return rootfs;
  } finally {
    unlock();
  }
}

function requireDebootstrap(): void {
  const dirs = (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/sbin"]);
  if (!dirs.some((dir) => dir !== "" && existsSync(join(dir, "debootstrap")))) {
    throw new Error("debootstrap is not installed; the e2e box's root file system is built with it (apt-get install debootstrap)");
  }
}

function run(command: string, args: string[], log: (line: string) => void, logPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let tail = "";
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], timeout: DEBOOTSTRAP_TIMEOUT_MS });
    const onData = (d: Buffer) => {
      const text = d.toString();
      tail = (tail + text).slice(-4_000);
      log(text);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("error", (error) => reject(new Error(`cannot run ${command}: ${error.message}`)));
    child.once("exit", (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(" ")} failed (${code ?? signal}); full log: ${logPath}\n${tail}`));
    });
  });
}

/** An exclusive lock file holding the owner's pid; a lock whose owner died is taken over. */
async function lock(path: string): Promise<() => void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    let text: string;
    try {
      text = readFileSync(path, "utf8").trim();
    } catch {
      continue; // released meanwhile
    }
    const owner = Number(text);
    // An empty file is a lock being taken right now; a pid that is gone is a crashed owner.
    const since = statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? 0;
    const stale = text === "" ? Date.now() - since > 10_000 : !(owner > 0 && pidAlive(owner));
    if (stale) {
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${path} is held by pid ${owner} for too long (a stuck rootfs build?)`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}
