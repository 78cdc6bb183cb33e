/**
 * A simulated node for integration tests and the demo: a private dbus-daemon, the rpm-ostreed simulator,
 * a logind double, a loopback update-graph server, a root directory laid out like a node's, and agentd
 * itself as a real child process pointed at all of them.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startPrivateBus, type PrivateBus } from "./dbus-daemon.js";
import { startHttpServer, type TestServer } from "./http-server.js";
import { startLogindDouble, type LogindDouble } from "./logind.js";
import { startSimulator, type SimFaults, type SimRelease, type Simulator } from "../sim/harness.js";
import { AgentClient } from "../../src/api/agent-client.js";
import type { StatusView } from "../../src/agent/view.js";
import { METRICS_SOCKET } from "../../src/api/metrics-server.js";
import { BOOT_STATUS_MOTD_NAME, MOTD_DIR } from "../../src/host/motd.js";
import { BOOT_TOKEN_PATH } from "../../src/host/boot-id.js";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const AGENTD = join(REPO, "bin", "agentd.js");
const AGENTCTL = join(REPO, "bin", "agentctl.js");
/** Where agentd reads the kernel's boot id; the rig writes a new one at every reboot. */
export const BOOT_ID_FILE = "proc/sys/kernel/random/boot_id";
export { BOOT_TOKEN_PATH };

export interface GraphNodeSpec {
  release: SimRelease;
  metadata?: Record<string, string>;
}

export interface RigOptions {
  /** Releases on the remote, oldest first; the graph offers every newer one from each older one. */
  releases: SimRelease[];
  /** Index in `releases` of the booted one. */
  booted: number;
  /** Extra TOML: etc/update-agent/config.d/60-test.toml, applied after the rig's own 40-rig.toml. */
  config?: string;
  faults?: SimFaults;
  /** Replace the served graph body (default: built from `releases`). */
  graphBody?: () => string;
  /** Executable scripts to install, by root-relative path. */
  scripts?: Record<string, string>;
  /** Files to install as they are (mode 0644 unless given), by root-relative path. */
  files?: Record<string, string | { body: string; mode: number }>;
  /** /etc/machine-id, from which the node UUID derives (give each node of a fleet its own). */
  machineId?: string;
  /** Copy agentd's output to ours. */
  verbose?: boolean;
  /** Every line agentd writes, as it arrives. */
  onLine?: (line: string) => void;
  /** Let the sim stage slowly, so progress is visible (the demo). */
  progress?: { signals: number; intervalMs: number };
  /** Extra environment for agentd at every start (e.g. NOTIFY_SOCKET, WATCHDOG_USEC). */
  agentEnv?: Record<string, string>;
  /** The graph server's HTTP status, asked at every request (default 200; an outage: 503). */
  graphStatus?: () => number;
}

export interface NodeRig {
  root: string;
  bus: PrivateBus;
  sim: Simulator;
  logind: LogindDouble;
  graph: TestServer;
  env: NodeJS.ProcessEnv;
  /** Everything agentd wrote to stderr (its log), across restarts. */
  log(): string;
  startAgent(): ChildProcess;
  /** SIGTERM and wait; resolves to the exit code. */
  stopAgent(): Promise<number | null>;
  /** kill -9, as a crash would. */
  killAgent(): Promise<void>;
  /**
   * The harness's reboot: stop the agent, boot what a reboot boots (the finalized or rolled-back-to deployment,
   * or the booted one again, e.g. after a logind Reboot), with a new boot id, start the agent again.
   * `fallback`: the new default fails to boot and the bootloader boots the previous one (docs/simulator.md).
   */
  reboot(options?: { fallback?: boolean }): Promise<void>;
  /** `bin/agentctl.js --root ROOT ARGS...` on the rig's bus. */
  agentctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** The Prometheus text from agentd's metrics socket (counters start again at every agent start). */
  metrics(): Promise<string>;
  /** A MOTD fragment agentd wrote (default: the boot-status one), or undefined. */
  motd(name?: string): string | undefined;
  status(): Promise<StatusView | undefined>;
  waitForStatus(what: string, predicate: (s: StatusView) => boolean, timeoutMs?: number): Promise<StatusView>;
  stop(): Promise<void>;
}

export function graphFor(releases: SimRelease[]): string {
  const nodes = releases.map((r, i) => ({
    version: r.version,
    metadata: {
      "org.fedoraproject.coreos.releases.age_index": String(i),
      "org.fedoraproject.coreos.scheme": r.payload.includes("@sha256:") ? "oci" : "checksum",
    },
    payload: r.payload,
  }));
  const edges: [number, number][] = [];
  for (let to = 1; to < releases.length; to++) for (let from = 0; from < to; from++) edges.push([from, to]);
  return JSON.stringify({ nodes, edges });
}

