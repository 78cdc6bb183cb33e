/**
 * A simulated node for integration tests and the demo: a private dbus-daemon, the rpm-ostreed simulator,
 * a logind double, a loopback update-graph server, a root directory laid out like a node's, and agentd
 * itself as a real child process pointed at all of them.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startPrivateBus, type PrivateBus } from "./dbus-daemon.js";
import { startHttpServer, type TestServer } from "./http-server.js";
import { startLogindDouble, type LogindDouble } from "./logind.js";
import { startSimulator, type SimFaults, type SimRelease, type Simulator } from "../sim/harness.js";
import { AgentClient } from "../../src/api/agent-client.js";
import type { StatusView } from "../../src/agent/view.js";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const AGENTD = join(REPO, "bin", "agentd.js");

export interface GraphNodeSpec {
  release: SimRelease;
  metadata?: Record<string, string>;
}

export interface RigOptions {
  /** Releases on the remote, oldest first; the graph offers every newer one from each older one. */
  releases: SimRelease[];
  /** Index in `releases` of the booted one. */
  booted: number;
  /** Extra TOML, appended to the rig's own fragment (etc/update-agent/config.d/50-rig.toml). */
  config?: string;
  faults?: SimFaults;
  /** Replace the served graph body (default: built from `releases`). */
  graphBody?: () => string;
  /** Executable scripts to install, by root-relative path. */
  scripts?: Record<string, string>;
  /** Copy agentd's output to ours. */
  verbose?: boolean;
  /** Let the sim stage slowly, so progress is visible (the demo). */
  progress?: { signals: number; intervalMs: number };
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
  /** The harness's reboot: stop the agent, boot the pending deployment, start the agent again. */
  reboot(): Promise<void>;
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
    res.writeHead(200, { "content-type": "application/json" });
    res.end(options.graphBody ? options.graphBody() : graphFor(options.releases));
  });

  for (const dir of ["etc/update-agent/config.d", "proc", "run", "var/lib"]) mkdirSync(join(root, dir), { recursive: true });
  writeFileSync(join(root, "etc/machine-id"), "2e074e9b299c41a59923c51ae16f279b\n");
  writeFileSync(join(root, "proc/cmdline"), "BOOT_IMAGE=/ostree/vmlinuz ignition.platform.id=qemu console=ttyS0\n");
  writeFileSync(
    join(root, "etc/update-agent/config.d/50-rig.toml"),
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
      options.config ?? "",
    ].join("\n"),
  );
  for (const [path, body] of Object.entries(options.scripts ?? {})) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), body);
    chmodSync(join(root, path), 0o755);
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
      const child = spawn(process.execPath, [AGENTD, "--root", root, "-v"], { env, stdio: ["ignore", "pipe", "pipe"] });
      const collect = (d: Buffer) => {
        output += d.toString();
        if (options.verbose) process.stderr.write(d);
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
    async reboot() {
      await rig.stopAgent();
      await sim.bootPending();
      rig.startAgent();
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
