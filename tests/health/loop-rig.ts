/**
 * Shared pieces of the boot-verification loop tests (tests/health/loop-*.test.ts): a node rig whose graph offers
 * what the test says, checks that fail only on one release, and bounded waits on what a user would see.
 */
import { readFileSync, writeFileSync, chmodSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { graphFor, startNodeRig, type NodeRig, type RigOptions } from "../helpers/node-rig.js";
import type { SimCall, SimRelease } from "../sim/harness.js";
import { OCI_RELEASES, at } from "../sim/sample-releases.js";
import type { HealthReport } from "../../src/health/report.js";
import type { BootRecord } from "../../src/health/record.js";
import type { DenylistEntry } from "../../src/agent/state.js";

/** The booted release, the one that goes bad, and the fixed one after it. */
export const P = at(OCI_RELEASES, 0);
export const X = at(OCI_RELEASES, 1);
export const NEXT = at(OCI_RELEASES, 2);

export const REQUIRED = "etc/update-agent/check/required.d";
export const WANTED = "etc/update-agent/check/wanted.d";

/** A check that fails (exit 1, with a line of output) only when `version` is booted. */
export function failsOn(version: string, message = "the app did not come up"): string {
  return `#!/bin/sh\nif [ "$UPDATE_AGENT_BOOTED_VERSION" = "${version}" ]; then echo "${message} on $UPDATE_AGENT_BOOTED_VERSION" >&2; exit 1; fi\necho ok\n`;
}

export interface HealthRig extends NodeRig {
  /** Replaces the releases the graph offers (a subset of OCI_RELEASES; age indexes stay as in the full list). */
  offer(releases: SimRelease[]): void;
  /** Installs an executable script under the root, now (before or between agent starts). */
  install(path: string, body: string, mode?: number): void;
  /** Absolute path under the root. */
  path(rel: string): string;
}

export async function startHealthRig(options: Partial<RigOptions> & { offered?: SimRelease[]; health?: string } = {}): Promise<HealthRig> {
  let offered = options.offered ?? [P, X];
  const graphOf = () => {
    // Keep every release's age index as in the full list, so "newer" never changes meaning between offers.
    const full = JSON.parse(graphFor(OCI_RELEASES)) as { nodes: { payload: string }[]; edges: [number, number][] };
    const keep = new Set(offered.map((r) => r.payload));
    const index = new Map<number, number>(); // position in the full list → position in the offered one
    full.nodes.forEach((n, i) => {
      if (keep.has(n.payload)) index.set(i, index.size);
    });
    const nodes = full.nodes.filter((n) => keep.has(n.payload));
    const edges = full.edges.filter(([a, b]) => index.has(a) && index.has(b)).map(([a, b]) => [index.get(a)!, index.get(b)!]);
    return JSON.stringify({ nodes, edges });
  };
  const files = { ...options.files };
  if (options.health) files["etc/update-agent/config.d/60-health.toml"] = `[health]\n${options.health}\n`;
  const rig = await startNodeRig({ releases: OCI_RELEASES, booted: 0, graphBody: graphOf, ...options, files });
  return Object.assign(rig, {
    offer(releases: SimRelease[]) {
      offered = releases;
    },
    install(path: string, body: string, mode = 0o755) {
      mkdirSync(dirname(join(rig.root, path)), { recursive: true });
      writeFileSync(join(rig.root, path), body);
      chmodSync(join(rig.root, path), mode);
    },
    path: (rel: string) => join(rig.root, rel),
  });
}

/** Polls `probe` until it returns something other than undefined/false; bounded, with the rig's log on failure. */
export async function waitFor<T>(rig: NodeRig, what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\nagent log:\n${rig.log().slice(-6000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Transactions that stage `release` (Deploy / UpdateDeployment naming its digest). */
export function stagingCallsFor(calls: SimCall[], release: SimRelease): SimCall[] {
  const digest = release.payload.slice(release.payload.indexOf("@") + 1);
  return calls.filter((c) => (c.method === "Deploy" || c.method === "UpdateDeployment" || c.method === "Rebase") && JSON.stringify(c.args).includes(digest));
}

export const rollbackCalls = (calls: SimCall[]) => calls.filter((c) => c.method === "Rollback");

export interface HealthJson {
  format_version: number;
  health: HealthReport | null;
  boot: BootRecord | null;
}

export async function healthJson(rig: NodeRig): Promise<{ code: number; json: HealthJson }> {
  const out = await rig.agentctl("health", "--json");
  return { code: out.code, json: JSON.parse(out.stdout) as HealthJson };
}

export async function denylistJson(rig: NodeRig): Promise<DenylistEntry[]> {
  const out = await rig.agentctl("denylist", "list", "--json");
  if (out.code !== 0) throw new Error(`agentctl denylist list failed: ${out.stderr}`);
  return (JSON.parse(out.stdout) as { denylist: DenylistEntry[] }).denylist;
}

/** One sample's value from Prometheus text, e.g. `metric(text, 'update_agent_rollbacks_total')`. */
export function metric(text: string, sample: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const cut = line.lastIndexOf(" ");
    if (line.slice(0, cut) === sample) return Number(line.slice(cut + 1));
  }
  return undefined;
}

/** Waits until the agent has checked the graph `n` more times (status last_check changes), e.g. to show it did nothing. */
export async function graphChecks(rig: NodeRig, n: number): Promise<void> {
  let seen = (await rig.status().catch(() => undefined))?.last_check?.at;
  for (let i = 0; i < n; i++) {
    const before = seen;
    const s = await rig.waitForStatus(`graph check ${i + 1} of ${n}`, (v) => v.last_check?.at !== undefined && v.last_check.at !== before);
    seen = s.last_check?.at;
  }
}

export const readText = (path: string): string => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
};