export async function startNodeRig(options: RigOptions): Promise<NodeRig> {
  const root = mkdtempSync(join(tmpdir(), "ua-node-"));
  const booted = options.releases[options.booted];
  if (!booted) throw new Error(`no release at index ${options.booted}`);
  const scheme = booted.payload.includes("@sha256:") ? "oci" : "checksum";

  const bus = await startPrivateBus();
  const sim = await startSimulator({
    busAddress: bus.address,
    booted: { version: booted.version, payload: booted.payload, stream: booted.stream, scheme },
    available: options.releases,
    faults: { ...(options.progress ? { progressSignals: options.progress.signals, progressIntervalMs: options.progress.intervalMs } : {}), ...options.faults },
  });
  const logind = await startLogindDouble({ busAddress: bus.address });
  const graph = await startHttpServer((_req, res) => {
    const status = options.graphStatus?.() ?? 200;
    if (status !== 200) {
      res.writeHead(status, { "content-type": "text/plain" });
      return res.end("graph server unavailable (test)\n");
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(options.graphBody ? options.graphBody() : graphFor(options.releases));
  });

  for (const dir of ["etc/update-agent/config.d", "proc", "run", "var/lib"]) mkdirSync(join(root, dir), { recursive: true });
  writeFileSync(join(root, "etc/machine-id"), `${options.machineId ?? "2e074e9b299c41a59923c51ae16f279b"}\n`);
  // A reboot: a new kernel boot id, and /run (a tmpfs on a real node) starts empty.
  const newBootId = () => {
    mkdirSync(join(root, dirname(BOOT_ID_FILE)), { recursive: true });
    writeFileSync(join(root, BOOT_ID_FILE), `${randomUUID()}\n`);
    rmSync(join(root, BOOT_TOKEN_PATH), { force: true });
  };
  newBootId();
  writeFileSync(join(root, "proc/cmdline"), "BOOT_IMAGE=/ostree/vmlinuz ignition.platform.id=qemu console=ttyS0\n");
  writeFileSync(
    join(root, "etc/update-agent/config.d/40-rig.toml"),
    [
      "[cincinnati]",
      `base_url = "${graph.url}"`,
      "[agent.timing]",
      "steady_interval_secs = 1",
      "retry_interval_secs = 1",
      "postponement_interval_secs = 1",
      "jitter_percent = 0",
      "[health]",
      "greenboot_dirs = false",
    ].join("\n"),
  );
  if (options.config) writeFileSync(join(root, "etc/update-agent/config.d/60-test.toml"), options.config);
  for (const [path, body] of Object.entries(options.scripts ?? {})) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), body);
    chmodSync(join(root, path), 0o755);
  }
  for (const [path, file] of Object.entries(options.files ?? {})) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), typeof file === "string" ? file : file.body);
    chmodSync(join(root, path), typeof file === "string" ? 0o644 : file.mode);
  }

  const env: NodeJS.ProcessEnv = { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: bus.address };
  delete env.NOTIFY_SOCKET;
  delete env.WATCHDOG_USEC;
  let output = "";
  let agent: ChildProcess | undefined;

  const rig: NodeRig = {
    root,
    bus,
    sim,
    logind,
    graph,
    env,
    log: () => output,
    startAgent() {
      const child = spawn(process.execPath, [AGENTD, "--root", root, "-v"], { env: { ...env, ...options.agentEnv }, stdio: ["ignore", "pipe", "pipe"] });
      let partial = "";
      const collect = (d: Buffer) => {
        output += d.toString();
        if (options.verbose) process.stderr.write(d);
        if (options.onLine) {
          const lines = (partial + d.toString()).split("\n");
          partial = lines.pop() ?? "";
          for (const line of lines) options.onLine(line);
        }
      };
      child.stdout!.on("data", collect);
      child.stderr!.on("data", collect);
      agent = child;
      return child;
    },
    async stopAgent() {
      const child = agent;
      if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      child.kill("SIGTERM");
      return exited;
    },
    async killAgent() {
      const child = agent;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
    },
    async reboot(rebootOptions = {}) {
      await rig.stopAgent();
      await sim.bootPending(rebootOptions);
      newBootId();
      rig.startAgent();
    },
    agentctl(...args) {
      return new Promise((resolve) => {
        execFile(process.execPath, [AGENTCTL, "--root", root, ...args], { env, timeout: 60_000 }, (error, stdout, stderr) => {
          const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
          resolve({ code, stdout, stderr });
        });
      });
    },
    metrics() {
      return new Promise((resolve, reject) => {
        let text = "";
        const socket = connect(join(root, METRICS_SOCKET));
        socket.setEncoding("utf8");
        socket.setTimeout(20_000, () => socket.destroy(new Error("metrics socket: no answer in 20 s")));
        socket.on("data", (d: string) => (text += d));
        socket.on("end", () => resolve(text));
        socket.on("error", reject);
      });
    },
    motd(name = BOOT_STATUS_MOTD_NAME) {
      const path = join(root, MOTD_DIR, name);
      return existsSync(path) ? readFileSync(path, "utf8") : undefined;
    },
    async status() {
      const client = AgentClient.connect(env);
      try {
        return await client.status();
      } finally {
        client.close();
      }
    },
    async waitForStatus(what, predicate, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let last: StatusView | undefined;
      while (Date.now() < deadline) {
        last = await rig.status().catch(() => undefined);
        if (last && predicate(last)) return last;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`timed out waiting for ${what}; last status: ${JSON.stringify(last)}\nagent log:\n${output.slice(-4000)}`);
    },
    async stop() {
      await rig.killAgent();
      await graph.close();
      await logind.stop();
      await sim.stop();
      await bus.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
  return rig;
}
