/**
 * `strategy = "fleet_lock"` inside the real agent loop: agentd as a process, the rpm-ostreed simulator, and a
 * FleetLock server on loopback that follows the protocol (tests/helpers/fleetlock-server.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { startNodeRig, type NodeRig } from "../helpers/node-rig.js";
import { startFleetLockServer, type FleetLockFlavour, type FleetLockServer } from "../helpers/fleetlock-server.js";
import { OCI_RELEASES, at } from "../sim/sample-releases.js";
import { readNodeUuid } from "../../src/identity/index.js";
import { assertNotFinalized, finalizeCount, finalized, humanStatus, POST_BOOT_DIR, waitingFor, waitingLine, waitUntil, writeFragment } from "./loop-support.js";

const [R0, R2] = [at(OCI_RELEASES, 0), at(OCI_RELEASES, 2)];
const OTHER_NODE = "c988d2509fdf5cdcbed39037c56406fb";
const POST_BOOT_MARKER = "run/post-boot-ran";

function fleetLockConfig(baseUrl: string, group = "default"): string {
  return ["[identity]", `group = "${group}"`, "[updates]", 'strategy = "fleet_lock"', "[updates.fleet_lock]", `base_url = "${baseUrl}"`, ""].join("\n");
}

async function withFleetLock(
  flavour: FleetLockFlavour,
  body: (rig: NodeRig, server: FleetLockServer, id: string) => Promise<void>,
  options: { group?: string; scripts?: Record<string, string>; config?: string } = {},
): Promise<void> {
  let rig: NodeRig | undefined;
  // What the server saw at each request: had the simulator finalized yet, had the post-boot hook run?
  const server = await startFleetLockServer({
    flavour,
    mount: "/fleetlock/",
    note: async () => (rig ? { finalized: await finalizeCount(rig), postBoot: existsSync(join(rig.root, POST_BOOT_MARKER)) } : undefined),
  });
  try {
    // A sub-path and no trailing slash: the requests must still go to /fleetlock/v1/...
    const baseUrl = server.baseUrl.replace(/\/$/, "");
    rig = await startNodeRig({ releases: OCI_RELEASES, booted: 0, config: fleetLockConfig(baseUrl, options.group) + (options.config ?? ""), ...(options.scripts ? { scripts: options.scripts } : {}) });
    await body(rig, server, await readNodeUuid(rig.root));
  } finally {
    await rig?.stop();
    await server.close();
  }
}

test("fleet_lock: the slot is taken before finalizing, kept across the reboot, given back after the verified boot", async () => {
  const postBoot = `#!/bin/sh\ntouch "$(dirname "$0")/../../../../${POST_BOOT_MARKER}"\n`;
  await withFleetLock(
    "airlock",
    async (rig, server, id) => {
      rig.startAgent();
      await finalized(rig);
      const ours = server.calls.filter((c) => c.id === id);
      assert.ok(ours.length > 0 && ours.every((c) => c.group === "workers"), JSON.stringify(server.calls));
      // Startup: steady-state first (nothing held), then pre-reboot once the update is staged.
      assert.equal(ours[0]?.api, "steady-state");
      const preReboot = ours.filter((c) => c.api === "pre-reboot");
      assert.equal(preReboot.length, 1, JSON.stringify(ours));
      assert.equal(preReboot[0]?.status, 200);
      assert.deepEqual(preReboot[0]?.note, { finalized: 0, postBoot: false }, "pre-reboot came before FinalizeDeployment");
      assert.equal(await finalizeCount(rig), 1);
      assert.deepEqual(server.holders("workers"), [id], "the slot is held across the reboot");
      const steadyBefore = ours.filter((c) => c.api === "steady-state").length;

      await rig.reboot();
      await rig.waitForStatus("idle on the new release", (s) => s.state === "idle" && s.booted?.version === R2.version);
      assert.deepEqual(server.holders("workers"), [], "the slot is given back");
      const after = server.calls.filter((c) => c.id === id && c.api === "steady-state").slice(steadyBefore);
      assert.ok(after.length >= 1, JSON.stringify(server.calls));
      // The first steady-state after the reboot came once the boot was verified (post-boot hooks run after the checks).
      assert.deepEqual(after[0]?.note, { finalized: 1, postBoot: true }, JSON.stringify(after));
      assert.match(rig.log(), /FleetLock reboot slot released/);
    },
    { group: "workers", scripts: { [`${POST_BOOT_DIR}/10-mark`]: postBoot } },
  );
});

test("fleet_lock: a busy slot keeps the update staged, says who holds it, and the agent proceeds once it is free", async () => {
  await withFleetLock("poseidon", async (rig, server, id) => {
    server.hold(OTHER_NODE);
    rig.startAgent();
    const waiting = await waitingFor(rig, "lock");
    assert.equal(waiting.target?.version, R2.version);
    assert.match(waiting.status_text, new RegExp(`reboot slot busy: reboot lease lock unavailable, held by ${OTHER_NODE}`));
    const text = await humanStatus(rig);
    assert.match(waitingLine(text) ?? "", new RegExp(`^Waiting: +reboot lock: reboot slot busy: .*held by ${OTHER_NODE}$`), text);
    // 423 is "busy", never an error.
    assert.equal(waiting.last_error, null, JSON.stringify(waiting.last_error));
    await waitUntil("a second pre-reboot attempt", () => server.calls.filter((c) => c.id === id && c.api === "pre-reboot").length >= 2);
    await assertNotFinalized(rig);
    assert.deepEqual(server.holders(), [OTHER_NODE]);

    server.free(OTHER_NODE);
    await finalized(rig);
    assert.deepEqual(server.holders(), [id]);
    assert.equal(await finalizeCount(rig), 1);
  });
});

test("fleet_lock: Airlock's 500 failed_lock is a busy group too, not an error", async () => {
  await withFleetLock("airlock", async (rig, server, id) => {
    server.hold(OTHER_NODE);
    rig.startAgent();
    const waiting = await waitingFor(rig, "lock");
    assert.equal(waiting.waiting?.message, "reboot slot busy: all 1 semaphore slots currently locked");
    assert.match(await humanStatus(rig), /Waiting: +reboot lock: reboot slot busy: all 1 semaphore slots currently locked/);
    await assertNotFinalized(rig);
    server.free(OTHER_NODE);
    await finalized(rig);
    assert.deepEqual(server.holders(), [id]);
    assert.ok(server.calls.every((c) => c.group === "default"));
  });
});

test("fleet_lock: a new release that fails its health check keeps the slot until the node is healthy again", async () => {
  // Fails on R2 only: the node rolls back to R0, and only that verified boot gives the slot back.
  const check = `#!/bin/sh\n[ "$UPDATE_AGENT_BOOTED_VERSION" != "${R2.version}" ]\n`;
  await withFleetLock(
    "airlock",
    async (rig, server, id) => {
      rig.startAgent();
      await finalized(rig);
      const steadyBefore = server.calls.filter((c) => c.api === "steady-state").length;
      await rig.reboot();
      await rig.waitForStatus("rolling back", (s) => s.state === "finalized" && s.target?.version === R0.version && s.booted?.version === R2.version, 30_000);
      assert.deepEqual(server.holders(), [id], "an unhealthy node keeps its slot");
      assert.equal(server.calls.filter((c) => c.api === "steady-state").length, steadyBefore, JSON.stringify(server.calls));

      await rig.reboot();
      // The verified boot of R0 gives the slot back (and the agent goes on to R1, the next release not denylisted).
      await waitUntil("steady-state from the healthy node", () => server.calls.filter((c) => c.id === id && c.api === "steady-state").length > steadyBefore, 30_000);
      const status = await rig.status();
      assert.equal(status?.booted?.version, R0.version);
      assert.deepEqual(status?.denylist.map((d) => d.version), [R2.version]);
    },
    { scripts: { "etc/update-agent/check/required.d/50-app": check }, config: "[health]\nmax_boot_attempts = 1\n" },
  );
});

test("fleet_lock with lock_only_in_windows: outside the window the slot is never asked for", async () => {
  const hour = (new Date().getUTCHours() + 12) % 24;
  const windows = ["[updates]", "lock_only_in_windows = true", "[updates.periodic]", 'time_zone = "UTC"', "[[updates.periodic.window]]", `cron = "0 ${hour} * * *"`, "length_minutes = 60", ""].join("\n");
  await withFleetLock("airlock", async (rig, server, id) => {
    writeFragment(rig, "70-windows.toml", windows);
    rig.startAgent();
    const waiting = await waitingFor(rig, "window");
    assert.equal(waiting.strategy, "fleet_lock");
    assert.match(waiting.waiting?.message ?? "", /^maintenance window closed; next window opens /);
    // A few more gate evaluations, still outside the window.
    const checks = rig.graph.requests.length;
    await waitUntil("more ticks", () => rig.graph.requests.length >= checks + 2);
    assert.deepEqual(server.calls.filter((c) => c.api === "pre-reboot"), [], JSON.stringify(server.calls));
    assert.ok(server.calls.some((c) => c.id === id && c.api === "steady-state"), "steady-state at start, as always");
    await assertNotFinalized(rig);
    assert.match(waitingLine(await humanStatus(rig)) ?? "", /^Waiting: +maintenance window: maintenance window closed; next window opens .*\nopens /);
  });
});
