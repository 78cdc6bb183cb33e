/**
 * The e2e box: a Debian root file system booted with systemd as PID 1 in its own PID, mount, UTS, IPC
 * and cgroup namespaces (sharing the host's kernel and network), so the agent runs under a real service
 * manager, system bus, journald and logind, and can reboot. How it works and how to debug it: docs/e2e.md.
 *
 *   const box = await Box.boot({ rootfs: await buildRootfs() });
 *   try {
 *     await box.exec(["systemctl", "start", "foo.service"]);
 *     await box.waitForUnit("foo.service", "active");
 *   } finally {
 *     await box.destroy();   // always: kills PID 1, unmounts, removes the run's disk
 *   }
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { constants } from "node:os";
import { basename, join } from "node:path";
import {
  freshBoxCgroup,
  killCgroup,
  mountRunDisk,
  removeCgroupTree,
  removeCgroupTreeEventually,
  sweepStaleRuns,
  unmountRunDisk,
  type RunRecord,
} from "./box-host.js";
import { childrenOf, commOf, execInBox, exitCodeOf, launchBox, sleep, within, type ExecResult } from "./box-process.js";
import { buildRootfs, defaultCacheDir, REPO_ROOT } from "./rootfs.js";

export type { ExecResult } from "./box-process.js";

const BOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** Where the checkout is bound (read-only) inside the box. */
export const REPO_IN_BOX = "/opt/update-agent";
/** glibc's SIGRTMIN is 34; systemd powers off on SIGRTMIN+4. Node has no name for it. */
const SIGRTMIN_PLUS_4 = 38;
export const EXIT_REBOOT = 128 + constants.signals.SIGHUP; // 129: the kernel's answer to reboot() in a PID namespace
export const EXIT_POWEROFF = 128 + constants.signals.SIGINT; // 130: to power-off and halt

export interface BindMount {
  source: string;
  target: string;
  readOnly?: boolean;
}

export interface BootOptions {
  /** The cached tree from buildRootfs(); built (or found) when absent. */
  rootfs?: string;
  cacheDir?: string;
  /** Bound before systemd starts, at every boot. */
  binds?: BindMount[];
  /** Bind the checkout read-only at /opt/update-agent (default true). */
  repo?: boolean;
  /** Environment of every unit (systemd's DefaultEnvironment=) and of every exec(). */
  env?: Record<string, string>;
  /** Boot timeout, up to `systemctl is-system-running --wait` (default 60 s). */
  bootTimeoutMs?: number;
  /** Keep the run's directory (its disk, console log) after destroy(). Default: $UPDATE_AGENT_E2E_KEEP=1. */
  keep?: boolean;
  /** The run's name (its directory under <cache>/runs). Default: unique. */
  name?: string;
}

export interface ExecOptions {
  /** Run as this user (runuser -u), default root. */
  user?: string;
  input?: string | Buffer;
  env?: Record<string, string>;
  /** Default 60 s; the command (and what it started in the box) is killed then. */
  timeoutMs?: number;
}

const liveBoxes = new Set<Box>();
let sweptRuns = false;
let exitHookInstalled = false;

export class Box {
  readonly name: string;
  readonly runDir: string;
  /** The box's root directory, as the host sees it. */
  readonly root: string;
  readonly rootfs: string;
  readonly cgroup: string;
  /** The exit code of each boot so far (129 reboot, 130 power-off, 137 killed). */
  readonly exits: number[] = [];
  private launcher: ChildProcess | undefined;
  private pid1: number | undefined;
  private exited: Promise<number> = Promise.resolve(0);
  private destroyed = false;
  private bootCount = 0;

  private constructor(
    rootfs: string,
    runDir: string,
    private readonly options: BootOptions,
  ) {
    this.rootfs = rootfs;
    this.runDir = runDir;
    this.name = basename(runDir);
    this.root = join(runDir, "root");
    this.cgroup = freshBoxCgroup(this.name);
  }

