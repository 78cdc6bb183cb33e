/**
 * `agentctl apply-now` promises "agentd reboots into X as soon as it may: this skips the maintenance window and the
 * grace period for logged-in users; it still waits for the reboot lock, shutdown inhibitors and pre-reboot hooks".
 * So a forced reboot that has to wait for the slot must still skip the window once the slot is free.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { startNodeRig } from "../helpers/node-rig.js";
import { startFleetLockServer } from "../helpers/fleetlock-server.js";
import { OCI_RELEASES } from "../sim/sample-releases.js";
import { agentctl, assertNotFinalized, finalized, waitingFor } from "./loop-support.js";

const OTHER_NODE = "c988d2509fdf5cdcbed39037c56406fb";

test(
  "apply-now: it skips the window but waits for a busy slot, and reboots once the slot is free",
  async () => {
    const server = await startFleetLockServer({ flavour: "poseidon" });
    const hour = (new Date().getUTCHours() + 12) % 24;
    const rig = await startNodeRig({
      releases: OCI_RELEASES,
      booted: 0,
      config: [
        "[updates]", 'strategy = "fleet_lock"', "lock_only_in_windows = true",
        "[updates.fleet_lock]", `base_url = "${server.baseUrl}"`,
        "[[updates.periodic.window]]", `cron = "0 ${hour} * * *"`, "length_minutes = 60", "",
      ].join("\n"),
    });
    try {
      server.hold(OTHER_NODE);
      rig.startAgent();
      await waitingFor(rig, "window");
      const apply = await agentctl(rig, "apply-now");
      assert.equal(apply.code, 0, apply.stderr);
      await waitingFor(rig, "lock", 20_000);
      await assertNotFinalized(rig);
      server.free(OTHER_NODE);
      await finalized(rig, 10_000);
    } finally {
      await rig.stop();
      await server.close();
    }
  },
);
