/**
 * The rpm-ostree adapter against the simulated rpm-ostreed on a real private bus: what an admin sees
 * in `rpm-ostree status` after each agent action.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isAgentError } from "../../src/errors.js";
import {
  at,
  asGraphRelease,
  bootedFrom,
  CHECKSUM_RELEASES,
  FCOS_IMAGE,
  OCI_MIRROR_RELEASES,
  OCI_RELEASES,
  OTHER_IMAGE,
} from "../sim/sample-releases.js";
import { progressLog, useBus } from "./rig.js";

const withRig = useBus();
const ociBooted = bootedFrom(at(OCI_RELEASES, 0), "oci");
const checksumBooted = bootedFrom(at(CHECKSUM_RELEASES, 0), "checksum");

describe("rpm-ostree adapter: status", () => {
  it("reads an OCI-booted host: payload as the graph names it, stream, no staged deployment", async () => {
    await withRig({ booted: ociBooted, rollback: bootedFrom(at(OCI_RELEASES, 1), "oci"), available: OCI_RELEASES }, async ({ manager }) => {
      const status = await manager.status();
      assert.equal(status.booted.version, "43.20251024.3.0");
      assert.equal(status.booted.scheme, "oci");
      assert.equal(status.booted.payload, at(OCI_RELEASES, 0).payload);
      assert.equal(status.booted.stream, "stable");
      assert.equal(status.booted.containerImageReference, `ostree-image-signed:docker://${FCOS_IMAGE}:stable`);
      assert.equal(status.booted.baseRevision, at(OCI_RELEASES, 0).payload.split("@")[1]);
      assert.equal(status.staged, undefined);
      assert.equal(status.rollback?.version, "43.20251110.3.1");
      assert.equal(status.activeTransaction, undefined);
    });
  });

  it("reads a checksum-booted host", async () => {
    await withRig({ booted: checksumBooted, available: CHECKSUM_RELEASES }, async ({ manager }) => {
      const status = await manager.status();
      assert.equal(status.booted.scheme, "checksum");
      assert.equal(status.booted.payload, at(CHECKSUM_RELEASES, 0).payload);
      assert.equal(status.booted.baseRevision, at(CHECKSUM_RELEASES, 0).payload);
      assert.equal(status.booted.stream, "stable");
      assert.equal(status.deployments.length, 1);
    });
  });
});

describe("rpm-ostree adapter: registration", () => {
  it("registers as a client and as the update driver, visible in the daemon's status", async () => {
    await withRig({ booted: ociBooted, available: OCI_RELEASES, driverUnit: "update-agent.service" }, async ({ manager, sim }) => {
      await manager.registerClient("update-agent");
      await manager.registerDriver("update-agent");
      const dump = await sim.dump();
      assert.deepEqual(dump["update-driver"], { "driver-name": "update-agent", "driver-sd-unit": "update-agent.service" });
      assert.deepEqual(dump.clients.map((c) => c.id), ["update-agent"]);
      assert.equal((await manager.status()).staged, undefined, "registering the driver stages nothing");
    });
  });
});

describe("rpm-ostree adapter: staging", () => {
  it("stages an OCI update with progress, finalization-locked, by digest", async () => {
    await withRig(
      { booted: ociBooted, available: OCI_RELEASES, faults: { progressSignals: 4 } },
      async ({ manager, sim }) => {
        const { reports, onProgress } = progressLog();
        const target = asGraphRelease(at(OCI_RELEASES, 2), 2);
        const staged = await manager.stage(target, { allowDowngrade: false, expectedStream: "stable", onProgress });

        assert.equal(staged.version, target.version);
        assert.equal(staged.payload, target.payload);
        assert.equal(staged.staged, true);
        assert.equal(staged.finalizationLocked, true);

        assert.match(reports[0]?.message ?? "", /^Pulling manifest/);
        const percents = reports.flatMap((r) => (r.percent === undefined ? [] : [r.percent]));
        assert.deepEqual(percents, [...percents].sort((a, b) => a - b), "percentages only go up");
        assert.equal(percents.at(-1), 100);
        const bytes = reports.flatMap((r) => (r.downloadedBytes === undefined ? [] : [r.downloadedBytes]));
        assert.equal(bytes.length, 4, "one download report per DownloadProgress signal");
        assert.ok(bytes.every((b, i) => i === 0 || b > (bytes[i - 1] ?? 0)), "downloaded bytes grow");
        assert.match(reports.at(-1)?.message ?? "", /Staging deployment/);

        const deploy = (await sim.calls()).find((c) => c.method === "Deploy");
        assert.deepEqual(deploy?.args, [
          target.payload.split("@")[1],
          { "lock-finalization": true, "allow-downgrade": false },
        ]);
        const status = await manager.status();
        assert.equal(status.deployments[0]?.id, staged.id, "the staged deployment boots next");
        assert.equal(status.booted.version, ociBooted.version, "nothing changes until a reboot");
      },
    );
  });

  it("stages a checksum update with revision= and skip-branch-check", async () => {
    await withRig({ booted: checksumBooted, available: CHECKSUM_RELEASES }, async ({ manager, sim }) => {
      const target = asGraphRelease(at(CHECKSUM_RELEASES, 1), 1);
      const staged = await manager.stage(target, { allowDowngrade: false });
      assert.equal(staged.payload, target.payload);
      assert.equal(staged.finalizationLocked, true);
      const deploy = (await sim.calls()).find((c) => c.method === "Deploy");
      assert.deepEqual(deploy?.args, [
        `revision=${target.payload}`,
        { "lock-finalization": true, "skip-branch-check": true, "allow-downgrade": false },
      ]);
    });
  });

  it("rebases to another image name, keeping the signature policy, transport and tag", async () => {
    await withRig({ booted: ociBooted, available: [...OCI_RELEASES, ...OCI_MIRROR_RELEASES] }, async ({ manager, sim }) => {
      const target = asGraphRelease(at(OCI_MIRROR_RELEASES, 0), 3);
      const staged = await manager.stage(target, { allowDowngrade: false });
      assert.equal(staged.payload, target.payload);
      assert.equal(staged.containerImageReference, `ostree-image-signed:docker://${OTHER_IMAGE}:stable`);
      const calls = await sim.calls();
      assert.equal(calls.some((c) => c.method === "Deploy"), false);
      const rebase = calls.find((c) => c.method === "UpdateDeployment");
      assert.deepEqual(rebase?.args, [
        { "set-refspec": `ostree-image-signed:docker://${OTHER_IMAGE}:stable`, "set-revision": target.payload.split("@")[1] },
        { "lock-finalization": true, "allow-downgrade": false },
      ]);
    });
  });

  it("refuses an OCI update on a host that does not boot a container image, without calling rpm-ostree", async () => {
    await withRig({ booted: checksumBooted, available: CHECKSUM_RELEASES }, async ({ manager, sim }) => {
      await assert.rejects(
        manager.stage(asGraphRelease(at(OCI_RELEASES, 1), 1), { allowDowngrade: false }),
        (e) => isAgentError(e) && e.code === "DEPLOY_UNSUPPORTED" && /does not boot one/.test(e.message),
      );
      assert.equal((await sim.calls()).some((c) => c.path.endsWith("fedora_coreos")), false);
    });
  });

  it("passes allow-downgrade through: an older release fails unless allowed", async () => {
    await withRig({ booted: bootedFrom(at(OCI_RELEASES, 2), "oci"), available: OCI_RELEASES }, async ({ manager }) => {
      const older = asGraphRelease(at(OCI_RELEASES, 1), 1);
      await assert.rejects(
        manager.stage(older, { allowDowngrade: false }),
        (e) => isAgentError(e) && e.code === "DEPLOY_TRANSACTION_FAILED" && /chronologically older/.test(e.message),
      );
      const staged = await manager.stage(older, { allowDowngrade: true });
      assert.equal(staged.version, older.version);
    });
  });
});

describe("rpm-ostree adapter: finalize, cleanup, rollback", () => {
  it("finalizes with the base revision; the daemon unlocks and asks for a reboot into it", async () => {
    await withRig({ booted: ociBooted, available: OCI_RELEASES }, async ({ manager, sim, another }) => {
      const target = asGraphRelease(at(OCI_RELEASES, 1), 1);
      const staged = await manager.stage(target, { allowDowngrade: false });
      await manager.finalize(staged);

      const dump = await sim.dump();
      assert.equal(dump.rebooting, true);
      assert.deepEqual(
        dump.rebootRequests.map((r) => [r.reason, r.version, r.baseRevision]),
        [["finalize", target.version, staged.baseRevision]],
      );
      const finalize = (await sim.calls()).find((c) => c.method === "FinalizeDeployment");
      assert.deepEqual(finalize?.args, [{ checksum: staged.baseRevision }]);

      await sim.bootPending();
      const afterReboot = another();
      const status = await afterReboot.status();
      assert.equal(status.booted.version, target.version);
      assert.equal(status.rollback?.version, ociBooted.version);
      assert.equal(status.staged, undefined);
    });
  });

  it("cleans up a staged deployment, and cleanup with nothing staged is harmless", async () => {
    await withRig({ booted: ociBooted, available: OCI_RELEASES }, async ({ manager }) => {
      await manager.stage(asGraphRelease(at(OCI_RELEASES, 1), 1), { allowDowngrade: false });
      await manager.cleanupPending();
      assert.equal((await manager.status()).staged, undefined);
      await manager.cleanupPending();
      assert.equal((await manager.status()).deployments.length, 1);
    });
  });

  it("rolls back: drops what is staged, makes the rollback deployment boot next", async () => {
    const rollback = bootedFrom(at(OCI_RELEASES, 0), "oci");
    await withRig(
      { booted: bootedFrom(at(OCI_RELEASES, 1), "oci"), rollback, available: OCI_RELEASES },
      async ({ manager, sim, another }) => {
        await manager.stage(asGraphRelease(at(OCI_RELEASES, 2), 2), { allowDowngrade: false });
        await manager.rollback({ reboot: false });
        const status = await manager.status();
        assert.equal(status.staged, undefined);
        assert.equal(status.deployments[0]?.version, rollback.version, "the rollback deployment boots next");
        assert.equal((await sim.dump()).rebooting, false, "no reboot was asked for");

        await sim.bootPending();
        assert.equal((await another().status()).booted.version, rollback.version);
      },
    );
  });

  it("rolls back with reboot: the daemon asks for the reboot", async () => {
    await withRig(
      { booted: bootedFrom(at(OCI_RELEASES, 1), "oci"), rollback: ociBooted, available: OCI_RELEASES },
      async ({ manager, sim }) => {
        await manager.rollback({ reboot: true });
        const dump = await sim.dump();
        assert.deepEqual(dump.rebootRequests.map((r) => [r.reason, r.version]), [["rollback", ociBooted.version]]);
      },
    );
  });
});
