/**
 * Shared pieces of the reboot-strategy loop tests (tests/strategy/loop-*.test.ts): agentd as a process on the
 * node rig, with a strategy fragment, and the admin's view of why a staged update waits (`agentctl status`).
 */
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { NodeRig } from "../helpers/node-rig.js";
import type { StatusView } from "../../src/agent/view.js";
import { agentctl, methodCalls, trace } from "../agent/loop-helpers.js";

export { agentctl, methodCalls, sleep, stageCalls, trace, waitUntil, writeFragment } from "../agent/loop-helpers.js";

export const PRE_REBOOT_DIR = "etc/update-agent/hooks/pre-reboot.d";
export const POST_BOOT_DIR = "etc/update-agent/hooks/post-boot.d";

/** How many times the simulator was asked to finalize (and so to reboot). */
export async function finalizeCount(rig: NodeRig): Promise<number> {
  return methodCalls(await rig.sim.calls(), "FinalizeDeployment").length;
}

/** Fails unless the simulator never finalized: the staged update is still waiting. */
export async function assertNotFinalized(rig: NodeRig): Promise<void> {
  const calls = await rig.sim.calls();
  assert.equal(methodCalls(calls, "FinalizeDeployment").length, 0, trace(calls));
}

/** `agentctl status` as an admin reads it; exit code 0. */
export async function humanStatus(rig: NodeRig): Promise<string> {
  const run = await agentctl(rig, "status");
  assert.equal(run.code, 0, run.stderr);
  return run.stdout;
}

/** The `Waiting:` line of `agentctl status` (with its continuation lines), or undefined. */
export function waitingLine(text: string): string | undefined {
  // Keys are right-aligned: `     Waiting: reboot lock: ...`; a value's further lines have no key.
  const lines = text.split("\n");
  const at = lines.findIndex((l) => /^ *Waiting: /.test(l));
  if (at < 0) return undefined;
  const more = lines.slice(at + 1);
  const end = more.findIndex((l) => /^ *[A-Z][A-Za-z -]*: /.test(l));
  return [lines[at]!, ...more.slice(0, end < 0 ? more.length : end)].map((l) => l.trim()).join("\n");
}

/** Waits until the update is staged and the agent says why it waits with `kind`. */
export function waitingFor(rig: NodeRig, kind: NonNullable<StatusView["waiting"]>["kind"], timeoutMs = 45_000): Promise<StatusView> {
  return rig.waitForStatus(`staged, waiting (${kind})`, (s) => s.state === "staged" && s.waiting?.kind === kind, timeoutMs);
}

/** Waits until the agent has finalized (asked rpm-ostree to reboot into the update). */
export function finalized(rig: NodeRig, timeoutMs = 45_000): Promise<StatusView> {
  return rig.waitForStatus("finalized", (s) => s.state === "finalized", timeoutMs);
}

/** A file in the rig's root, creating its directory. */
export function putFile(rig: NodeRig, path: string, body: string): string {
  const full = join(rig.root, path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, body);
  return full;
}

/** An executable script in the rig's root (hooks, checks), creating its directory. */
export function putScript(rig: NodeRig, path: string, body: string): string {
  const full = putFile(rig, path, body);
  chmodSync(full, 0o755);
  return full;
}

/**
 * A hook that appends one line to `<root>/<out>`: its name, the agent's UPDATE_AGENT_* variables and how many
 * FinalizeDeployment calls the simulator had received when it ran; prints `ran` (the agent logs it), exits `code`.
 */
export function recordingHook(rig: NodeRig, out: string, code = 0): string {
  const calls = join(rig.sim.stateDir, "calls.jsonl");
  return [
    "#!/bin/sh",
    `finalized=$(grep -c '"FinalizeDeployment"' '${calls}' 2>/dev/null || true)`,
    `echo "$(basename "$0") old=$UPDATE_AGENT_OLD_VERSION new=$UPDATE_AGENT_NEW_VERSION node=$UPDATE_AGENT_NODE_ID group=$UPDATE_AGENT_GROUP finalized=\${finalized:-0}" >> '${join(rig.root, out)}'`,
    'echo "ran"',
    code === 0 ? "exit 0" : `echo "cannot drain this node" >&2\nexit ${code}`,
    "",
  ].join("\n");
}