  /** Creates the run's disk and boots it; resolves once systemd reports running (or degraded). */
  static async boot(options: BootOptions = {}): Promise<Box> {
    if (process.getuid?.() !== 0) throw new Error("the e2e box needs root (namespaces, mounts, cgroups)");
    const cacheDir = options.cacheDir ?? defaultCacheDir();
    const rootfs = options.rootfs ?? (await buildRootfs({ cacheDir }));
    const runsDir = join(cacheDir, "runs");
    if (!sweptRuns) {
      sweptRuns = true;
      sweepStaleRuns(runsDir);
    }
    const name = options.name ?? `box-${process.pid}-${randomBytes(3).toString("hex")}`;
    const runDir = join(runsDir, name);
    mkdirSync(runDir, { recursive: true });
    const box = new Box(rootfs, runDir, options);
    liveBoxes.add(box);
    installExitHook();
    try {
      const overlay = mountRunDisk(rootfs, runDir);
      const record: RunRecord = { name, ownerPid: process.pid, cgroup: box.cgroup, root: box.root, overlay, createdAt: new Date().toISOString() };
      writeFileSync(join(runDir, "box.json"), JSON.stringify(record, null, 1));
      box.prepareDisk();
      const state = await box.bootAgain();
      if (state !== "running" && state !== "degraded") {
        const failed = box.running ? (await box.exec(["systemctl", "--failed", "--no-legend"])).stdout : box.consoleLog().slice(-4_000);
        throw new Error(`box ${name} booted into state ${state}:\n${failed}`);
      }
    } catch (error) {
      await box.destroy();
      throw error;
    }
    return box;
  }

  /** The host pid of the box's PID 1 (systemd) in the current boot. */
  get pid(): number {
    if (this.pid1 === undefined) throw new Error(`box ${this.name} is not running`);
    return this.pid1;
  }

  get running(): boolean {
    return this.pid1 !== undefined;
  }

  /** How many times the box booted. */
  get boots(): number {
    return this.bootCount;
  }

  /** What the box's consoles said (box-init.sh, and systemd before journald was up). */
  consoleLog(): string {
    try {
      return readFileSync(join(this.runDir, "console.log"), "utf8");
    } catch {
      return "";
    }
  }

  private prepareDisk(): void {
    // Per run, so two runs never share a machine id; kept across the run's reboots.
    writeFileSync(join(this.root, "etc/machine-id"), `${randomBytes(16).toString("hex")}\n`);
    const env = Object.entries(this.options.env ?? {});
    if (env.length > 0) {
      const quoted = env.map(([k, v]) => `"${k}=${v.replace(/(["\\])/g, "\\$1")}"`).join(" ");
      writeFileSync(join(this.root, "etc/systemd/system.conf.d/20-e2e-env.conf"), `[Manager]\nDefaultEnvironment=${quoted}\n`);
    }
  }

  /**
   * Boots the box's disk again: after a reboot (exit 129), or after a power-off to power it on.
   * Resolves with the state the boot reached (see waitForRunning()).
   */
  async bootAgain(): Promise<string> {
    if (this.destroyed) throw new Error(`box ${this.name} was destroyed`);
    if (this.launcher && this.launcher.exitCode === null && this.launcher.signalCode === null) throw new Error(`box ${this.name} is running`);
    await removeCgroupTreeEventually(this.cgroup);
    mkdirSync(this.cgroup, { recursive: true });
    const bootIdFile = join(this.runDir, "boot_id");
    writeFileSync(bootIdFile, `${randomUUID()}\n`);
    const binds = [...(this.options.repo === false ? [] : [{ source: REPO_ROOT, target: REPO_IN_BOX, readOnly: true }]), ...(this.options.binds ?? [])];
    const launcher = launchBox({
      cgroup: this.cgroup,
      root: this.root,
      bootIdFile,
      binds,
      consoleLog: join(this.runDir, "console.log"),
      banner: `--- boot ${this.bootCount + 1} at ${new Date().toISOString()}\n`,
    });
    this.launcher = launcher;
    this.bootCount++;
    this.exited = new Promise<number>((resolve) => {
      launcher.once("exit", (code, signal) => {
        const status = exitCodeOf(code, signal);
        this.exits.push(status);
        this.pid1 = undefined;
        resolve(status);
      });
      launcher.once("error", () => resolve(127));
    });
    const timeoutMs = this.options.bootTimeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    // PID 1 is box-init.sh until it execs systemd.
    while (this.pid1 === undefined) {
      const child = launcher.pid === undefined ? undefined : childrenOf(launcher.pid)[0];
      if (child !== undefined && commOf(child) === "systemd") this.pid1 = child;
      else if (launcher.exitCode !== null || launcher.signalCode !== null || Date.now() > deadline) {
        await within(this.exited, 1_000);
        throw new Error(`box ${this.name} did not start systemd (exit ${this.exits.at(-1) ?? "none yet"}):\n${this.consoleLog().slice(-4_000)}`);
      } else await sleep(20);
    }
    return this.waitForRunning(Math.max(1_000, deadline - Date.now()));
  }

