/**
 * Boot verification end to end, on a simulated node (tests/helpers/node-rig.ts): what each kind of check result
 * does to an update boot (a hang, a wanted failure, a greenboot script, on_failure = "hold"), and what checks do on
 * a boot that verifies nothing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { P, REQUIRED, WANTED, X, failsOn, graphChecks, healthJson, readText, rollbackCalls, stagingCallsFor, startHealthRig, waitFor } from "./loop-rig.js";

test("a check that hangs on X times out: unhealthy, 'timed out' in agentctl health, rolled back", async () => {
  const hangs = `#!/bin/sh\n[ "$UPDATE_AGENT_BOOTED_VERSION" = "${X.version}" ] && sleep 600\nexit 0\n`;
  const rig = await startHealthRig({
    offered: [P, X],
    health: "check_timeout_secs = 1\nmax_boot_attempts = 1",
    scripts: { [`${REQUIRED}/20-hangs`]: hangs },
  });
  try {
    rig.startAgent();
    await rig.waitForStatus(`${X.version} finalized`, (s) => s.state === "finalized" && s.target?.version === X.version);
    await rig.reboot();
    await waitFor(rig, "a Rollback call", async () => rollbackCalls(await rig.sim.calls()).length === 1);
    const s = await rig.waitForStatus("the state saved after the rollback", (v) => v.state === "finalized" && v.target?.version === P.version);
    assert.equal(s.denylist.find((e) => e.payload === X.payload)?.reason, "failed required health checks on 1 boot (20-hangs)");
    const { code, json } = await healthJson(rig);
    assert.equal(code, 1);
    assert.equal(json.health?.verdict, "unhealthy");
    assert.deepEqual(json.health?.required.map((p) => [p.name, p.timedOut, p.ok]), [["20-hangs", true, false]]);
    const text = await rig.agentctl("health");
    assert.match(text.stdout, /20-hangs.*timed out/);
    assert.match(rig.motd() ?? "", /20-hangs \(timed out\)\. Boot status is RED/);
  } finally {
    await rig.stop();
  }
});

test("a wanted check failing on X: degraded, X is kept, no rollback, the warning shows in status, health and MOTD", async () => {
  const rig = await startHealthRig({ offered: [P, X], scripts: { [`${WANTED}/30-ntp`]: failsOn(X.version, "clock not synchronised") } });
  try {
    rig.startAgent();
    await rig.waitForStatus(`${X.version} finalized`, (s) => s.state === "finalized" && s.target?.version === X.version);
    // The agent restarts before the reboot (same boot id): the verification record survives it.
    await rig.stopAgent();
    rig.startAgent();
    await rig.waitForStatus(`${X.version} still finalized after an agent restart`, (s) => s.state === "finalized" && s.target?.version === X.version);
    assert.equal((await healthJson(rig)).json.boot?.kind, "pending");

    await rig.reboot();
    await rig.waitForStatus(`idle on ${X.version}`, (s) => s.state === "idle" && s.booted?.version === X.version);
    assert.equal(rollbackCalls(await rig.sim.calls()).length, 0);
    assert.equal(rig.logind.reboots(), 0);
    const { code, json } = await healthJson(rig);
    assert.equal(code, 0, "a degraded boot is not a failure for agentctl health");
    assert.equal(json.health?.verdict, "degraded");
    assert.equal(json.boot?.kind, "verified");
    assert.deepEqual((await rig.status())?.denylist, []);
    const status = await rig.agentctl("status");
    assert.match(status.stdout, /Health: DEGRADED: wanted checks failed: 30-ntp \(exit 1\)/);
    assert.match(rig.motd() ?? "", /wanted checks failed: 30-ntp \(exit 1\)\. Boot status is GREEN \(degraded\)/);
    assert.match(rig.log(), /passed its health checks \(degraded: wanted checks failed: 30-ntp\)/);
  } finally {
    await rig.stop();
  }
});

test("a greenboot *.sh without the exec bit in /etc/greenboot/check/required.d counts as a required check", async () => {
  const rig = await startHealthRig({
    offered: [P, X],
    files: {
      "etc/update-agent/config.d/61-greenboot.toml": "[health]\ngreenboot_dirs = true\nmax_boot_attempts = 1\n",
      // greenboot scripts often ship without the exec bit: greenboot runs them with bash anyway.
      "etc/greenboot/check/required.d/40-gb.sh": { body: failsOn(X.version, "greenboot check failed"), mode: 0o644 },
    },
  });
  try {
    rig.install("etc/greenboot/red.d/red.sh", `echo "$UPDATE_AGENT_HEALTH_PHASE" > ${rig.path("greenboot-red-ran")}\n`, 0o644);
    rig.startAgent();
    await rig.waitForStatus(`${X.version} finalized`, (s) => s.state === "finalized" && s.target?.version === X.version);
    await rig.reboot();
    await waitFor(rig, "a Rollback call", async () => rollbackCalls(await rig.sim.calls()).length === 1);
    const s = await rig.waitForStatus("the state saved after the rollback", (v) => v.state === "finalized" && v.target?.version === P.version);
    assert.equal(s.denylist.find((e) => e.payload === X.payload)?.reason, "failed required health checks on 1 boot (40-gb.sh)");
    const { json } = await healthJson(rig);
    const part = json.health?.required.find((p) => p.name === "40-gb.sh");
    assert.equal(part?.ok, false);
    assert.equal(part?.skipped, null);
    assert.match(part?.outputTail ?? "", /greenboot check failed on/);
    await waitFor(rig, "greenboot's red.d to run", () => readText(rig.path("greenboot-red-ran")) === "red\n");
  } finally {
    await rig.stop();
  }
});

test('on_failure = "hold": X stays booted, status is "held" with a loud message, no rollback, and a restart keeps it', async () => {
  const rig = await startHealthRig({ offered: [P, X], health: 'on_failure = "hold"', scripts: { [`${REQUIRED}/10-app`]: failsOn(X.version) } });
  try {
    rig.startAgent();
    await rig.waitForStatus(`${X.version} finalized`, (s) => s.state === "finalized" && s.target?.version === X.version);
    await rig.reboot();
    const held = await rig.waitForStatus("held", (s) => s.state === "held");
    assert.equal(held.booted?.version, X.version);
    assert.match(held.status_text, new RegExp(`^held: ${X.version} failed required health checks \\(10-app\\) and on_failure is "hold": HOLDING on ${X.version} and keeping the reboot slot`));
    assert.deepEqual(held.denylist, [], "a held release is not denylisted: an admin decides");
    assert.equal(rollbackCalls(await rig.sim.calls()).length, 0);
    assert.equal(rig.logind.reboots(), 0);
    assert.match(rig.motd() ?? "", new RegExp(`HELD on ${X.version}: .*The reboot slot stays taken until an admin acts`));
    const status = await rig.agentctl("status");
    assert.match(status.stdout, /HELD on/);

    // Still failing after an agent restart: still held, still no rollback; the agent does not look for updates.
    await rig.stopAgent();
    rig.startAgent();
    const again = await rig.waitForStatus("held after a restart", (s) => s.state === "held");
    assert.equal(again.booted?.version, X.version);
    assert.equal(rollbackCalls(await rig.sim.calls()).length, 0);
    assert.equal((await healthJson(rig)).json.boot?.kind, "held");
  } finally {
    await rig.stop();
  }
});

test("a boot with nothing to verify runs the checks too and shows the result, but never rolls back or reboots", async () => {
  const rig = await startHealthRig({ offered: [P], scripts: { [`${REQUIRED}/10-disk`]: "#!/bin/sh\necho 'disk /var is 99% full' >&2\nexit 1\n" } });
  try {
    rig.install("etc/update-agent/red.d/50-mark", `#!/bin/sh\necho red > ${rig.path("red-ran")}\n`);
    rig.startAgent();
    await rig.waitForStatus(`idle on ${P.version}`, (s) => s.state === "idle" && s.booted?.version === P.version);
    await graphChecks(rig, 1);
    const { code, json } = await healthJson(rig);
    assert.equal(code, 1);
    assert.equal(json.health?.verdict, "unhealthy");
    assert.equal(json.boot, null);
    assert.match(json.health?.required[0]?.outputTail ?? "", /disk \/var is 99% full/);
    const status = await rig.agentctl("status");
    assert.match(status.stdout, /Health: UNHEALTHY: required checks failed: 10-disk \(exit 1\)/);
    assert.match(rig.motd() ?? "", /required health checks FAILED: 10-disk \(exit 1\)\. Boot status is RED\.\nRun `agentctl health` for details\./);
    assert.equal(readText(rig.path("red-ran")), "red\n");
    assert.equal(rollbackCalls(await rig.sim.calls()).length, 0);
    assert.equal(rig.logind.reboots(), 0);
    assert.equal(stagingCallsFor(await rig.sim.calls(), X).length, 0);
    assert.deepEqual((await rig.status())?.denylist, []);
  } finally {
    await rig.stop();
  }
});
