/**
 * Starts and drives the rpm-ostreed simulator (tests/sim/rpm-ostreed-sim.py) for tests, the demo and
 * the e2e box. Usage and every knob: docs/simulator.md.
 *
 *   const bus = await startPrivateBus();
 *   const sim = await startSimulator({ busAddress: bus.address, booted: {...}, available: [...] });
 *   try { ... } finally { await sim.stop(); await bus.stop(); }
 *
 * The simulator process is restarted automatically when it exits on its own (as systemd would restart
 * rpm-ostreed), e.g. after the `exitMidTransaction` fault; `ready()` resolves once it is back.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { controlSendArgs, initialStateFiles, parseCallLog, simControl } from "./control.js";

const HERE = dirname(fileURLToPath(import.meta.url));
export const SIMULATOR_SCRIPT = join(HERE, "rpm-ostreed-sim.py");
const PYTHON = "/usr/bin/python3"; // Debian's, which has python3-gi
const READY_TIMEOUT_MS = 30_000;
const run = promisify(execFile);

export type SimScheme = "checksum" | "oci";

/** A deployment to start from. For OCI, payload is `registry/repo@sha256:…`; the origin defaults to
 * `ostree-image-signed:docker://registry/repo:<stream>`. */
export interface SimDeploymentSpec {
  version: string;
  payload: string;
  stream: string;
  scheme: SimScheme;
  imageReference?: string;
  timestamp?: number;
}

/** One release on the simulated remote. List them oldest first (that orders their timestamps). */
export interface SimRelease {
  version: string;
  payload: string;
  stream: string;
  /** The ostree commit of an OCI release; derived from the payload when absent. */
  checksum?: string;
  timestamp?: number;
}

export interface SimFaults {
  /** The next N staging transactions end with Finished(false, failureMessage). */
  deployFailures?: number;
  failureMessage?: string;
  /** Any transaction by method name, e.g. `{ FinalizeDeployment: { count: 1, message: "Reboot blocked…" } }`. */
  failTransactions?: Record<string, { count?: number; message: string }>;
  /** The method call itself fails, e.g. `{ RegisterClient: { count: 1, name: "org.freedesktop.DBus.Error.NoReply", message: "…" } }`. */
  callErrors?: Record<string, { count?: number; name: string; message: string }>;
  /** The next N transactions never finish (Cancel ends them). */
  hangTransactions?: number;
  /** The next N transactions: the daemon exits after the first progress signal (and is restarted). */
  exitMidTransaction?: number;
  /** Download progress: K DownloadProgress + PercentProgress pairs, D ms apart (default 3, 0). */
  progressSignals?: number;
  progressIntervalMs?: number;
  /** The next N staged deployments carry a wrong version / payload / no finalization lock. */
  stageWrongVersion?: number;
  stageWrongPayload?: number;
  stageUnlocked?: number;
}

export interface SimulatorOptions {
  busAddress: string;
  /** Kept after stop() when given; a fresh temp dir (removed on stop) otherwise. */
  stateDir?: string;
  osname?: string;
  booted: SimDeploymentSpec;
  rollback?: SimDeploymentSpec;
  available: SimRelease[];
  faults?: SimFaults;
  /** Shell command the daemon runs when it would reboot (the e2e box passes `systemctl reboot`). */
  rebootCommand?: string;
  /** How long a finished transaction keeps serving late clients (rpm-ostree: 30 s). */
  forceCloseMs?: number;
  /** Recorded as the update driver's unit when the caller's cgroup names none. */
  driverUnit?: string;
  /** Restart the daemon when it exits by itself. Default true. */
  restartOnExit?: boolean;
  /** Copy the daemon's stderr to ours (debugging). */
  verbose?: boolean;
}

export interface SimCall {
  at: string;
  interface: string;
  method: string;
  args: unknown[];
  /** The caller's unique bus name, or "peer" for calls on a transaction connection. */
  caller: string;
  path: string;
}

/** A deployment as the simulator keeps it (state.json). */
export interface SimRecord {
  scheme: SimScheme;
  version: string;
  stream: string | null;
  payload: string;
  checksum: string;
  timestamp: number;
  serial: number;
  booted: boolean;
  staged: boolean;
  locked: boolean;
  pinned: boolean;
  origin?: string;
  imageReference?: string;
  digest?: string;
}

export interface SimDump {
  /** Exactly what `Sysroot.Deployments` publishes, as JSON. */
  deployments: Record<string, unknown>[];
  records: SimRecord[];
  /** `[method, sender, os path]` of the transaction in progress, or null. */
  transaction: [string, string, string] | null;
  "update-driver": { "driver-name": string; "driver-sd-unit": string } | null;
  clients: { sender: string; id: string; unit: string }[];
  rebooting: boolean;
  rebootRequests: { at: number; reason: "finalize" | "rollback"; checksum: string; version: string; baseRevision: string }[];
  boots: { at: number; version: string; checksum: string }[];
}

export interface SimControl {
  /** Merges knobs into the running daemon's faults (null puts a default back). */
  setFaults(faults: { [K in keyof SimFaults]?: SimFaults[K] | null }): Promise<void>;
  faults(): Promise<Required<SimFaults>>;
  /** Another client's transaction holds the daemon for `durationMs` (callers get "Transaction in progress"). */
  startForeignTransaction(durationMs: number, title?: string): Promise<void>;
  /** Replaces the remote's release list. */
  setAvailable(releases: SimRelease[]): Promise<void>;
}

