/**
 * kill -9 of agentd once it has decided to reboot: while finalizing (the write-ahead record is down, the call
 * may or may not have happened) and once finalized (the reboot is under way). A restart never finalizes twice,
 * and a finalization that never ran is not blamed on the release. The other states: loop-crash.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { startNodeRig } from "../helpers/node-rig.js";
import { OCI_RELEASES, at } from "../sim/sample-releases.js";
import { assertConverges, closedWindowConfig, methodCalls, stageCalls, trace, waitUntil, writeFragment } from "./loop-helpers.js";

const [R0, R2] = [at(OCI_RELEASES, 0), at(OCI_RELEASES, 2)];

test("loop: kill -9 once finalized (the reboot not done yet), then restart: no second finalize", async () => {
  const rig = await startNodeRig({ releases: OCI_RELEASES, booted: 0 });
  try {
    rig.startAgent();
    await rig.waitForStatus("finalized", (s) => s.state === "finalized");
    await rig.killAgent();
    rig.startAgent();
    const resumed = await rig.waitForStatus("finalized after the restart", (s) => s.state === "finalized");
    assert.equal(resumed.target?.version, R2.version);
    assert.match(rig.log(), /is finalized; waiting for the reboot/);
    await assertConverges(rig, R2);
  } finally {
    await rig.stop();
  }
});

test("loop: kill -9 while finalizing (FinalizeDeployment hung, rpm-ostreed restarted), then a manual reboot: the release is staged again, not denylisted, and finalized once", async () => {
  const rig = await startNodeRig({ releases: OCI_RELEASES, booted: 0 });
  try {
    writeFragment(rig, "60-loop.toml", closedWindowConfig());
    rig.startAgent();
    await rig.waitForStatus("staged, waiting", (s) => s.state === "staged" && s.waiting?.kind === "window");
    await rig.sim.control.setFaults({ hangTransactions: 1 });
    assert.equal((await rig.agentctl("apply-now")).code, 0);
    await rig.waitForStatus("finalizing", (s) => s.state === "finalizing");
    await waitUntil("the FinalizeDeployment call", async () => methodCalls(await rig.sim.calls(), "FinalizeDeployment").length === 1);
    await rig.killAgent();
    // The hung transaction ends with its daemon; the deployment stays staged and finalization-locked.
    await rig.sim.restart();
    assert.deepEqual((await rig.sim.dump()).records.filter((r) => r.staged).map((r) => [r.version, r.locked]), [[R2.version, true]]);
    rig.startAgent();
    await rig.waitForStatus("staged again, never finalized", (s) => s.state === "staged" && s.waiting?.kind === "window");
    assert.match(rig.log(), /staged but was never finalized/);

    // An admin reboots by hand: the locked deployment is dropped, so the agent stages it again.
    await rig.reboot();
    const restaged = await rig.waitForStatus("staged after the manual reboot", (s) => s.state === "staged" && s.booted?.version === R0.version && s.waiting?.kind === "window");
    assert.equal(restaged.target?.version, R2.version);
    assert.deepEqual(restaged.denylist, [], "a release that was never finalized is not blamed for the reboot");
    assert.equal(stageCalls(await rig.sim.calls(), R2).length, 2);

    assert.equal((await rig.agentctl("apply-now")).code, 0);
    await rig.waitForStatus("finalized", (s) => s.state === "finalized");
    await rig.reboot();
    const idle = await rig.waitForStatus("idle on R2", (s) => s.state === "idle" && s.booted?.version === R2.version && s.last_check?.outcome === "no-update");
    assert.deepEqual(idle.denylist, []);
    const dump = await rig.sim.dump();
    assert.deepEqual(dump.rebootRequests.map((r) => r.version), [R2.version], "finalized once");
    const calls = await rig.sim.calls();
    assert.equal(methodCalls(calls, "FinalizeDeployment").length, 2, `the hung call and the one that worked: ${trace(calls)}`);
  } finally {
    await rig.stop();
  }
});
