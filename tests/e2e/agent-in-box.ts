/**
 * update-agent inside an e2e box, installed from its .deb as on a node: `dpkg -i` puts the same files in the
 * same places, the package scripts run systemd-sysusers and systemd-tmpfiles, and the unit runs with the
 * shipped sandboxing as User=update-agent. The update graph is served from the host's loopback (the box
 * shares the host's network); the simulator is the box's rpm-ostreed (sim-in-box.ts). docs/e2e.md, "Scenarios".
 *
 *   const deb = await agentDeb();
 *   const graph = await startGraphServer([R0]);
 *   const agent = await installAgent(box, { deb, graphUrl: graph.url });
 *   await agent.start();
 *   const status = await agent.status();      // `agentctl status --json`, run inside the box
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { StatusView } from "../../src/agent/view.js";
import { STALL_FAULT_FILE } from "../../src/agent/driver.js";
import { startHttpServer, type RecordedRequest } from "../helpers/http-server.js";
import { graphFor } from "../helpers/node-rig.js";
import type { SimRelease } from "../sim/harness.js";
import type { Box } from "./box.js";
import { REPO_ROOT } from "./rootfs.js";

const execFileAsync = promisify(execFile);

export const AGENT_UNIT = "update-agent.service";
export const AGENT_USER = "update-agent";
export const CONFIG_DIR = "/etc/update-agent/config.d";
export const REQUIRED_CHECKS_DIR = "/etc/update-agent/check/required.d";
/** The box-only drop-in: the test fault switch and short watchdog and restart delays. No sandboxing change. */
export const DROP_IN = `/etc/systemd/system/${AGENT_UNIT}.d/50-e2e.conf`;

export type AgentStatus = StatusView & { format_version: number };

let debBuild: Promise<string> | undefined;

/** Builds the package once per test process, as a release would (`node packaging/build.mjs --deb`). */
export function agentDeb(): Promise<string> {
  debBuild ??= (async () => {
    const out = mkdtempSync(join(tmpdir(), "ua-e2e-deb-"));
    process.once("exit", () => rmSync(out, { recursive: true, force: true }));
    await execFileAsync(process.execPath, [join(REPO_ROOT, "packaging/build.mjs"), "--deb", "--out", out], { cwd: REPO_ROOT, timeout: 180_000 });
    const deb = readdirSync(out).find((name) => name.endsWith("_all.deb"));
    if (!deb) throw new Error(`packaging/build.mjs --deb left no .deb in ${out}`);
    return join(out, deb);
  })();
  return debBuild;
}

export interface GraphServer {
  /** `http://127.0.0.1:<port>/`, the agent's `cincinnati.base_url`. */
  url: string;
  requests: RecordedRequest[];
  /** What the graph offers from now on (oldest first; every older release has an edge to every newer one). */
  serve(releases: SimRelease[]): void;
  close(): Promise<void>;
}

/** A Cincinnati-like graph server on the host's loopback; boxes reach it directly. */
export async function startGraphServer(releases: SimRelease[]): Promise<GraphServer> {
  let body = graphFor(releases);
  const server = await startHttpServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(body);
  });
  return {
    url: server.url,
    requests: server.requests,
    serve: (next) => void (body = graphFor(next)),
    close: () => server.close(),
  };
}

/** True when the kernel command line (the host's, which the box shares) names no Ignition platform. */
export function needsPlatformOverride(): boolean {
  return !/(^|\s)ignition\.platform\.id=\S/.test(readFileSync("/proc/cmdline", "utf8"));
}

export interface InstallAgentOptions {
  deb: string;
  graphUrl: string;
  /** More TOML appended to /etc/update-agent/config.d/50-e2e.toml. */
  config?: string;
  /** The drop-in's WatchdogSec= (the unit ships 120 s). Default 10. */
  watchdogSec?: number;
  /** The drop-in's RestartSec= (the unit ships 10 s). Default 4. */
  restartSec?: number;
}

export interface BoxAgent {
  readonly box: Box;
  /** The dpkg -i output. */
  readonly installLog: string;
  /** `systemctl enable --now` (blocks until READY=1, or fails). */
  start(): Promise<void>;
  /** `agentctl status --json` inside the box (as root). */
  status(): Promise<AgentStatus>;
  /** Polls status() until `accept` says yes; the error names `what` and carries the last status and the agent's journal. */
  waitForStatus(what: string, accept: (s: AgentStatus) => boolean, timeoutMs?: number): Promise<AgentStatus>;
  show(props: string[]): Promise<Record<string, string>>;
  /** Writes (or, with `undefined`, removes) /etc/update-agent/config.d/NAME. Call reload() to apply it. */
  writeConfig(name: string, toml: string | undefined): Promise<void>;
  /** `systemctl reload` (SIGHUP: the agent reads its configuration again). */
  reload(): Promise<void>;
  /** Creates or removes the stall fault file (driver.ts: the loop blocks while it exists, with UPDATE_AGENT_TEST_FAULTS=1). */
  stallLoop(on: boolean): Promise<void>;
  journal(options?: { thisBoot?: boolean }): Promise<string>;
}

