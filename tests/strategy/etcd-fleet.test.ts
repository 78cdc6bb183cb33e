/**
 * Fifty agents (in-process, each with its own client and id) share k slots through a real etcd,
 * which is killed and restarted mid-run. A watcher sees every revision of the semaphore.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { startEtcd } from "../helpers/etcd.js";
import { EtcdGateway } from "../../src/strategy/etcd/gateway.js";
import { createEtcdLock } from "../../src/strategy/etcd/lock.js";
import { readLockStatus, setSlots } from "../../src/strategy/etcd/admin.js";
import { parseSemaphore } from "../../src/strategy/etcd/semaphore.js";
import { AIRLOCK_KEY_PREFIX, groupKeys } from "../../src/strategy/etcd/wire.js";

const AGENTS = 50;
const SLOTS = 3;
const HOLD_MS = 100;
const WAIT_MS = 5 * 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Follows every revision of `key` (re-watching after etcd restarts) and tracks the most holders seen. */
function watchEveryRevision(endpoint: string, key: string, fromRevision: number) {
  const stop = new AbortController();
  const gateway = new EtcdGateway({ endpoints: [endpoint], timeoutMs: 5_000 });
  const seen = { maxHolders: 0, revisions: 0, lastRevision: fromRevision - 1, problems: [] as string[] };
  const running = (async () => {
    while (!stop.signal.aborted) {
      try {
        for await (const message of gateway.watch(key, seen.lastRevision + 1, stop.signal)) {
          if (message.kind === "canceled") seen.problems.push(`watch canceled at ${message.compactRevision}`);
          if (message.kind !== "events") continue;
          for (const event of message.events) {
            seen.revisions++;
            seen.lastRevision = event.kv.modRevision;
            if (event.type === "PUT") seen.maxHolders = Math.max(seen.maxHolders, parseSemaphore(event.kv.value, key).holders.length);
          }
        }
      } catch {
        // etcd is down: watch again from the next revision once it is back
      }
      if (!stop.signal.aborted) await sleep(100);
    }
  })();
  return { seen, stop: async () => (stop.abort(), await running) };
}

test(`${AGENTS} agents share ${SLOTS} slots: never more than ${SLOTS} holders, everyone finishes, an etcd crash changes nothing`, { timeout: 240_000 }, async () => {
  const etcd = await startEtcd();
  let watcher: ReturnType<typeof watchEveryRevision> | undefined;
  try {
    const keys = groupKeys(AIRLOCK_KEY_PREFIX, "fleet");
    const admin = new EtcdGateway({ endpoints: [etcd.endpoint], timeoutMs: 5_000 });
    await setSlots(admin, keys, SLOTS);
    watcher = watchEveryRevision(etcd.endpoint, keys.semaphore, (await admin.range(keys.semaphore)).revision + 1);

    let finished = 0;
    const holding = new Set<string>();
    let overlap = 0;
    const agent = async (index: number) => {
      const id = `agent-${String(index).padStart(2, "0")}`;
      const lock = createEtcdLock({ gateway: new EtcdGateway({ endpoints: [etcd.endpoint], timeoutMs: 5_000 }), id, group: "fleet" });
      const acquired = await lock.acquire({ waitMs: WAIT_MS });
      assert.equal(acquired.kind, "acquired", `${id}: ${JSON.stringify(acquired)}`);
      holding.add(id);
      overlap = Math.max(overlap, holding.size);
      await sleep(HOLD_MS); // the reboot
      holding.delete(id);
      const released = await lock.release({ waitMs: WAIT_MS });
      assert.equal(released.kind, "released", `${id}: ${JSON.stringify(released)}`);
      finished++;
    };
    const all = Promise.all(Array.from({ length: AGENTS }, (_, i) => agent(i)));

    // Crash etcd once a third of the fleet is through, and bring it back on the same data.
    while (finished < AGENTS / 3) await sleep(20);
    await etcd.kill();
    await sleep(500);
    await etcd.start();
    await all;

    await sleep(300); // let the watcher catch the last revisions
    assert.equal(finished, AGENTS);
    assert.deepEqual(watcher.seen.problems, []);
    assert.ok(watcher.seen.maxHolders <= SLOTS, `the watcher saw ${watcher.seen.maxHolders} holders at once`);
    assert.ok(overlap <= SLOTS, `${overlap} agents believed they held a slot at once`);
    assert.ok(watcher.seen.revisions >= AGENTS, "the watcher saw the fleet go through");
    const status = await readLockStatus(admin, keys);
    assert.equal(status.totalSlots, SLOTS);
    assert.deepEqual(status.holders, []);
    assert.deepEqual(status.waiters, []);
  } finally {
    await watcher?.stop();
    await etcd.destroy();
  }
});
