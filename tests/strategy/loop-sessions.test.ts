/**
 * Logged-in users and shutdown inhibitors inside the real agent loop: agentd as a process, the logind double
 * reporting sessions and inhibitors, the broadcast written to the session's terminal under the rig's root.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startNodeRig, type NodeRig } from "../helpers/node-rig.js";
import type { DoubleSession } from "../helpers/logind.js";
import { OCI_RELEASES, at } from "../sim/sample-releases.js";
import { assertNotFinalized, finalized, humanStatus, putFile, waitingFor, waitingLine, waitUntil } from "./loop-support.js";

const R2 = at(OCI_RELEASES, 2);
const CORE_ON_PTS: DoubleSession = { id: "3", uid: 1000, user: "core", tty: "pts/0" };
const TERMINAL = "dev/pts/0";

async function withRig(config: string, body: (rig: NodeRig) => Promise<void>): Promise<void> {
  const rig = await startNodeRig({ releases: OCI_RELEASES, booted: 0, config });
  try {
    // The session's terminal: the broadcast appends to it (and never creates it).
    putFile(rig, TERMINAL, "");
    await body(rig);
  } finally {
    await rig.stop();
  }
}

const terminal = (rig: NodeRig) => readFileSync(join(rig.root, TERMINAL), "utf8");
const broadcasts = (text: string) => text.split("Broadcast message from update-agent at ").length - 1;

test("sessions: the reboot waits for a logged-in user, who is warned once, and goes ahead when they log out", async () => {
  await withRig("", async (rig) => {
    rig.logind.set([CORE_ON_PTS, { id: "c1", user: "gdm", tty: "", class: "greeter" }]);
    rig.startAgent();
    const waiting = await waitingFor(rig, "sessions");
    assert.equal(waiting.target?.version, R2.version);
    assert.equal(waiting.waiting?.message, "1 interactive session(s) (core); rebooting when they log out or at the end of the grace period");
    const text = await humanStatus(rig);
    assert.match(
      waitingLine(text) ?? "",
      /^Waiting: logged-in users: 1 interactive session\(s\) \(core\); rebooting when they log out or at the end of the grace period\nuntil .*in (9|10) minutes/,
      text,
    );
    // Wall-style, once at the start of the grace period, on the user's terminal.
    const message = terminal(rig);
    assert.match(message, /^\nBroadcast message from update-agent at \w{3} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC:\n/);
    assert.match(message, new RegExp(`New update ${R2.version.replace(/\./g, "\\.")} is available and has been deployed\\.`));
    assert.match(message, /all interactive users have logged out, or in 10 minutes, whichever comes\nearlier\./);
    const checks = rig.graph.requests.length;
    await waitUntil("more checks while the user is logged in", () => rig.graph.requests.length >= checks + 3);
    assert.equal(broadcasts(terminal(rig)), 1, terminal(rig));
    await assertNotFinalized(rig);

    rig.logind.set([]);
    await finalized(rig);
    assert.equal(broadcasts(terminal(rig)), 1);
  });
});

test("sessions: with check_sessions = false the agent does not wait for logged-in users, but still for a shutdown inhibitor", async () => {
  await withRig("[updates.interactive]\ncheck_sessions = false\n", async (rig) => {
    rig.logind.set([CORE_ON_PTS], [{ what: "shutdown", who: "backup-job", why: "nightly backup in progress", mode: "block", uid: 0, pid: 4242 }]);
    rig.startAgent();
    await waitingFor(rig, "inhibitor");
    rig.logind.set([CORE_ON_PTS], []);
    const done = await finalized(rig);
    assert.equal(done.target?.version, R2.version);
    assert.equal(terminal(rig), "", "nobody is warned");
  });
});

test("sessions: the override file lets the reboot go ahead while users are logged in", async () => {
  await withRig("", async (rig) => {
    rig.logind.set([CORE_ON_PTS]);
    rig.startAgent();
    await waitingFor(rig, "sessions");
    putFile(rig, "run/update-agent/override-interactive-check", "");
    await finalized(rig);
    assert.equal(broadcasts(terminal(rig)), 1);
  });
});

test("inhibitors: a shutdown block inhibitor holds the reboot back and says who; a delay inhibitor does not", async () => {
  await withRig("", async (rig) => {
    const delay = { what: "shutdown:sleep", who: "NetworkManager", why: "NetworkManager needs to turn off networks", mode: "delay", uid: 0, pid: 812 };
    const block = { what: "shutdown", who: "backup-job", why: "nightly backup in progress", mode: "block", uid: 0, pid: 4242 };
    rig.logind.set([], [delay, block]);
    rig.startAgent();
    const waiting = await waitingFor(rig, "inhibitor");
    assert.equal(waiting.waiting?.message, "shutdown blocked by backup-job (nightly backup in progress)");
    const text = await humanStatus(rig);
    assert.equal(waitingLine(text), "Waiting: shutdown inhibitor: shutdown blocked by backup-job (nightly backup in progress)", text);
    const checks = rig.graph.requests.length;
    await waitUntil("more checks while blocked", () => rig.graph.requests.length >= checks + 2);
    await assertNotFinalized(rig);

    rig.logind.set([], [delay]);
    await finalized(rig);
  });
});
