/**
 * `strategy = "periodic"` inside the real agent loop, with the real clock: a closed window keeps a staged update
 * waiting and says when it opens; `agentctl apply-now` skips it; a window that opens at the next minute lets the
 * agent reboot once it is open, and not before.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { startNodeRig, type NodeRig } from "../helpers/node-rig.js";
import { OCI_RELEASES, at } from "../sim/sample-releases.js";
import { agentctl, assertNotFinalized, finalized, humanStatus, methodCalls, putFile, waitingFor, waitingLine, waitUntil } from "./loop-support.js";

const R2 = at(OCI_RELEASES, 2);

function periodic(cron: string, lengthMinutes: number): string {
  return ["[updates]", 'strategy = "periodic"', "[updates.periodic]", 'time_zone = "UTC"', "[[updates.periodic.window]]", `cron = "${cron}"`, `length_minutes = ${lengthMinutes}`, ""].join("\n");
}

/** A daily cron window starting at `start` (UTC, whole minutes). */
const dailyAt = (start: Date, lengthMinutes: number) => periodic(`${start.getUTCMinutes()} ${start.getUTCHours()} * * *`, lengthMinutes);

async function withRig(config: string, body: (rig: NodeRig) => Promise<void>): Promise<void> {
  const rig = await startNodeRig({ releases: OCI_RELEASES, booted: 0, config });
  try {
    await body(rig);
  } finally {
    await rig.stop();
  }
}

test("periodic: a closed window keeps the update staged, says when it opens; apply-now skips the window and the users", async () => {
  const opens = new Date(Date.now() + 12 * 3_600_000);
  opens.setUTCMinutes(0, 0, 0);
  await withRig(dailyAt(opens, 60), async (rig) => {
    putFile(rig, "dev/pts/1", "");
    rig.logind.set([{ id: "5", user: "core", tty: "pts/1" }]);
    rig.startAgent();
    const waiting = await waitingFor(rig, "window");
    assert.equal(waiting.target?.version, R2.version);
    assert.equal(waiting.waiting?.until, opens.toISOString());
    assert.match(waiting.waiting?.message ?? "", /^maintenance window closed; next window opens /);
    const text = await humanStatus(rig);
    assert.match(waitingLine(text) ?? "", /^Waiting: maintenance window: maintenance window closed; next window opens .*\nopens .*in (11|12) hours/, text);
    const checks = rig.graph.requests.length;
    await waitUntil("more ticks with the window closed", () => rig.graph.requests.length >= checks + 2);
    await assertNotFinalized(rig);

    const apply = await agentctl(rig, "apply-now");
    assert.equal(apply.code, 0, apply.stderr);
    assert.match(apply.stdout, /skips the maintenance window and the grace period for logged-in users/);
    await finalized(rig);
  });
});

test("periodic: a window opening at the next minute lets the agent reboot once it is open, not before", async () => {
  // Whole minutes only: the next minute boundary, with time to stage first.
  const opens = new Date(Date.now() + 60_000);
  opens.setUTCSeconds(0, 0);
  if (opens.getTime() - Date.now() < 15_000) opens.setTime(opens.getTime() + 60_000);
  await withRig(dailyAt(opens, 5), async (rig) => {
    rig.startAgent();
    const waiting = await waitingFor(rig, "window");
    assert.equal(waiting.waiting?.until, opens.toISOString(), "the next opening is the window's start");
    await assertNotFinalized(rig);

    await finalized(rig, 100_000);
    const finalize = methodCalls(await rig.sim.calls(), "FinalizeDeployment");
    assert.equal(finalize.length, 1);
    assert.ok(Date.parse(finalize[0]!.at) >= opens.getTime(), `finalized at ${finalize[0]!.at}, the window opened at ${opens.toISOString()}`);
  });
});
