/**
 * kill -9 of agentd in each state of the loop, then a restart: the write-ahead state file and the start-up
 * reconciliation must resume without staging a release twice or finalizing twice, and converge (after the
 * harness's reboot where one is due) to idle on the new release.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { graphFor, startNodeRig, type NodeRig } from "../helpers/node-rig.js";
import { OCI_RELEASES, at } from "../sim/sample-releases.js";
import { agentctl, closedWindowConfig, methodCalls, stageCalls, trace, writeFragment } from "./loop-helpers.js";

const [R0, R1, R2] = [at(OCI_RELEASES, 0), at(OCI_RELEASES, 1), at(OCI_RELEASES, 2)];

/** Restarted after the crash: finalized (rebooting where the sim asks for it), then idle on R2, one stage and one finalize. */
async function assertConverges(rig: NodeRig): Promise<void> {
  await rig.waitForStatus("finalized", (s) => s.state === "finalized");
  assert.equal((await rig.sim.dump()).rebootRequests.length, 1);
  await rig.reboot();
  const idle = await rig.waitForStatus("idle on R2", (s) => s.state === "idle" && s.booted?.version === R2.version && s.last_check !== null);
  assert.equal(idle.pending_reboot, false);
  assert.deepEqual(idle.denylist, []);
  const calls = await rig.sim.calls();
  assert.equal(stageCalls(calls).length, 1, `one stage in all: ${trace(calls)}`);
  assert.equal(stageCalls(calls, R2).length, 1, trace(calls));
  assert.equal(methodCalls(calls, "FinalizeDeployment").length, 1, `one finalize in all: ${trace(calls)}`);
  assert.equal((await rig.sim.dump()).rebootRequests.length, 1);
}

test("loop: kill -9 while idle, then restart: the update is staged once and finalized once", async () => {
  let offered = [R0];
  const rig = await startNodeRig({ releases: OCI_RELEASES, booted: 0, graphBody: () => graphFor(offered) });
  try {
    rig.startAgent();
    await rig.waitForStatus("idle", (s) => s.state === "idle" && s.last_check !== null);
    await rig.killAgent();
    offered = [R0, R1, R2];
    rig.startAgent();
    await assertConverges(rig);
  } finally {
    await rig.stop();
  }
});

test("loop: kill -9 while staging, then restart: no second stage, one finalize", async () => {
  // A 6 s transaction: it is still running in rpm-ostreed when the new agentd starts.
  const rig = await startNodeRig({ releases: OCI_RELEASES, booted: 0, faults: { progressSignals: 30, progressIntervalMs: 200 } });
  try {
    rig.startAgent();
    await rig.waitForStatus("staging in progress", (s) => s.state === "staging" && s.progress !== null && (s.progress.percent ?? 0) > 0);
    await rig.killAgent();
    rig.startAgent();
    const waiting = await rig.waitForStatus("waiting for the orphaned transaction", (s) => s.state === "staging" && /waiting for rpm-ostreed/.test(s.progress?.message ?? ""));
    assert.equal(waiting.target?.version, R2.version);
    await assertConverges(rig);
    assert.match(rig.log(), /43\.20251124\.3\.0 is already staged; not staging it again/);
  } finally {
    await rig.stop();
  }
});

test("loop: kill -9 while staged and waiting for the window, then restart: still staged, no second stage; apply-now finalizes once", async () => {
  const rig = await startNodeRig({ releases: OCI_RELEASES, booted: 0 });
  try {
    writeFragment(rig, "60-loop.toml", closedWindowConfig());
    rig.startAgent();
    await rig.waitForStatus("staged, waiting", (s) => s.state === "staged" && s.waiting?.kind === "window");
    await rig.killAgent();
    rig.startAgent();
    const resumed = await rig.waitForStatus("staged again, waiting", (s) => s.state === "staged" && s.waiting?.kind === "window");
    assert.equal(resumed.target?.version, R2.version);
    assert.equal(stageCalls(await rig.sim.calls()).length, 1);
    const apply = await agentctl(rig, "apply-now");
    assert.equal(apply.code, 0, apply.stderr);
    await assertConverges(rig);
  } finally {
    await rig.stop();
  }
});

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
    await assertConverges(rig);
  } finally {
    await rig.stop();
  }
});