export function e2eConfig(graphUrl: string, extra = ""): string {
  return [
    "# Written by tests/e2e/agent-in-box.ts: the host's loopback graph server, and short timings.",
    "[cincinnati]",
    `base_url = "${graphUrl}"`,
    "[agent.timing]",
    "steady_interval_secs = 2",
    "retry_interval_secs = 2",
    "postponement_interval_secs = 2",
    "jitter_percent = 0",
    ...(needsPlatformOverride() ? ["[identity]", 'platform = "qemu"'] : []),
    extra,
  ].join("\n");
}

/** Installs the .deb into the box and configures the agent; does not start it. */
export async function installAgent(box: Box, options: InstallAgentOptions): Promise<BoxAgent> {
  await box.copyIn(options.deb, "/var/tmp/update-agent.deb", { mode: 0o644 });
  const installLog = await box.run(["dpkg", "-i", "/var/tmp/update-agent.deb"], { timeoutMs: 120_000 });
  await box.run(["rm", "-f", "/var/tmp/update-agent.deb"]);
  await box.writeFile(`${CONFIG_DIR}/50-e2e.toml`, e2eConfig(options.graphUrl, options.config));
  await box.writeFile(
    DROP_IN,
    [
      "# e2e box only (tests/e2e/agent-in-box.ts): the stall fault switch, and watchdog and restart delays a test",
      "# can wait for. The sandboxing is the shipped unit's.",
      "[Service]",
      "Environment=UPDATE_AGENT_TEST_FAULTS=1",
      `WatchdogSec=${options.watchdogSec ?? 10}s`,
      `RestartSec=${options.restartSec ?? 4}s`,
      "",
    ].join("\n"),
  );
  await box.run(["systemctl", "daemon-reload"]);

  const agent: BoxAgent = {
    box,
    installLog,
    async start() {
      await box.run(["systemctl", "enable", "--now", AGENT_UNIT], { timeoutMs: 120_000 });
    },
    async status() {
      const { code, stdout, stderr } = await box.exec(["agentctl", "status", "--json"], { timeoutMs: 30_000 });
      try {
        return JSON.parse(stdout) as AgentStatus;
      } catch {
        throw new Error(`agentctl status --json exited ${code}: ${stderr.trim() || stdout.trim()}`);
      }
    },
    async waitForStatus(what, accept, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let last: AgentStatus | string = "none";
      for (;;) {
        if (box.running) {
          try {
            const status = await agent.status();
            if (accept(status)) return status;
            last = status;
          } catch (e) {
            last = e instanceof Error ? e.message : String(e);
          }
        }
        if (Date.now() > deadline) {
          const journal = box.running ? (await agent.journal({ thisBoot: true }).catch(() => "")).slice(-4_000) : "(box down)";
          throw new Error(`agent never ${what} in ${timeoutMs} ms; last status: ${JSON.stringify(last, null, 1)}\njournal:\n${journal}`);
        }
        await sleep(500);
      }
    },
    show: (props) => box.systemctlShow(AGENT_UNIT, props),
    async writeConfig(name, toml) {
      if (toml === undefined) await box.run(["rm", "-f", `${CONFIG_DIR}/${name}`]);
      else await box.writeFile(`${CONFIG_DIR}/${name}`, toml);
    },
    async reload() {
      await box.run(["systemctl", "reload", AGENT_UNIT]);
    },
    async stallLoop(on) {
      await box.run(on ? ["touch", `/${STALL_FAULT_FILE}`] : ["rm", "-f", `/${STALL_FAULT_FILE}`]);
    },
    journal: (o = {}) => box.journal(AGENT_UNIT, o),
  };
  return agent;
}

/**
 * Follows the box through the reboots it makes by itself (129: boot again) until `done()` says yes while it
 * runs. Returns how many reboots it followed.
 */
export async function followReboots(box: Box, done: () => Promise<boolean>, options: { maxReboots: number; timeoutMs: number; what: string }): Promise<number> {
  const deadline = Date.now() + options.timeoutMs;
  let reboots = 0;
  for (;;) {
    if (!box.running) {
      const status = await box.waitForExit();
      if (status !== 129) throw new Error(`box ${box.name} ended with ${status}, not a reboot, while waiting until ${options.what}`);
      if (++reboots > options.maxReboots) throw new Error(`box ${box.name} rebooted more than ${options.maxReboots} times while waiting until ${options.what}`);
      await box.bootAgain();
      continue;
    }
    if (await done().catch(() => false)) return reboots;
    if (Date.now() > deadline) throw new Error(`not ${options.what} after ${options.timeoutMs} ms (${reboots} reboots followed)`);
    await Promise.race([box.waitForExit(), sleep(500)]);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
