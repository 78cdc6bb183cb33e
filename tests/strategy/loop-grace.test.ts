/**
 * The end of the interactive-session grace period, in the real agent loop. `grace_period_minutes` is wall-clock
 * time whatever `postponement_interval_secs` is (the rig checks every second): a one-minute grace period is a
 * minute of warnings-then-reboot, not one check. This file waits that minute, so it holds that one test only.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startNodeRig } from "../helpers/node-rig.js";
import { OCI_RELEASES, at } from "../sim/sample-releases.js";
import { assertNotFinalized, finalized, putFile, waitingFor, waitUntil } from "./loop-support.js";

const R2 = at(OCI_RELEASES, 2);

test("sessions: a user who stays logged in is warned once, and the reboot goes ahead at the end of the grace period", async () => {
  const rig = await startNodeRig({ releases: OCI_RELEASES, booted: 0, config: "[updates.interactive]\ngrace_period_minutes = 1\n" });
  try {
    putFile(rig, "dev/tty1", "");
    rig.logind.set([{ id: "1", user: "root", tty: "tty1" }]);
    rig.startAgent();
    const waiting = await waitingFor(rig, "sessions");
    assert.equal(waiting.target?.version, R2.version);
    const until = Date.parse(waiting.waiting?.until ?? "");
    assert.ok(until - Date.parse(waiting.last_state_change ?? "") >= 50_000, `the grace period ends a minute from its start: ${JSON.stringify(waiting.waiting)}`);
    const terminal = () => readFileSync(join(rig.root, "dev/tty1"), "utf8");
    assert.match(terminal(), /or in 1 minute, whichever comes\nearlier/);

    // Many checks later (one a second), the user is still not thrown out.
    const checks = rig.graph.requests.length;
    await waitUntil("five more checks", () => rig.graph.requests.length >= checks + 5);
    await assertNotFinalized(rig);

    await finalized(rig, 120_000);
    assert.match(rig.log(), /reached end of grace period while waiting for interactive sessions/);
    assert.equal(terminal().split("Broadcast message from update-agent").length - 1, 1, terminal());
  } finally {
    await rig.stop();
  }
});