  /**
   * `systemctl is-system-running --wait`, retried while the manager is not reachable yet: "running" or
   * "degraded" once booted, "stopping" when a shutdown began meanwhile, "down" when PID 1 already exited.
   */
  async waitForRunning(timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running) return "down";
      const left = deadline - Date.now();
      const { stdout } = await this.exec(["systemctl", "is-system-running", "--wait"], { timeoutMs: Math.max(left, 500) });
      const state = stdout.trim();
      if (["running", "degraded", "maintenance", "stopping"].includes(state)) return state;
      if (!this.running) return "down";
      if (Date.now() > deadline) throw new Error(`box ${this.name} not up in ${timeoutMs} ms (is-system-running: "${state}")`);
      await sleep(100);
    }
  }

  /**
   * Runs a command inside the box (all its namespaces and its root), with a clean environment.
   * `code` is the command's exit status, 128+N when signal N ended it, 137 when the box went down
   * under it (a reboot kills everything).
   */
  async exec(cmd: string[], options: ExecOptions = {}): Promise<ExecResult> {
    const pid = this.pid;
    const env = { PATH: BOX_PATH, LANG: "C.UTF-8", HOME: "/root", ...this.options.env, ...options.env };
    const asUser = options.user && options.user !== "root" ? ["/usr/sbin/runuser", "-u", options.user, "--"] : [];
    const command = ["/usr/bin/env", "-i", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...asUser, ...cmd];
    return execInBox(pid, command, {
      input: options.input,
      timeoutMs: options.timeoutMs ?? 60_000,
      // The command's process group, by its pid inside the box: killed from inside on a timeout.
      kill: (pgid) => (this.running ? this.exec(["kill", "-KILL", "--", `-${pgid}`]).then(() => {}) : Promise.resolve()),
    });
  }

  /** exec() that must succeed; returns its stdout. */
  async run(cmd: string[], options: ExecOptions = {}): Promise<string> {
    const result = await this.exec(cmd, options);
    if (result.code !== 0) throw new Error(`in box ${this.name}: ${cmd.join(" ")} exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`);
    return result.stdout;
  }

  /** `systemctl show UNIT -p …` as a record. */
  async systemctlShow(unit: string, props: string[]): Promise<Record<string, string>> {
    const stdout = await this.run(["systemctl", "show", unit, ...props.flatMap((p) => ["-p", p])]);
    const out: Record<string, string> = {};
    for (const line of stdout.split("\n")) {
      const eq = line.indexOf("=");
      if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
    }
    return out;
  }

  /**
   * Waits until the unit's ActiveState or SubState is `state` ("active", "running", "failed", …).
   * On timeout the error carries `systemctl status` and the unit's journal.
   */
  async waitForUnit(unit: string, state: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = await this.systemctlShow(unit, ["ActiveState", "SubState"]);
      if (now.ActiveState === state || now.SubState === state) return;
      if (Date.now() > deadline) {
        const status = await this.exec(["systemctl", "status", "--no-pager", "-n", "30", unit]);
        throw new Error(`${unit} is ${now.ActiveState}/${now.SubState}, not ${state}, after ${timeoutMs} ms:\n${status.stdout}${status.stderr}`);
      }
      await sleep(100);
    }
  }

  /** The journal (every boot of this run unless `thisBoot`), of one unit or of everything. */
  async journal(unit?: string, options: { thisBoot?: boolean; output?: string } = {}): Promise<string> {
    const args = ["journalctl", "--no-pager", "-q", "-o", options.output ?? "short-iso"];
    if (options.thisBoot) args.push("-b");
    if (unit) args.push("-u", unit);
    return this.run(args);
  }

  /** Waits for a journal line matching `pattern` (journald writes asynchronously). */
  async waitForJournal(unit: string | undefined, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = await this.journal(unit, { output: "cat" });
      const line = text.split("\n").find((l) => pattern.test(l));
      if (line !== undefined) return line;
      if (Date.now() > deadline) throw new Error(`no journal line matching ${pattern} for ${unit ?? "the box"} in ${timeoutMs} ms:\n${text.slice(-3_000)}`);
      await sleep(200);
    }
  }

  /** Resolves with the current boot's exit status: 129 after a reboot, 130 after a power-off. */
  waitForExit(): Promise<number> {
    return this.exited;
  }

  /** Reboots from inside (`systemctl reboot`), then boots the same disk again. */
  async reboot(): Promise<void> {
    await this.exec(["systemctl", "reboot"]);
    const status = await this.waitForExit();
    if (status !== EXIT_REBOOT) throw new Error(`box ${this.name}: systemctl reboot ended PID 1 with ${status}, not ${EXIT_REBOOT}`);
    await this.bootAgain();
  }

  /**
   * Follows the box through its reboots until it powers off (or ends otherwise): every 129 boots it
   * again, calling `onReboot(n)` when boot n ended and `onBoot(n + 1, state)` once the next one is up
   * (state as from waitForRunning()). Resolves with the final exit status (130 for a power-off).
   */
  async runUntilPoweroff(
    options: {
      onReboot?: (boot: number) => void | Promise<void>;
      onBoot?: (boot: number, state: string) => void | Promise<void>;
      maxBoots?: number;
    } = {},
  ): Promise<number> {
    const maxBoots = options.maxBoots ?? 20;
    for (;;) {
      const status = await this.waitForExit();
      if (status !== EXIT_REBOOT || this.destroyed) return status;
      if (this.bootCount >= maxBoots) throw new Error(`box ${this.name} rebooted ${this.bootCount} times (a reboot loop?)`);
      await options.onReboot?.(this.bootCount);
      const state = await this.bootAgain();
      await options.onBoot?.(this.bootCount, state);
    }
  }

  /** Powers off: `systemctl poweroff` inside, or SIGRTMIN+4 to PID 1 from outside. Returns the exit status. */
  async poweroff(options: { fromOutside?: boolean } = {}): Promise<number> {
    if (options.fromOutside) process.kill(this.pid, SIGRTMIN_PLUS_4);
    else await this.exec(["systemctl", "poweroff"]);
    return this.waitForExit();
  }

  /** Copies a host file or directory to `boxPath` (a directory's contents go into `boxPath`). */
  async copyIn(hostPath: string, boxPath: string, options: { mode?: number } = {}): Promise<void> {
    if (statSync(hostPath).isDirectory()) {
      const tar = await new Promise<Buffer>((resolve, reject) => {
        const child = spawn("tar", ["-C", hostPath, "-cf", "-", "."], { stdio: ["ignore", "pipe", "inherit"] });
        const chunks: Buffer[] = [];
        child.stdout.on("data", (d: Buffer) => chunks.push(d));
        child.once("error", reject);
        child.once("close", (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`tar of ${hostPath} failed (${code})`))));
      });
      await this.run(["sh", "-c", 'mkdir -p "$1" && tar --no-same-owner -C "$1" -xf -', "copy-in", boxPath], { input: tar });
      return;
    }
    const mode = options.mode ?? statSync(hostPath).mode & 0o7777;
    await this.writeFile(boxPath, readFileSync(hostPath), { mode });
  }

  async writeFile(boxPath: string, content: string | Buffer, options: { mode?: number; owner?: string } = {}): Promise<void> {
    const mode = (options.mode ?? 0o644).toString(8);
    await this.run(["sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1" && chmod "$2" "$1" && { [ -z "$3" ] || chown "$3" "$1"; }', "write", boxPath, mode, options.owner ?? ""], {
      input: content,
    });
  }

  async readFile(boxPath: string): Promise<string> {
    return this.run(["cat", boxPath]);
  }

  private killEverything(): void {
    killCgroup(this.cgroup);
    if (this.pid1 === undefined) return;
    try {
      process.kill(this.pid1, "SIGKILL");
    } catch {
      // already gone
    }
  }

  /** Kills PID 1 (and so everything in the box), removes its cgroup, unmounts and removes its disk. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    this.killEverything();
    await within(this.exited, 10_000);
    await removeCgroupTreeEventually(this.cgroup).catch((error: Error) => process.stderr.write(`e2e box: ${error.message}\n`));
    unmountRunDisk(this.root);
    this.removeOrKeepRunDir();
    liveBoxes.delete(this);
  }

  /** The synchronous last resort, when the test process exits with the box still up. */
  destroyNow(): void {
    this.destroyed = true;
    this.killEverything();
    unmountRunDisk(this.root);
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (let i = 0; i < 20 && !removeCgroupTree(this.cgroup); i++) Atomics.wait(pause, 0, 0, 50);
    // What is left (the kill had not landed) is for the next run's sweep.
    this.removeOrKeepRunDir();
  }

  private removeOrKeepRunDir(): void {
    if (!(this.options.keep ?? process.env.UPDATE_AGENT_E2E_KEEP === "1")) {
      rmSync(this.runDir, { recursive: true, force: true });
      return;
    }
    const path = join(this.runDir, "box.json");
    try {
      const record = JSON.parse(readFileSync(path, "utf8")) as RunRecord;
      writeFileSync(path, JSON.stringify({ ...record, kept: true }, null, 1));
    } catch {
      // no record: the run failed before its disk existed; nothing worth keeping
    }
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const destroyAll = () => {
    for (const box of liveBoxes) box.destroyNow();
  };
  process.once("exit", destroyAll);
  // Killed by a signal, Node runs no exit handlers: clean up, then die of the same signal.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      destroyAll();
      process.kill(process.pid, signal);
    });
  }
}
