/**
 * Pre-reboot and post-boot hooks inside the real agent loop: what they are told, when they run, and what a
 * failing drain hook does to the reboot and to the fleet's reboot slot.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startNodeRig, type NodeRig } from "../helpers/node-rig.js";
import { startFleetLockServer } from "../helpers/fleetlock-server.js";
import { OCI_RELEASES, at } from "../sim/sample-releases.js";
import { readNodeUuid } from "../../src/identity/index.js";
import {
  assertNotFinalized,
  finalizeCount,
  finalized,
  humanStatus,
  POST_BOOT_DIR,
  PRE_REBOOT_DIR,
  putScript,
  recordingHook,
  waitingFor,
  waitingLine,
  waitUntil,
} from "./loop-support.js";

const [R0, R2] = [at(OCI_RELEASES, 0), at(OCI_RELEASES, 2)];
const HOOK_LOG = "run/hooks.log";

const hookLines = (rig: NodeRig) => (existsSync(join(rig.root, HOOK_LOG)) ? readFileSync(join(rig.root, HOOK_LOG), "utf8").trim().split("\n") : []);

test("hooks: pre-reboot.d is told the versions and the node, and runs before FinalizeDeployment; post-boot.d after the verified boot", async () => {
  const rig = await startNodeRig({ releases: OCI_RELEASES, booted: 0 });
  try {
    const id = await readNodeUuid(rig.root);
    putScript(rig, `${PRE_REBOOT_DIR}/10-drain`, recordingHook(rig, HOOK_LOG));
    putScript(rig, `${POST_BOOT_DIR}/10-uncordon`, recordingHook(rig, HOOK_LOG));
    rig.startAgent();
    await finalized(rig);
    assert.deepEqual(hookLines(rig), [`10-drain old=${R0.version} new=${R2.version} node=${id} group=default finalized=0`]);
    assert.equal(await finalizeCount(rig), 1);

    await rig.reboot();
    await rig.waitForStatus("idle on the new release", (s) => s.state === "idle" && s.booted?.version === R2.version);
    const lines = hookLines(rig);
    assert.equal(lines.length, 2, lines.join("\n"));
    assert.equal(lines[1], `10-uncordon old=${R0.version} new=${R2.version} node=${id} group=default finalized=1`);
    const log = rig.log();
    const verified = log.indexOf("passed its health checks");
    assert.ok(verified >= 0 && verified < log.indexOf("10-uncordon: ran"), "post-boot hooks run once the boot is verified");
  } finally {
    await rig.stop();
  }
});

test("hooks: a failing pre-reboot hook postpones the reboot, gives the reboot slot back, and says so", async () => {
  const server = await startFleetLockServer();
  const rig = await startNodeRig({
    releases: OCI_RELEASES,
    booted: 0,
    config: `[updates]\nstrategy = "fleet_lock"\n[updates.fleet_lock]\nbase_url = "${server.baseUrl}"\n`,
  });
  try {
    const id = await readNodeUuid(rig.root);
    putScript(rig, `${PRE_REBOOT_DIR}/10-drain`, recordingHook(rig, HOOK_LOG, 3));
    rig.startAgent();
    const waiting = await waitingFor(rig, "hook");
    assert.equal(waiting.waiting?.message, "pre-reboot hook failed: 10-drain exited with 3");
    const text = await humanStatus(rig);
    assert.equal(waitingLine(text), "Waiting: pre-reboot hook: pre-reboot hook failed: 10-drain exited with 3", text);
    await assertNotFinalized(rig);
    // The slot was taken for the hook, then given back: steady-state after pre-reboot, nothing held.
    const ours = server.calls.filter((c) => c.id === id).map((c) => c.api);
    const taken = ours.indexOf("pre-reboot");
    assert.ok(taken > 0 && ours.indexOf("steady-state", taken) > taken, ours.join(" "));
    await waitUntil("the slot given back", () => server.holders().length === 0);
    assert.match(rig.log(), /10-drain: cannot drain this node/);

    // The admin fixes the drain: the next attempt takes the slot again and reboots.
    putScript(rig, `${PRE_REBOOT_DIR}/10-drain`, recordingHook(rig, HOOK_LOG));
    await finalized(rig);
    assert.deepEqual(server.holders(), [id]);
    assert.equal(await finalizeCount(rig), 1);
    assert.match(hookLines(rig).at(-1) ?? "", /finalized=0$/);
  } finally {
    await rig.stop();
    await server.close();
  }
});
