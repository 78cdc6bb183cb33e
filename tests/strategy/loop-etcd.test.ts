/**
 * `strategy = "etcd_lock"` inside the real agent loop, against a real etcd on loopback: the slot lives in
 * Airlock's semaphore key, so what the agent does is visible to (and blocked by) Airlock-managed nodes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startNodeRig, type NodeRig } from "../helpers/node-rig.js";
import { startEtcd, type TestEtcd } from "../helpers/etcd.js";
import { OCI_RELEASES, at } from "../sim/sample-releases.js";
import { readNodeUuid } from "../../src/identity/index.js";
import { assertNotFinalized, finalizeCount, finalized, humanStatus, POST_BOOT_DIR, PRE_REBOOT_DIR, putScript, waitingFor, waitingLine, waitUntil } from "./loop-support.js";

const R2 = at(OCI_RELEASES, 2);
const SEMAPHORE = "com.coreos.airlock/groups/default/v1/semaphore";
const AIRLOCK_NODE = "c988d2509fdf5cdcbed39037c56406fb";
const SEEN = "run/semaphore-seen";

async function semaphore(etcd: TestEtcd): Promise<{ total_slots: number; holders: string[] | null } | undefined> {
  const value = (await etcd.etcdctl("get", SEMAPHORE, "--print-value-only")).trim();
  return value === "" ? undefined : (JSON.parse(value) as { total_slots: number; holders: string[] | null });
}

/** A hook that appends the semaphore's value, as etcd has it when the hook runs, to `<root>/run/semaphore-seen`. */
function semaphoreHook(rig: NodeRig, etcd: TestEtcd): string {
  return `#!/bin/sh\nETCDCTL_API=3 /usr/bin/etcdctl --endpoints=${etcd.endpoint} get ${SEMAPHORE} --print-value-only >> '${join(rig.root, SEEN)}'\n`;
}

const seen = (rig: NodeRig) => (existsSync(join(rig.root, SEEN)) ? readFileSync(join(rig.root, SEEN), "utf8").trim().split("\n").filter(Boolean) : []);

async function withEtcdRig(body: (rig: NodeRig, etcd: TestEtcd, id: string) => Promise<void>): Promise<void> {
  const etcd = await startEtcd();
  let rig: NodeRig | undefined;
  try {
    rig = await startNodeRig({
      releases: OCI_RELEASES,
      booted: 0,
      config: `[updates]\nstrategy = "etcd_lock"\n[updates.etcd_lock]\nendpoints = ["${etcd.endpoint}"]\n`,
    });
    await body(rig, etcd, await readNodeUuid(rig.root));
  } finally {
    await rig?.stop();
    await etcd.destroy();
  }
}

test("etcd_lock: the holder is in Airlock's semaphore before finalizing, and leaves it after the verified boot", async () => {
  await withEtcdRig(async (rig, etcd, id) => {
    putScript(rig, `${PRE_REBOOT_DIR}/10-look`, semaphoreHook(rig, etcd));
    putScript(rig, `${POST_BOOT_DIR}/10-look`, semaphoreHook(rig, etcd));
    rig.startAgent();
    await finalized(rig);
    assert.equal(await finalizeCount(rig), 1);
    const slot = JSON.stringify({ total_slots: 1, holders: [id] });
    // The pre-reboot hook runs after the slot is taken and before FinalizeDeployment.
    assert.deepEqual(seen(rig), [slot]);
    assert.deepEqual(await semaphore(etcd), { total_slots: 1, holders: [id] }, "held across the reboot");

    await rig.reboot();
    await waitUntil("the slot given back", async () => (await semaphore(etcd))?.holders?.length === 0, 30_000);
    // The post-boot hook (after the health checks) still saw the slot held: it is released after verification.
    assert.deepEqual(seen(rig), [slot, slot]);
    const status = await rig.waitForStatus("idle on the new release", (s) => s.state === "idle" && s.booted?.version === R2.version);
    assert.equal(status.strategy, "etcd_lock");
  });
});

test("etcd_lock: a slot held by an Airlock node (a hand-written key) blocks the agent until it is freed", async () => {
  await withEtcdRig(async (rig, etcd, id) => {
    await etcd.etcdctl("put", SEMAPHORE, JSON.stringify({ total_slots: 1, holders: [AIRLOCK_NODE] }));
    rig.startAgent();
    const waiting = await waitingFor(rig, "lock");
    assert.match(waiting.waiting?.message ?? "", /^reboot slot busy: /);
    assert.match(waiting.waiting?.message ?? "", new RegExp(AIRLOCK_NODE));
    assert.deepEqual(waiting.waiting?.details, { holders: [AIRLOCK_NODE] });
    const text = await humanStatus(rig);
    assert.match(waitingLine(text) ?? "", new RegExp(`^Waiting: reboot lock: reboot slot busy: .*${AIRLOCK_NODE}`), text);
    await assertNotFinalized(rig);
    assert.deepEqual(await semaphore(etcd), { total_slots: 1, holders: [AIRLOCK_NODE] }, "the agent never writes over another holder");

    await etcd.etcdctl("put", SEMAPHORE, JSON.stringify({ total_slots: 1, holders: [] }));
    await finalized(rig);
    assert.deepEqual((await semaphore(etcd))?.holders, [id]);
  });
});
