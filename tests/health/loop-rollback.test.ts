/**
 * Boot verification end to end, on a simulated node (tests/helpers/node-rig.ts): a release that fails its required
 * checks is booted again, rolled back, denylisted and skipped for the next one; a release the bootloader could not
 * boot is denylisted as "did not boot" and never tried again.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { decideBoot } from "../../src/health/verdict.js";
import { startVerification } from "../../src/health/record.js";
import { NEXT, P, REQUIRED, X, denylistJson, failsOn, graphChecks, healthJson, metric, readText, rollbackCalls, stagingCallsFor, startHealthRig, waitFor } from "./loop-rig.js";

test("a required check failing on X: red.d, one more boot, rollback, X denylisted, then X+1 is taken", async () => {
  const rig = await startHealthRig({
    offered: [P, X],
    health: "max_boot_attempts = 2",
    scripts: { [`${REQUIRED}/10-app`]: failsOn(X.version) },
  });
  try {
    rig.install("etc/update-agent/red.d/50-mark", `#!/bin/sh\necho "red on $UPDATE_AGENT_BOOTED_VERSION" >> ${rig.path("red-ran")}\n`);
    rig.startAgent();
    await rig.waitForStatus(`${X.version} finalized`, (s) => s.state === "finalized" && s.target?.version === X.version);
    assert.match(rig.motd() ?? "", /health checks passed\. Boot status is GREEN/, "the boot on P was checked too");

    // Boot 1 into X: the check fails, red.d runs, the agent asks logind for a reboot into X again.
    await rig.reboot();
    await waitFor(rig, "a logind Reboot", () => rig.logind.reboots() === 1);
    await rig.waitForStatus("the state saved after the failed boot", (s) => s.booted?.version === X.version);
    assert.equal(readText(rig.path("red-ran")), `red on ${X.version}\n`);
    assert.match(rig.motd() ?? "", /required health checks FAILED: 10-app \(exit 1\)\. Boot status is RED\./);
    assert.match(rig.motd() ?? "", new RegExp(`Rebooting into ${X.version} again \\(boot attempt 2\\)`));
    assert.equal(rollbackCalls(await rig.sim.calls()).length, 0, "no rollback after the first failed boot");
    const first = await healthJson(rig);
    assert.equal(first.code, 1, "agentctl health exits 1 on a failed required check");
    assert.equal(first.json.health?.verdict, "unhealthy");
    assert.deepEqual(first.json.boot && first.json.boot.kind === "pending" ? [first.json.boot.attempt, first.json.boot.failedChecks] : first.json.boot, [2, ["10-app"]]);
    assert.equal(metric(await rig.metrics(), 'update_agent_health_check_failures_total{check="10-app"}'), 1);

    // Boot 2 into X (the reboot logind was asked for): fails again, so rpm-ostree rolls back.
    await rig.reboot();
    await waitFor(rig, "a Rollback call", async () => rollbackCalls(await rig.sim.calls()).length === 1);
    const rolling = await rig.waitForStatus("the state saved after the rollback", (s) => s.state === "finalized" && s.target?.version === P.version);
    assert.equal(rig.logind.reboots(), 1, "the rollback reboots through rpm-ostree, not logind");
    const [rollback] = rollbackCalls(await rig.sim.calls());
    assert.match(JSON.stringify(rollback?.args), /"reboot":\s*true/);
    const entry = rolling.denylist.find((e) => e.payload === X.payload);
    assert.equal(entry?.reason, "failed required health checks on 2 boots (10-app)");
    assert.equal(entry?.source, "local");
    assert.equal(readText(rig.path("red-ran")), `red on ${X.version}\nred on ${X.version}\n`);
    assert.match(rig.motd() ?? "", new RegExp(`ROLLING BACK from ${X.version} to ${P.version}: failed required health checks on 2 boots \\(10-app\\)`));
    const metrics = await rig.metrics();
    assert.equal(metric(metrics, "update_agent_rollbacks_total"), 1);
    assert.equal(metric(metrics, 'update_agent_health_check_failures_total{check="10-app"}'), 1);
    assert.equal((await rig.sim.dump()).rebootRequests.at(-1)?.reason, "rollback");

    // The rollback's reboot: P is booted again and healthy; X stays denylisted and is never staged again.
    const stagedXBefore = stagingCallsFor(await rig.sim.calls(), X).length;
    await rig.reboot();
    await rig.waitForStatus(`idle on ${P.version}`, (s) => s.state === "idle" && s.booted?.version === P.version);
    await graphChecks(rig, 2);
    assert.equal(stagingCallsFor(await rig.sim.calls(), X).length, stagedXBefore, "X is not staged again");
    assert.equal((await rig.status())?.state, "idle");
    const listed = await denylistJson(rig);
    assert.deepEqual(listed.map((e) => [e.version, e.reason, e.source]), [[X.version, "failed required health checks on 2 boots (10-app)", "local"]]);
    assert.match(rig.motd() ?? "", /Boot status is GREEN\./);
    assert.match(rig.motd() ?? "", new RegExp(`ROLLED BACK from ${X.version} to ${P.version}: .*${X.version} will not be installed again automatically`));
    const afterRollback = await healthJson(rig);
    assert.equal(afterRollback.json.health?.verdict, "healthy");
    assert.equal(afterRollback.json.boot?.kind, "rolled-back");
    const status = await rig.agentctl("status");
    assert.match(status.stdout, new RegExp(`ROLLED BACK from ${X.version} to ${P.version}`));

    // The fixed release appears: the agent takes it, and it passes.
    rig.offer([P, X, NEXT]);
    await rig.waitForStatus(`${NEXT.version} finalized`, (s) => s.state === "finalized" && s.target?.version === NEXT.version);
    await rig.reboot();
    await rig.waitForStatus(`idle on ${NEXT.version}`, (s) => s.state === "idle" && s.booted?.version === NEXT.version);
    const verified = await healthJson(rig);
    assert.equal(verified.json.boot?.kind, "verified");
    assert.match(rig.motd() ?? "", new RegExp(`Boot status is GREEN\\.\\nThe update to ${NEXT.version} was verified`));
    assert.equal(metric(await rig.metrics(), "update_agent_boots_verified_total"), 1);
    assert.equal(rollbackCalls(await rig.sim.calls()).length, 1);
    assert.equal(rig.logind.reboots(), 1);
  } finally {
    await rig.stop();
  }
});

test("bootloader fallback: X never booted, so it is denylisted as 'did not boot', dropped, and never tried again", async () => {
  const rig = await startHealthRig({ offered: [P, X] });
  try {
    rig.startAgent();
    await rig.waitForStatus(`${X.version} finalized`, (s) => s.state === "finalized" && s.target?.version === X.version);

    // The reboot writes X as the default, X fails to boot, and the bootloader boots P again.
    await rig.reboot({ fallback: true });
    const back = await rig.waitForStatus(`idle on ${P.version}`, (s) => s.state === "idle" && s.booted?.version === P.version);
    const entry = back.denylist.find((e) => e.payload === X.payload);
    assert.match(entry?.reason ?? "", new RegExp(`^did not boot: the node came back on the previous release ${P.version} \\(bootloader fallback`));
    assert.equal(rollbackCalls(await rig.sim.calls()).length, 0, "nothing to roll back: P is booted");
    assert.equal(rig.logind.reboots(), 0);
    const { json } = await healthJson(rig);
    assert.equal(json.boot?.kind, "rolled-back");
    assert.equal(json.health?.verdict, "healthy", "P's checks ran, and P is not blamed");
    assert.match(rig.motd() ?? "", new RegExp(`ROLLED BACK from ${X.version} to ${P.version}: did not boot`));
    // X was first in boot order after the fallback: the agent drops it, so a plain reboot cannot try it again.
    const dump = await rig.sim.dump();
    assert.deepEqual(dump.records.map((r) => r.version), [P.version]);

    await graphChecks(rig, 2);
    assert.equal(stagingCallsFor(await rig.sim.calls(), X).length, 1, "X was staged once, before the fallback, and never again");

    // A power cut: the node comes back on P, not X.
    await rig.reboot();
    const again = await rig.waitForStatus(`idle on ${P.version} after a plain reboot`, (s) => s.state === "idle" && s.booted?.version === P.version);
    assert.deepEqual(again.denylist.map((e) => e.version), [X.version]);
    assert.deepEqual((await denylistJson(rig)).map((e) => e.source), ["local"]);
  } finally {
    await rig.stop();
  }
});

test("decideBoot: after a bootloader fallback the failed release, still first in boot order, is dropped", () => {
  const report = { verdict: "healthy" as const, required: [], wanted: [], startedAt: "", finishedAt: "", warnings: [] };
  const input = (nextBoot: typeof X, rollback: typeof X | undefined) => ({
    record: startVerification(X, P, new Date("2025-03-01T11:00:00Z"), "boot-1"),
    facts: { booted: P, staged: undefined, rollback, bootId: "boot-2", nextBoot },
    health: report,
    config: { maxBootAttempts: 3, onFailure: "rollback" as const },
    now: new Date("2025-03-01T12:00:00Z"),
  });
  const kinds = (d: ReturnType<typeof decideBoot>) => d.effects.map((e) => e.kind);
  // Fallback: X is still the default deployment.
  assert.deepEqual(kinds(decideBoot(input(X, undefined))), ["denylist", "cleanup-staged", "run-green", "run-post-boot-hooks", "release-slot"]);
  // A manual rollback already made P the default: nothing to drop.
  assert.deepEqual(kinds(decideBoot(input(P, X))), ["denylist", "run-green", "run-post-boot-hooks", "release-slot"]);
});
