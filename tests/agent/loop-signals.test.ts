/**
 * agentd and its service manager: sd_notify messages on a real NOTIFY_SOCKET datagram listener (readiness,
 * STATUS texts following the loop, watchdog pings, reload, stop), and SIGHUP with a broken fragment.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { graphFor, startNodeRig } from "../helpers/node-rig.js";
import { startNotifyListener, type NotifyDatagram } from "../helpers/notify-listener.js";
import { OCI_RELEASES, at } from "../sim/sample-releases.js";
import { closedWindowConfig, sleep, stageCalls, waitUntil, writeFragment } from "./loop-helpers.js";

const R2 = at(OCI_RELEASES, 2);

test("loop: sd_notify: READY=1, STATUS= following the states, WATCHDOG=1, RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 and exit 0 on SIGTERM", async () => {
  const listener = await startNotifyListener();
  const rig = await startNodeRig({
    releases: OCI_RELEASES,
    booted: 0,
    faults: { progressSignals: 5, progressIntervalMs: 100 },
    agentEnv: { NOTIFY_SOCKET: listener.socketPath, WATCHDOG_USEC: "2000000" },
  });
  try {
    const agent = rig.startAgent();
    const has = (text: string) => (d: NotifyDatagram) => d.text.split("\n").includes(text);
    const startsWith = (prefix: string) => (d: NotifyDatagram) => d.text.split("\n").some((l) => l.startsWith(prefix));
    await listener.waitFor(has("READY=1"), 60_000);
    await listener.waitFor(has(`STATUS=update applied, waiting for reboot: ${R2.version}`), 60_000);
    const statuses = listener.assignments().filter((a) => a.startsWith("STATUS="));
    const order = [
      "STATUS=initialization complete, auto-updates logic enabled",
      `STATUS=found update on remote: ${R2.version}; staging`,
      `STATUS=update staged: ${R2.version}`,
      `STATUS=finalizing update: ${R2.version}`,
      `STATUS=update applied, waiting for reboot: ${R2.version}`,
    ];
    let from = 0;
    for (const text of order) {
      const found = statuses.findIndex((s, i) => i >= from && s.startsWith(text));
      assert.ok(found >= 0, `${text} after ${order[order.indexOf(text) - 1] ?? "start"}; got:\n${statuses.join("\n")}`);
      from = found + 1;
    }
    assert.ok(statuses.some((s) => /^STATUS=found update on remote: .*; staging \(\d+%\)$/.test(s)), "progress shows in STATUS");

    const pings = () => listener.datagrams.filter(has("WATCHDOG=1")).length;
    const before = pings();
    await waitUntil("two more watchdog pings", () => pings() >= before + 2, 30_000);

    const seen = listener.datagrams.length;
    agent.kill("SIGHUP");
    await waitUntil("RELOADING=1 then READY=1", () => {
      const after = listener.datagrams.slice(seen);
      const reloading = after.findIndex(has("RELOADING=1"));
      return reloading >= 0 && after.slice(reloading + 1).some(has("READY=1"));
    }, 30_000);
    const reloading = listener.datagrams.slice(seen).find(has("RELOADING=1"))!;
    assert.ok(reloading.text.split("\n").some((l) => /^MONOTONIC_USEC=\d+$/.test(l)), reloading.text);

    const stopped = listener.datagrams.length;
    assert.equal(await rig.stopAgent(), 0);
    assert.ok(listener.datagrams.slice(stopped).some(has("STOPPING=1")), JSON.stringify(listener.datagrams.slice(stopped)));
    assert.ok(listener.datagrams.some(startsWith("STATUS=")));
    // Sent as root with --no-block, so systemd credits every message to agentd itself.
    if (process.getuid?.() === 0) {
      const pids = new Set(listener.datagrams.map((d) => d.pid));
      assert.deepEqual([...pids], [agent.pid], `senders: ${[...pids].join(", ")}`);
    }
  } finally {
    await rig.stop();
    await listener.stop();
  }
});

test("loop: SIGHUP with a broken fragment keeps the running configuration; once fixed, the next SIGHUP applies it", async () => {
  const rig = await startNodeRig({ releases: OCI_RELEASES, booted: 0 });
  try {
    writeFragment(rig, "60-loop.toml", closedWindowConfig());
    const agent = rig.startAgent();
    const staged = await rig.waitForStatus("staged, waiting for the window", (s) => s.state === "staged" && s.waiting?.kind === "window");
    assert.equal(staged.strategy, "periodic");

    const broken = writeFragment(rig, "70-broken.toml", '[updates]\nstrategy = "immediate"\nenabled = maybe\n');
    const reloadsBefore = (rig.log().match(/configuration reloaded/g) ?? []).length;
    agent.kill("SIGHUP");
    await waitUntil("the reload refused", () => /keeping the previous configuration/.test(rig.log()), 30_000, () => rig.log().slice(-2000));
    const refusal = rig.log().split("\n").filter((l) => l.includes("invalid configuration"));
    assert.ok(refusal.some((l) => l.includes(broken)), `the log names the file: ${refusal.join("\n")}`);
    assert.equal((rig.log().match(/configuration reloaded/g) ?? []).length, reloadsBefore);
    assert.equal(agent.exitCode, null, "agentd keeps running");
    const still = await rig.agentctl("status", "--json");
    assert.equal(still.code, 0, still.stderr);
    const doc = JSON.parse(still.stdout) as { state: string; strategy: string };
    assert.equal(doc.state, "staged");
    assert.equal(doc.strategy, "periodic");

    writeFragment(rig, "70-broken.toml", '[updates]\nstrategy = "immediate"\n');
    agent.kill("SIGHUP");
    await waitUntil("the reload applied", () => (rig.log().match(/configuration reloaded/g) ?? []).length > reloadsBefore, 30_000, () => rig.log().slice(-2000));
    const immediate = await rig.waitForStatus("strategy immediate", (s) => s.strategy === "immediate");
    assert.notEqual(immediate.strategy, "periodic");
    // With the window gone, the staged update goes through at the next tick.
    const finalized = await rig.waitForStatus("finalized", (s) => s.state === "finalized");
    assert.equal(finalized.target?.version, R2.version);
    assert.equal(stageCalls(await rig.sim.calls()).length, 1);
  } finally {
    await rig.stop();
  }
});

test("loop: SIGHUP with updates.enabled = false stops the update logic; enabling it again resumes", async () => {
  let offered = [at(OCI_RELEASES, 0)];
  const rig = await startNodeRig({ releases: OCI_RELEASES, booted: 0, graphBody: () => graphFor(offered) });
  try {
    const agent = rig.startAgent();
    await rig.waitForStatus("idle", (s) => s.state === "idle" && s.last_check !== null);

    writeFragment(rig, "70-enabled.toml", "[updates]\nenabled = false\n");
    agent.kill("SIGHUP");
    const disabled = await rig.waitForStatus("disabled", (s) => s.state === "disabled", 30_000);
    assert.equal(disabled.status_text, "initialization complete, auto-updates logic disabled by configuration");
    offered = OCI_RELEASES;
    const requests = rig.graph.requests.length;
    await sleep(3_000);
    assert.equal(rig.graph.requests.length, requests, "no graph checks while disabled");
    assert.equal((await rig.status())?.state, "disabled");
    assert.equal(stageCalls(await rig.sim.calls()).length, 0);

    writeFragment(rig, "70-enabled.toml", "[updates]\nenabled = true\n");
    agent.kill("SIGHUP");
    const finalized = await rig.waitForStatus("finalized once enabled again", (s) => s.state === "finalized", 60_000);
    assert.equal(finalized.target?.version, R2.version);
  } finally {
    await rig.stop();
  }
});
