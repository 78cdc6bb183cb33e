/**
 * Shared pieces of the agent-loop integration tests (tests/agent/loop-*.test.ts): reading the simulator's
 * call log, extra config fragments, and waiting for conditions.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { NodeRig } from "../helpers/node-rig.js";
import type { SimCall, SimRelease } from "../sim/harness.js";

const STAGING_METHODS = new Set(["Deploy", "UpdateDeployment", "Rebase"]);

/** The `sha256:…` digest (OCI) or the checksum a stage call names for `release`. */
function revisionOf(release: SimRelease): string {
  const at = release.payload.lastIndexOf("@");
  return at >= 0 ? release.payload.slice(at + 1) : `revision=${release.payload}`;
}

/** Staging calls (not the driver registration, which is a `Deploy("")`), optionally only those for `release`. */
export function stageCalls(calls: SimCall[], release?: SimRelease): SimCall[] {
  return calls.filter((c) => {
    if (c.path === "/" || !STAGING_METHODS.has(c.method) || c.args[0] === "") return false;
    return release === undefined || JSON.stringify(c.args).includes(revisionOf(release));
  });
}

export function methodCalls(calls: SimCall[], method: string): SimCall[] {
  return calls.filter((c) => c.method === method && c.interface.endsWith(".OS"));
}

/** A compact trace for assertion messages: `Deploy(sha256:2222…) Cleanup FinalizeDeployment`. */
export function trace(calls: SimCall[]): string {
  return calls
    .filter((c) => c.interface.endsWith(".OS"))
    .map((c) => (c.method === "Deploy" ? `Deploy(${String(c.args[0]).slice(0, 12)})` : c.method))
    .join(" ");
}

/** The real CLI against the rig (tests/strategy/loop-support.ts calls it so; the agent tests call `rig.agentctl`). */
export function agentctl(rig: NodeRig, ...args: string[]): ReturnType<NodeRig["agentctl"]> {
  return rig.agentctl(...args);
}

/** An extra fragment in `<root>/etc/update-agent/config.d/` (the rig's own is 50-rig.toml). */
export function writeFragment(rig: NodeRig, name: string, text: string): string {
  const path = join(rig.root, "etc/update-agent/config.d", name);
  writeFileSync(path, text);
  return path;
}

/** A periodic strategy whose only window opens 12 hours from now: a staged update waits. */
export function closedWindowConfig(now = new Date()): string {
  const hour = (now.getUTCHours() + 12) % 24;
  return ["[updates]", 'strategy = "periodic"', "[updates.periodic]", 'time_zone = "UTC"', "[[updates.periodic.window]]", `cron = "0 ${hour} * * *"`, "length_minutes = 60", ""].join("\n");
}

/** Polls `probe` until it returns something other than undefined/false. */
export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000, detail?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${detail ? `\n${detail()}` : ""}`);
    await sleep(100);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * After a crash and restart: the agent finalizes `release` (rebooting when the sim asks for it) and ends idle on it,
 * with one stage and one finalize in the simulator's whole call log.
 */
export async function assertConverges(rig: NodeRig, release: SimRelease): Promise<void> {
  await rig.waitForStatus("finalized", (s) => s.state === "finalized");
  assert.equal((await rig.sim.dump()).rebootRequests.length, 1);
  await rig.reboot();
  const idle = await rig.waitForStatus(`idle on ${release.version}`, (s) => s.state === "idle" && s.booted?.version === release.version && s.last_check?.outcome === "no-update");
  assert.equal(idle.pending_reboot, false);
  assert.deepEqual(idle.denylist, []);
  const calls = await rig.sim.calls();
  assert.equal(stageCalls(calls).length, 1, `one stage in all: ${trace(calls)}`);
  assert.equal(stageCalls(calls, release).length, 1, trace(calls));
  assert.equal(methodCalls(calls, "FinalizeDeployment").length, 1, `one finalize in all: ${trace(calls)}`);
  assert.equal((await rig.sim.dump()).rebootRequests.length, 1);
}
