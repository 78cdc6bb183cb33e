/**
 * The agent loop end to end on a real dbus-daemon, the rpm-ostreed simulator and a loopback graph server:
 * the full cycle, progress and pending reboot in the status document, the update driver registration,
 * control over D-Bus, and a newer release replacing a stale staged one.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { graphFor, startNodeRig } from "../helpers/node-rig.js";
import { OCI_RELEASES, at } from "../sim/sample-releases.js";
import type { StatusView } from "../../src/agent/view.js";
import { closedWindowConfig, methodCalls, stageCalls, sleep, trace, waitUntil, writeFragment } from "./loop-helpers.js";

const [R0, R1, R2] = [at(OCI_RELEASES, 0), at(OCI_RELEASES, 1), at(OCI_RELEASES, 2)];

test("loop: check, stage with progress, finalize, reboot, verify: one stage and one finalize", async () => {
  const rig = await startNodeRig({ releases: OCI_RELEASES, booted: 0, faults: { progressSignals: 10, progressIntervalMs: 200 } });
  try {
    rig.startAgent();
    const staging = await rig.waitForStatus("staging progress", (s) => s.state === "staging" && (s.progress?.percent ?? 0) > 0);
    assert.equal(staging.target?.version, R2.version);
    assert.match(staging.status_text, /^found update on remote: 43\.20251124\.3\.0; staging \(\d+%\)$/);
    assert.equal(staging.pending_reboot, false);

    const finalized = await rig.waitForStatus("finalized, unlocked", (s) => s.state === "finalized" && s.staged?.finalization_locked === false);
    assert.equal(finalized.pending_reboot, true);
    assert.equal(finalized.staged?.version, R2.version);
    assert.equal(finalized.progress, null);
    assert.equal(finalized.status_text, `update applied, waiting for reboot: ${R2.version}`);
    const json = await rig.agentctl("status", "--json");
    assert.equal(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout) as StatusView & { format_version: number };
    assert.equal(doc.format_version, 1);
    assert.equal(doc.state, "finalized");
    assert.equal(doc.pending_reboot, true);
    assert.equal((await rig.agentctl("status", "--pending-exit-77")).code, 77);

    const dump = await rig.sim.dump();
    assert.equal(dump["update-driver"]?.["driver-name"], "update-agent");
    assert.deepEqual(dump.rebootRequests.map((r) => [r.reason, r.version]), [["finalize", R2.version]]);

    await rig.reboot();
    const done = await rig.waitForStatus("idle on the new release", (s) => s.state === "idle" && s.booted?.version === R2.version && s.last_check?.outcome === "no-update");
    assert.equal(done.pending_reboot, false);
    assert.equal(done.last_check?.outcome, "no-update");
    assert.equal(done.staged, null);
    const calls = await rig.sim.calls();
    assert.equal(stageCalls(calls).length, 1, trace(calls));
    assert.equal(stageCalls(calls, R2).length, 1, trace(calls));
    assert.equal(methodCalls(calls, "FinalizeDeployment").length, 1, trace(calls));
    // The registration is redone after the reboot (rpm-ostree keeps it on a tmpfs).
    assert.equal((await rig.sim.dump())["update-driver"]?.["driver-name"], "update-agent");
    assert.match(rig.log(), /passed its health checks; update complete/);
  } finally {
    await rig.stop();
  }
});

test("loop: while staged and waiting for a window, a newer release replaces the stale staged one", async () => {
  let offered = [R0, R1];
  const rig = await startNodeRig({ releases: OCI_RELEASES, booted: 0, graphBody: () => graphFor(offered) });
  try {
    writeFragment(rig, "60-loop.toml", closedWindowConfig());
    rig.startAgent();
    const waiting = await rig.waitForStatus("R1 staged, waiting for the window", (s) => s.state === "staged" && s.waiting?.kind === "window");
    assert.equal(waiting.target?.version, R1.version);
    assert.equal(waiting.strategy, "periodic");
    assert.equal(waiting.pending_reboot, true);
    assert.ok(waiting.waiting?.until, "the wait says when the window opens");

    offered = [R0, R1, R2];
    const replaced = await rig.waitForStatus("R2 staged instead", (s) => s.state === "staged" && s.target?.version === R2.version && s.waiting !== null);
    assert.equal(replaced.pending_reboot, true);
    // What rpm-ostree has staged, as `agentctl status` shows it on its Staged line.
    await rig.waitForStatus("the staged deployment shown", (s) => s.staged?.version === R2.version && s.staged.finalization_locked);
    const human = await rig.agentctl("status");
    assert.match(human.stdout, /Staged: 43\.20251124\.3\.0 /, human.stdout);
    const calls = await rig.sim.calls();
    const os = calls.filter((c) => c.interface.endsWith(".OS") && c.args[0] !== "");
    const order = os.map((c) => (c.method === "Deploy" ? String(c.args[0]) : c.method));
    const r1 = order.indexOf(R1.payload.split("@")[1]!);
    const cleanup = order.indexOf("Cleanup", r1);
    const r2 = order.indexOf(R2.payload.split("@")[1]!, cleanup);
    assert.ok(r1 >= 0 && cleanup > r1 && r2 > cleanup, `stage R1, cleanup, stage R2: ${trace(calls)}`);
    assert.equal(stageCalls(calls, R1).length, 1, trace(calls));
    assert.equal(stageCalls(calls, R2).length, 1, trace(calls));
    assert.equal(methodCalls(calls, "FinalizeDeployment").length, 0, trace(calls));
    const staged = (await rig.sim.dump()).records.filter((r) => r.staged);
    assert.deepEqual(staged.map((r) => [r.version, r.locked]), [[R2.version, true]]);
  } finally {
    await rig.stop();
  }
});

test("loop: control over D-Bus: check now, pause stops staging, resume continues", async () => {
  let offered = [R0];
  const rig = await startNodeRig({ releases: OCI_RELEASES, booted: 0, graphBody: () => graphFor(offered) });
  try {
    // A long steady interval: only `agentctl check` makes the agent look again.
    writeFragment(rig, "60-loop.toml", "[agent.timing]\nsteady_interval_secs = 3600\n");
    const agent = rig.startAgent();
    const first = await rig.waitForStatus("first check", (s) => s.state === "idle" && s.last_check !== null);
    assert.equal(first.last_check?.outcome, "no-update");
    const requestsAfterFirst = rig.graph.requests.length;

    const check = await rig.agentctl("check");
    assert.equal(check.code, 0, check.stderr);
    await waitUntil("a second graph request", () => rig.graph.requests.length > requestsAfterFirst);
    await rig.waitForStatus("the second check recorded", (s) => s.last_check?.at !== undefined && s.last_check.at !== first.last_check?.at);

    const until = new Date(Date.now() + 3_600_000).toISOString();
    const pause = await rig.agentctl("pause", "--until", until);
    assert.equal(pause.code, 0, pause.stderr);
    const paused = await rig.waitForStatus("paused", (s) => s.paused_until !== null);
    assert.ok(Math.abs(Date.parse(paused.paused_until!) - Date.parse(until)) < 1_000, paused.paused_until!);

    // While paused, a release appears and the steady interval becomes short: the loop must not look, nor stage.
    offered = [R0, R1, R2];
    writeFragment(rig, "60-loop.toml", "[agent.timing]\nsteady_interval_secs = 1\n");
    agent.kill("SIGHUP");
    await waitUntil("the reload", () => /configuration reloaded/.test(rig.log()));
    const requestsWhilePaused = rig.graph.requests.length;
    await sleep(3_000);
    const still = await rig.status();
    assert.equal(still?.state, "idle");
    assert.equal(rig.graph.requests.length, requestsWhilePaused, "no graph checks while paused");
    assert.equal(stageCalls(await rig.sim.calls()).length, 0);

    const resume = await rig.agentctl("resume");
    assert.equal(resume.code, 0, resume.stderr);
    const done = await rig.waitForStatus("finalized after resume", (s) => s.state === "finalized");
    assert.equal(done.target?.version, R2.version);
    assert.equal(done.paused_until, null);
    const calls = await rig.sim.calls();
    assert.equal(stageCalls(calls).length, 1, trace(calls));
    assert.equal(methodCalls(calls, "FinalizeDeployment").length, 1, trace(calls));
  } finally {
    await rig.stop();
  }
});
