/**
 * kill -9 of agentd in each state of the loop, then a restart: the write-ahead state file and the start-up
 * reconciliation must resume without staging a release twice or finalizing twice, and converge (after the
 * harness's reboot where one is due) to idle on the new release. Idle, staging and staged here; finalizing and
 * finalized in loop-crash-finalize.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { graphFor, startNodeRig } from "../helpers/node-rig.js";
import { OCI_RELEASES, at } from "../sim/sample-releases.js";
import { assertConverges, closedWindowConfig, stageCalls, writeFragment } from "./loop-helpers.js";

const [R0, R1, R2] = [at(OCI_RELEASES, 0), at(OCI_RELEASES, 1), at(OCI_RELEASES, 2)];

test("loop: kill -9 while idle, then restart: the update is staged once and finalized once", async () => {
  let offered = [R0];
  const rig = await startNodeRig({ releases: OCI_RELEASES, booted: 0, graphBody: () => graphFor(offered) });
  try {
    rig.startAgent();
    await rig.waitForStatus("idle", (s) => s.state === "idle" && s.last_check !== null);
    await rig.killAgent();
    offered = [R0, R1, R2];
    rig.startAgent();
    await assertConverges(rig, R2);
  } finally {
    await rig.stop();
  }
});

test("loop: kill -9 while staging, then restart: no second stage, one finalize", async () => {
  // An 8 s transaction: normally still running in rpm-ostreed when the new agentd starts, which must wait for it
  // rather than start (or join) a second one. On a very slow machine it has finished, and the restart finds it staged.
  const rig = await startNodeRig({ releases: OCI_RELEASES, booted: 0, faults: { progressSignals: 40, progressIntervalMs: 200 } });
  try {
    rig.startAgent();
    await rig.waitForStatus("staging in progress", (s) => s.state === "staging" && s.progress !== null && (s.progress.percent ?? 0) > 0);
    await rig.killAgent();
    rig.startAgent();
    await assertConverges(rig, R2);
    assert.match(rig.log(), /43\.20251124\.3\.0 is already staged; not staging it again|found 43\.20251124\.3\.0 already staged; not staging it again/);
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
    const apply = await rig.agentctl("apply-now");
    assert.equal(apply.code, 0, apply.stderr);
    await assertConverges(rig, R2);
  } finally {
    await rig.stop();
  }
});
