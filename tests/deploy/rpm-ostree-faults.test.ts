/**
 * The rpm-ostree adapter when things go wrong: failed, hanging and dropped transactions, a busy
 * daemon, a wrong staged deployment, a daemon that does not answer. Each failure must reach the agent
 * loop as a clear AgentError it can act on, and must leave the host in a known state.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AgentError, isAgentError, type ErrorCode } from "../../src/errors.js";
import { asGraphRelease, at, bootedFrom, OCI_RELEASES } from "../sim/sample-releases.js";
import { progressLog, useBus } from "./rig.js";

const withRig = useBus();
const booted = bootedFrom(at(OCI_RELEASES, 0), "oci");
const target = asGraphRelease(at(OCI_RELEASES, 1), 1);
const base = { booted, available: OCI_RELEASES };

function failsWith(code: ErrorCode, message?: RegExp): (e: unknown) => boolean {
  return (e) => {
    if (!isAgentError(e)) throw e;
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    if (message) assert.match(e.message, message);
    return true;
  };
}

describe("rpm-ostree adapter: failed and stuck transactions", () => {
  it("reports each failed deploy with the daemon's message, then succeeds once the fault is gone", async () => {
    const faults = { deployFailures: 2, failureMessage: "Failed to pull: Server returned HTTP 503 (simulated)" };
    await withRig({ ...base, faults }, async ({ manager }) => {
      for (let attempt = 1; attempt <= 2; attempt++) {
        await assert.rejects(manager.stage(target, { allowDowngrade: false }), (e) => {
          failsWith("DEPLOY_TRANSACTION_FAILED", /HTTP 503/)(e);
          assert.equal((e as AgentError).where, "org.projectatomic.rpmostree1.OS.Deploy");
          return true;
        });
        assert.equal((await manager.status()).staged, undefined);
      }
      const staged = await manager.stage(target, { allowDowngrade: false });
      assert.equal(staged.version, target.version);
    });
  });

  it("reports a release the remote does not have, as rpm-ostree's pull error", async () => {
    await withRig({ ...base, available: [at(OCI_RELEASES, 0)] }, async ({ manager }) => {
      await assert.rejects(manager.stage(target, { allowDowngrade: false }), failsWith("DEPLOY_TRANSACTION_FAILED", /manifest unknown/));
    });
  });

  it("gives up on a transaction that never finishes (DEPLOY_TIMEOUT) and cancels it", async () => {
    await withRig(
      { ...base, faults: { hangTransactions: 1 } },
      async ({ manager, sim }) => {
        await assert.rejects(manager.stage(target, { allowDowngrade: false }), failsWith("DEPLOY_TIMEOUT"));
        const calls = await sim.calls();
        assert.ok(calls.some((c) => c.caller === "peer" && c.method === "Cancel"), "the hung transaction was cancelled");
        assert.equal((await sim.dump()).transaction, null, "the daemon is free for the next attempt");
        const staged = await manager.stage(target, { allowDowngrade: false });
        assert.equal(staged.version, target.version);
      },
      { transactionTimeoutMs: 1_500 },
    );
  });

  it("reports a daemon that exits mid-transaction as DEPLOY_DBUS, and works again after its restart", async () => {
    await withRig({ ...base, faults: { exitMidTransaction: 1 } }, async ({ manager, sim }) => {
      await assert.rejects(
        manager.stage(target, { allowDowngrade: false }),
        failsWith("DEPLOY_DBUS", /closed the transaction before it finished|peer closed/),
      );
      await sim.ready();
      assert.equal(sim.unexpectedExits, 1);
      assert.equal((await manager.status()).staged, undefined, "nothing was staged");
      const staged = await manager.stage(target, { allowDowngrade: false });
      assert.equal(staged.version, target.version);
    });
  });

  it("reports a failed finalization (e.g. a block inhibitor) and leaves the update staged and locked", async () => {
    const message = "Reboot blocked by a systemd inhibitor lock in block mode";
    await withRig({ ...base, faults: { failTransactions: { FinalizeDeployment: { count: 1, message } } } }, async ({ manager, sim }) => {
      const staged = await manager.stage(target, { allowDowngrade: false });
      await assert.rejects(manager.finalize(staged), failsWith("DEPLOY_TRANSACTION_FAILED", /inhibitor lock/));
      const status = await manager.status();
      assert.equal(status.staged?.finalizationLocked, true);
      assert.equal((await sim.dump()).rebooting, false);
    });
  });

  it("cancels the transaction when the caller aborts", async () => {
    await withRig({ ...base, faults: { progressSignals: 50, progressIntervalMs: 100 } }, async ({ manager, sim }) => {
      const controller = new AbortController();
      const { reports, onProgress } = progressLog();
      const staging = manager.stage(target, {
        allowDowngrade: false,
        signal: controller.signal,
        onProgress: (p) => {
          onProgress(p);
          if (p.downloadedBytes !== undefined) controller.abort();
        },
      });
      await assert.rejects(staging, failsWith("DEPLOY_CANCELLED"));
      assert.ok(reports.length > 0);
      assert.ok((await sim.calls()).some((c) => c.caller === "peer" && c.method === "Cancel"));
      assert.equal((await manager.status()).staged, undefined);
    });
  });
});

describe("rpm-ostree adapter: other clients", () => {
  it("waits out another client's transaction instead of failing", async () => {
    await withRig({ ...base }, async ({ manager, sim }) => {
      await sim.control.startForeignTransaction(1_500);
      assert.equal((await manager.status()).activeTransaction, "Upgrade");
      const staged = await manager.stage(target, { allowDowngrade: false });
      assert.equal(staged.version, target.version);
      const deploys = (await sim.calls()).filter((c) => c.method === "Deploy");
      assert.ok(deploys.length >= 2, "the first Deploy was refused as busy and retried");
    });
  });

  it("gives up with DEPLOY_BUSY when the other transaction outlasts the wait budget", async () => {
    await withRig(
      { ...base },
      async ({ manager, sim }) => {
        await sim.control.startForeignTransaction(20_000);
        await assert.rejects(manager.stage(target, { allowDowngrade: false }), failsWith("DEPLOY_BUSY", /Transaction in progress/));
      },
      { busyWait: { initialMs: 50, maxMs: 100, totalMs: 400 } },
    );
  });

  it("joins an identical transaction another client started, and both see the result", async () => {
    await withRig({ ...base, faults: { progressSignals: 10, progressIntervalMs: 100 } }, async ({ manager, another, sim }) => {
      const second = another();
      let firstIsDownloading: () => void = () => {};
      const downloading = new Promise<void>((resolve) => (firstIsDownloading = resolve));
      const first = manager.stage(target, {
        allowDowngrade: false,
        onProgress: (p) => p.downloadedBytes !== undefined && firstIsDownloading(),
      });
      await downloading;
      const joined = second.stage(target, { allowDowngrade: false });
      const [a, b] = await Promise.all([first, joined]);
      assert.equal(a.id, b.id);
      const calls = await sim.calls();
      assert.equal(calls.filter((c) => c.method === "Deploy").length, 2);
      assert.equal(calls.filter((c) => c.caller === "peer" && c.method === "Start").length, 2);
      assert.equal((await sim.dump()).deployments.filter((d) => d.staged === true).length, 1);
    });
  });
});

describe("rpm-ostree adapter: verification and daemon errors", () => {
  for (const [knob, problem] of [
    ["stageWrongVersion", /version 43\.20251110\.3\.1\.wrong instead of 43\.20251110\.3\.1/],
    ["stageWrongPayload", /payload .* instead of/],
    ["stageUnlocked", /no finalization lock/],
  ] as const) {
    it(`rejects and removes a staged deployment that is not what was asked (${knob})`, async () => {
      await withRig({ ...base, faults: { [knob]: 1 } }, async ({ manager, sim }) => {
        await assert.rejects(manager.stage(target, { allowDowngrade: false }), failsWith("DEPLOY_VERIFY", problem));
        assert.equal((await manager.status()).staged, undefined, "the wrong deployment was cleaned up");
        const cleanup = (await sim.calls()).find((c) => c.method === "Cleanup");
        assert.deepEqual(cleanup?.args, [["pending-deploy"]]);
      });
    });
  }

  it("retries RegisterClient when the daemon did not reply, and reports a lasting failure", async () => {
    const noReply = { name: "org.freedesktop.DBus.Error.NoReply", message: "Did not receive a reply" };
    await withRig({ ...base, faults: { callErrors: { RegisterClient: { count: 1, ...noReply } } } }, async ({ manager, sim }) => {
      await manager.registerClient("update-agent");
      assert.deepEqual((await sim.dump()).clients.map((c) => c.id), ["update-agent"]);

      await sim.control.setFaults({ callErrors: { RegisterClient: { count: 10, ...noReply } } });
      await assert.rejects(manager.registerClient("update-agent"), (e) => {
        failsWith("DEPLOY_DBUS", /NoReply/)(e);
        assert.equal((e as AgentError).where, "org.projectatomic.rpmostree1.Sysroot.RegisterClient");
        return true;
      });
      assert.equal((await sim.control.faults()).callErrors.RegisterClient?.count, 7, "three attempts were made");
    });
  });

  it("says clearly when rpm-ostreed is not on the bus", async () => {
    await withRig({ ...base, restartOnExit: false }, async ({ manager, sim }) => {
      await sim.stop();
      await assert.rejects(manager.status(), (e) => {
        failsWith("DEPLOY_DBUS", /ServiceUnknown|NameHasNoOwner/)(e);
        assert.match((e as AgentError).hint ?? "", /rpm-ostreed/);
        return true;
      });
    });
  });
});
