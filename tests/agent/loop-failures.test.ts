/**
 * The agent loop against a misbehaving rpm-ostreed (simulator fault knobs): failed deployments are retried a
 * bounded number of times and then abandoned for good, a wrong staged deployment is removed, and a daemon
 * that dies in the middle of a transaction is survived.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { graphFor, startNodeRig } from "../helpers/node-rig.js";
import { OCI_RELEASES, at } from "../sim/sample-releases.js";
import { methodCalls, stageCalls, trace, waitUntil, writeFragment } from "./loop-helpers.js";

const [R0, R1, R2] = [at(OCI_RELEASES, 0), at(OCI_RELEASES, 1), at(OCI_RELEASES, 2)];

test("loop: deploy failures are retried max_deploy_attempts times, then the release is denylisted for good; a newer one is taken", async () => {
  let offered = [R0, R1];
  const rig = await startNodeRig({ releases: OCI_RELEASES, booted: 0, graphBody: () => graphFor(offered), faults: { deployFailures: 3 } });
  try {
    writeFragment(rig, "60-loop.toml", "[agent.timing]\nmax_deploy_attempts = 3\n");
    rig.startAgent();
    const retrying = await rig.waitForStatus("a failed attempt", (s) => s.state === "staging" && /failed attempts: 1/.test(s.status_text));
    assert.match(retrying.last_error?.message ?? "", /HTTP 503 \(simulated\)/);

    const abandoned = await rig.waitForStatus("R1 denylisted", (s) => s.denylist.length === 1);
    assert.equal(abandoned.denylist[0]?.version, R1.version);
    assert.equal(abandoned.denylist[0]?.source, "local");
    assert.match(abandoned.denylist[0]?.reason ?? "", /deploy failed 3 times/);
    assert.equal(stageCalls(await rig.sim.calls(), R1).length, 3);

    // The graph keeps offering R1: the agent keeps checking, but never stages it again.
    const checks = rig.graph.requests.length;
    await waitUntil("three more graph checks", () => rig.graph.requests.length >= checks + 3, 30_000);
    const idle = await rig.status();
    assert.equal(idle?.state, "idle");
    assert.equal(idle?.target, null);
    let calls = await rig.sim.calls();
    assert.equal(stageCalls(calls, R1).length, 3, trace(calls));

    const listed = await rig.agentctl("denylist", "--json");
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok(listed.stdout.includes(R1.version), listed.stdout);

    offered = [R0, R1, R2];
    const finalized = await rig.waitForStatus("R2 finalized", (s) => s.state === "finalized");
    assert.equal(finalized.target?.version, R2.version);
    calls = await rig.sim.calls();
    assert.equal(stageCalls(calls, R1).length, 3, trace(calls));
    assert.equal(stageCalls(calls, R2).length, 1, trace(calls));
    assert.equal(methodCalls(calls, "FinalizeDeployment").length, 1, trace(calls));
  } finally {
    await rig.stop();
  }
});

test("loop: a deployment staged with the wrong version is cleaned up and its release abandoned", async () => {
  const rig = await startNodeRig({ releases: OCI_RELEASES, booted: 0, faults: { stageWrongVersion: 1 } });
  try {
    rig.startAgent();
    const abandoned = await rig.waitForStatus("R2 abandoned", (s) => s.denylist.some((d) => d.version === R2.version));
    assert.match(abandoned.denylist[0]?.reason ?? "", /abandoned: .*version 43\.20251124\.3\.0\.wrong instead of 43\.20251124\.3\.0/);
    const finalized = await rig.waitForStatus("R1 finalized instead", (s) => s.state === "finalized");
    assert.equal(finalized.target?.version, R1.version);
    const calls = await rig.sim.calls();
    const os = calls.filter((c) => c.interface.endsWith(".OS") && c.args[0] !== "").map((c) => c.method);
    const wrong = os.indexOf("Deploy");
    assert.ok(os.indexOf("Cleanup", wrong) > wrong, `the wrong deployment is cleaned up before anything else is staged: ${trace(calls)}`);
    assert.equal(stageCalls(calls, R2).length, 1, trace(calls));
    assert.equal(stageCalls(calls, R1).length, 1, trace(calls));
    assert.equal(methodCalls(calls, "FinalizeDeployment").length, 1, trace(calls));
    const records = (await rig.sim.dump()).records;
    assert.ok(!records.some((r) => r.version.endsWith(".wrong")), JSON.stringify(records.map((r) => r.version)));
  } finally {
    await rig.stop();
  }
});

test("loop: rpm-ostreed exiting in the middle of a staging transaction: the agent retries once it is back", async () => {
  let offered = [R0];
  const rig = await startNodeRig({ releases: OCI_RELEASES, booted: 0, graphBody: () => graphFor(offered), faults: { progressSignals: 4, progressIntervalMs: 100 } });
  try {
    const agent = rig.startAgent();
    await rig.waitForStatus("idle", (s) => s.state === "idle" && s.last_check !== null);
    await waitUntil("the driver registration", async () => (await rig.sim.dump())["update-driver"] !== null);
    // Only now, so the fault hits the staging transaction and not the registration.
    await rig.sim.control.setFaults({ exitMidTransaction: 1 });
    offered = [R0, R1, R2];
    const finalized = await rig.waitForStatus("finalized", (s) => s.state === "finalized");
    assert.equal(finalized.target?.version, R2.version);
    assert.equal(rig.sim.unexpectedExits, 1);
    assert.equal(agent.exitCode, null, "agentd is still running");
    const calls = await rig.sim.calls();
    assert.equal(stageCalls(calls, R2).length, 2, trace(calls));
    assert.equal(methodCalls(calls, "FinalizeDeployment").length, 1, trace(calls));
    assert.match(rig.log(), /failed to stage deployment/);
    const dump = await rig.sim.dump();
    assert.deepEqual(dump.rebootRequests.map((r) => r.version), [R2.version]);
  } finally {
    await rig.stop();
  }
});
