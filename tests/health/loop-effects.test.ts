/**
 * Boot verification when its own steps go wrong, on a simulated node (tests/helpers/node-rig.ts): the record is
 * saved before the step that reboots, and a refused rollback neither crashes the agent nor is forgotten.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { P, REQUIRED, X, failsOn, healthJson, readText, rollbackCalls, startHealthRig, waitFor } from "./loop-rig.js";

const INHIBITED = "Reboot blocked by a systemd inhibitor lock in block mode";

test("rpm-ostree refuses the rollback: the agent stays up and held, says why, and rolls back at its next start", async () => {
  const rig = await startHealthRig({ offered: [P, X], health: "max_boot_attempts = 1", scripts: { [`${REQUIRED}/10-app`]: failsOn(X.version) } });
  try {
    rig.startAgent();
    await rig.waitForStatus(`${X.version} finalized`, (s) => s.state === "finalized" && s.target?.version === X.version);
    await rig.sim.control.setFaults({ failTransactions: { Rollback: { count: 1, message: INHIBITED } } });

    await rig.reboot();
    const held = await rig.waitForStatus("held after the refused rollback", (s) => s.state === "held");
    assert.match(held.status_text, new RegExp(`could not roll back from ${X.version} to ${P.version}: .*${INHIBITED}`));
    assert.equal(held.booted?.version, X.version);
    assert.equal(held.denylist.find((e) => e.payload === X.payload)?.reason, "failed required health checks on 1 boot (10-app)");
    assert.equal((await healthJson(rig)).json.boot?.kind, "rolling-back");
    assert.equal(rollbackCalls(await rig.sim.calls()).length, 1);

    // The next start (the admin restarts it, or the node reboots) finishes the job without running the checks again.
    await rig.stopAgent();
    rig.startAgent();
    await waitFor(rig, "a second Rollback call", async () => rollbackCalls(await rig.sim.calls()).length === 2);
    await rig.waitForStatus("waiting for the rollback's reboot", (s) => s.state === "finalized" && s.target?.version === P.version);
    await rig.reboot();
    const back = await rig.waitForStatus(`idle on ${P.version}`, (s) => s.state === "idle" && s.booted?.version === P.version);
    assert.deepEqual(back.denylist.map((e) => [e.version, e.reason]), [[X.version, "failed required health checks on 1 boot (10-app)"]]);
    assert.equal((await healthJson(rig)).json.boot?.kind, "rolled-back");
  } finally {
    await rig.stop();
  }
});

test("the rollback record is saved before the rollback starts: a crash in the middle does not run X's checks again", async () => {
  const rig = await startHealthRig({ offered: [P, X], health: "max_boot_attempts = 1", scripts: { [`${REQUIRED}/10-app`]: failsOn(X.version) } });
  try {
    rig.install("etc/update-agent/red.d/50-mark", `#!/bin/sh\necho "red on $UPDATE_AGENT_BOOTED_VERSION" >> ${rig.path("red-ran")}\n`);
    rig.startAgent();
    await rig.waitForStatus(`${X.version} finalized`, (s) => s.state === "finalized" && s.target?.version === X.version);
    // The first transaction after the boot (dropping anything staged, before Rollback) never finishes.
    await rig.sim.control.setFaults({ hangTransactions: 1 });

    await rig.reboot();
    await waitFor(rig, "the agent's first transaction to hang", async () => (await rig.sim.dump()).transaction?.[0] === "Cleanup");
    const during = await healthJson(rig);
    assert.equal(during.json.boot?.kind, "rolling-back", "the decision is on disk before its first step");
    assert.match(rig.motd() ?? "", new RegExp(`ROLLING BACK from ${X.version} to ${P.version}`));

    // The agent dies here (kill -9); rpm-ostreed restarts too and forgets the hung transaction.
    await rig.killAgent();
    await rig.sim.restart();
    rig.startAgent();
    await waitFor(rig, "the Rollback call", async () => rollbackCalls(await rig.sim.calls()).length === 1);
    await rig.waitForStatus("waiting for the rollback's reboot", (s) => s.state === "finalized" && s.target?.version === P.version);
    await rig.reboot();
    const back = await rig.waitForStatus(`idle on ${P.version}`, (s) => s.state === "idle" && s.booted?.version === P.version);
    assert.equal(back.denylist.find((e) => e.payload === X.payload)?.reason, "failed required health checks on 1 boot (10-app)");
    assert.equal(readText(rig.path("red-ran")), `red on ${X.version}\n`, "X's checks and red.d ran once");
  } finally {
    await rig.stop();
  }
});