export interface Simulator {
  readonly stateDir: string;
  readonly control: SimControl;
  /** How many times the daemon exited by itself (and was restarted). */
  readonly unexpectedExits: number;
  /** Resolves when the daemon (possibly restarted) owns its bus name. */
  ready(): Promise<void>;
  /** Every method call the daemon received, in order. */
  calls(): Promise<SimCall[]>;
  dump(): Promise<SimDump>;
  /**
   * A reboot: the daemon stops, the finalized (or rolled-back-to) deployment boots, the daemon starts.
   * `fallback`: that deployment fails to boot and the bootloader boots the previous one (it stays first in order).
   */
  bootPending(options?: { fallback?: boolean }): Promise<SimRecord>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Exited, or a zombie not yet reaped by Node (Linux /proc). */
function hasDied(proc: ChildProcess): boolean {
  if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return true;
  try {
    const stat = readFileSync(`/proc/${proc.pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

export async function startSimulator(options: SimulatorOptions): Promise<Simulator> {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing (the simulator needs Debian's python3 with python3-gi)`);
  const ownsDir = options.stateDir === undefined;
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), "ua-sim-"));
  mkdirSync(stateDir, { recursive: true });
  for (const [name, text] of Object.entries(initialStateFiles(options))) writeFileSync(join(stateDir, name), text);

  let child: ChildProcess | undefined;
  let stopping = false;
  let unexpectedExits = 0;
  let stderrTail = "";
  let readyPromise: Promise<void>;

  const spawnDaemon = (): Promise<void> => {
    const args = [SIMULATOR_SCRIPT, "serve", "--state-dir", stateDir, "--address", options.busAddress];
    if (options.rebootCommand !== undefined) args.push("--reboot-command", options.rebootCommand);
    if (options.forceCloseMs !== undefined) args.push("--force-close-ms", String(options.forceCloseMs));
    if (options.driverUnit !== undefined) args.push("--driver-unit", options.driverUnit);
    const proc = spawn(PYTHON, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1", PYTHONUNBUFFERED: "1" },
    });
    child = proc;
    proc.stderr!.on("data", (d: Buffer) => {
      stderrTail = (stderrTail + d.toString()).slice(-8_000);
      if (options.verbose) process.stderr.write(d);
    });
    proc.once("exit", () => {
      if (stopping || child !== proc) return;
      unexpectedExits++;
      if (options.restartOnExit ?? true) {
        readyPromise = spawnDaemon();
        readyPromise.catch(() => {}); // reported to whoever awaits ready(); never unhandled
      }
    });
    return new Promise<void>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`simulator not ready in ${READY_TIMEOUT_MS} ms: ${stderrTail}`)), READY_TIMEOUT_MS);
      proc.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.split("\n").some((line) => line.startsWith("READY "))) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`simulator exited (${code ?? signal}) before it was ready: ${stderrTail}`));
      });
    });
  };

  const stopDaemon = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    proc.kill("SIGTERM");
    const killTimer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(killTimer);
  };

  const controlCall = async (member: string, ...args: string[]): Promise<string> => {
    await readyPromise;
    const { stdout } = await run("dbus-send", [`--bus=${options.busAddress}`, ...controlSendArgs(member, args)], { timeout: 20_000 });
    return stdout.trim();
  };

  readyPromise = spawnDaemon();
  try {
    await readyPromise;
  } catch (error) {
    stopping = true;
    await stopDaemon();
    if (ownsDir) rmSync(stateDir, { recursive: true, force: true });
    throw error;
  }

  const control = simControl(controlCall, (text) => writeFileSync(join(stateDir, "releases.json"), text));

  return {
    stateDir,
    control,
    get unexpectedExits() {
      return unexpectedExits;
    },
    async ready() {
      // A daemon that just died (its sockets closed, so a client already saw the error) may not have
      // been reaped yet; wait for its exit, after which the restart has begun, then for the new one.
      for (;;) {
        const current = readyPromise;
        await current;
        const proc = child;
        if (proc === undefined || stopping || !hasDied(proc)) return;
        if (proc.exitCode === null && proc.signalCode === null) await new Promise((resolve) => proc.once("exit", resolve));
        if (readyPromise === current) throw new Error(`the simulator exited and is not restarted: ${stderrTail}`);
      }
    },
    async calls() {
      const path = join(stateDir, "calls.jsonl");
      if (!existsSync(path)) return [];
      return parseCallLog(readFileSync(path, "utf8"));
    },
    async dump() {
      return JSON.parse(await controlCall("Dump")) as SimDump;
    },
    async bootPending(bootOptions = {}) {
      stopping = true;
      await stopDaemon();
      const fallback = bootOptions.fallback ? ["--fallback"] : [];
      const { stdout } = await run(PYTHON, [SIMULATOR_SCRIPT, "boot-pending", "--state-dir", stateDir, ...fallback], {
        env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
        timeout: 20_000,
      });
      stopping = false;
      readyPromise = spawnDaemon();
      await readyPromise;
      return JSON.parse(stdout) as SimRecord;
    },
    async restart() {
      stopping = true;
      await stopDaemon();
      stopping = false;
      readyPromise = spawnDaemon();
      await readyPromise;
    },
    async stop() {
      stopping = true;
      await readyPromise.catch(() => {});
      await stopDaemon();
      if (ownsDir) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
