import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEtcd, deadEndpoint, type TestEtcd } from "../helpers/etcd.js";
import { EtcdGateway, type EtcdClientOptions } from "../../src/strategy/etcd/gateway.js";
import { createEtcdLock, type EtcdLockOptions } from "../../src/strategy/etcd/lock.js";
import { readLockStatus, setSlots } from "../../src/strategy/etcd/admin.js";
import { createFleetDenylist } from "../../src/strategy/etcd/denylist.js";
import { nodeEtcdTransport, type EtcdTransport } from "../../src/strategy/etcd/transport.js";
import { AIRLOCK_KEY_PREFIX, groupKeys } from "../../src/strategy/etcd/wire.js";

let etcd: TestEtcd;
before(async () => {
  etcd = await startEtcd();
});
after(async () => {
  await etcd?.destroy();
});

const A = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1";
const B = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2";
const C = "ccccccccccccccccccccccccccccccc3";

const gateway = (extra: Partial<EtcdClientOptions> = {}) => new EtcdGateway({ endpoints: [etcd.endpoint], timeoutMs: 10_000, ...extra });
const lockFor = (id: string, group: string, extra: Partial<EtcdLockOptions> = {}) => createEtcdLock({ gateway: gateway(), id, group, ...extra });
const keysOf = (group: string) => groupKeys(AIRLOCK_KEY_PREFIX, group);
/** The semaphore's value as stored, read with etcdctl (not with our code). */
const stored = async (group: string) => (await etcd.etcdctl("get", "--print-value-only", keysOf(group).semaphore)).trim();
const put = (key: string, value: string) => etcd.etcdctl("put", key, value);

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

test("the first acquire creates Airlock's semaphore with Airlock's default of 1 slot; acquire and release are idempotent", async () => {
  const a = lockFor(A, "basic");
  const b = lockFor(B, "basic");
  assert.equal((await a.acquire()).kind, "acquired");
  assert.equal(await stored("basic"), `{"total_slots":1,"holders":["${A}"]}`);
  assert.equal((await a.acquire()).kind, "acquired", "already a holder");
  const busy = await b.acquire();
  assert.deepEqual(busy, { kind: "busy", reason: "all 1 semaphore slots currently locked", holders: [A], slots: 1 });
  assert.equal((await b.release()).kind, "released", "b holds nothing: nothing to do");
  assert.equal((await a.release()).kind, "released");
  assert.equal((await a.release()).kind, "released");
  assert.equal(await stored("basic"), '{"total_slots":1,"holders":[]}');
  assert.equal((await b.acquire()).kind, "acquired");
});

test("a semaphore written by hand in Airlock's format is honoured, and total_slots is never rewritten", async () => {
  await put(keysOf("airlock").semaphore, '{"total_slots":2,"holders":["zz-airlock-node"]}');
  const a = lockFor(A, "airlock", { initialSlots: 10 });
  assert.equal((await a.acquire()).kind, "acquired");
  assert.equal(await stored("airlock"), `{"total_slots":2,"holders":["${A}","zz-airlock-node"]}`, "sorted, slots kept");
  const busy = await lockFor(B, "airlock").acquire();
  assert.equal(busy.kind, "busy");
  assert.deepEqual(busy.kind === "busy" && busy.holders, [A, "zz-airlock-node"]);
  // The Airlock node comes back and Airlock unlocks it (a plain rewrite, as Airlock does).
  await put(keysOf("airlock").semaphore, `{"total_slots":2,"holders":["${A}"]}`);
  assert.equal((await lockFor(B, "airlock").acquire()).kind, "acquired");
  await put(keysOf("nulls").semaphore, '{"total_slots":1,"holders":null}');
  assert.equal((await lockFor(A, "nulls").acquire()).kind, "acquired");
});

test("a write that lands between our read and our compare-and-swap is not lost", async () => {
  const group = "conflict";
  const key = keysOf(group).semaphore;
  await put(key, '{"total_slots":2,"holders":[]}');
  const real = nodeEtcdTransport();
  let injected = 0;
  let intrusion = '{"total_slots":2,"holders":["intruder"]}';
  const meddling: EtcdTransport = {
    stream: (r) => real.stream(r),
    async post(request) {
      // The first compare-and-swap on the semaphore: another writer gets there first.
      if (injected === 0 && request.url.endsWith("/v3/kv/txn") && request.body.includes('"compare":[{')) {
        injected++;
        await put(key, intrusion);
      }
      return real.post(request);
    },
  };
  const seen: string[] = [];
  const lock = createEtcdLock({ gateway: gateway({ transport: meddling, observe: (_api, o) => seen.push(o) }), id: A, group });
  assert.equal((await lock.acquire()).kind, "acquired");
  assert.equal(injected, 1);
  assert.ok(seen.includes("conflict"), "the lost race was observed");
  assert.equal(await stored(group), `{"total_slots":2,"holders":["${A}","intruder"]}`);

  // With one slot left, the intruder takes it and we are told the group is full.
  await put(key, '{"total_slots":1,"holders":[]}');
  injected = 0;
  intrusion = '{"total_slots":1,"holders":["intruder"]}';
  const again = createEtcdLock({ gateway: gateway({ transport: meddling }), id: B, group });
  const outcome = await again.acquire();
  assert.equal(outcome.kind, "busy");
  assert.equal(await stored(group), '{"total_slots":1,"holders":["intruder"]}');
});

test("a dead first endpoint fails over to the next, which is then remembered", async () => {
  const seen: string[] = [];
  const gw = new EtcdGateway({ endpoints: [await deadEndpoint(), `${etcd.endpoint}/`], timeoutMs: 10_000, observe: (_api, o) => seen.push(o) });
  const lock = createEtcdLock({ gateway: gw, id: A, group: "failover" });
  assert.equal((await lock.acquire()).kind, "acquired");
  assert.equal(gw.endpoint, etcd.endpoint);
  assert.equal(seen.filter((o) => o === "unavailable").length, 1);
  assert.equal((await lock.release()).kind, "released");
  assert.equal(seen.filter((o) => o === "unavailable").length, 1, "no second try of the dead one");

  const allDead = createEtcdLock({ gateway: new EtcdGateway({ endpoints: [await deadEndpoint()], timeoutMs: 2_000 }), id: A, group: "failover", rand: () => 0 });
  const outcome = await allDead.acquire();
  assert.equal(outcome.kind, "error");
  assert.equal(outcome.kind === "error" && outcome.error.code, "ETCD_UNAVAILABLE");
});

test("waiting: a release hands the slot to the first in line; waiters are served in arrival order", async () => {
  const group = "line";
  const a = lockFor(A, group);
  assert.equal((await a.acquire()).kind, "acquired");
  const order: string[] = [];
  const waitFor = (id: string) => lockFor(id, group).acquire({ waitMs: 120_000 }).then((o) => (order.push(id), o));
  const waitingB = waitFor(B);
  await until("b in line", async () => (await readLockStatus(gateway(), keysOf(group))).waiters.length === 1);
  const waitingC = waitFor(C);
  await until("c in line", async () => (await readLockStatus(gateway(), keysOf(group))).waiters.length === 2);
  assert.deepEqual((await readLockStatus(gateway(), keysOf(group))).waiters.map((w) => w.id), [B, C]);

  assert.equal((await a.release()).kind, "released");
  assert.equal((await waitingB).kind, "acquired");
  assert.equal(await stored(group), `{"total_slots":1,"holders":["${B}"]}`);
  assert.equal((await lockFor(B, group).release()).kind, "released");
  assert.equal((await waitingC).kind, "acquired");
  assert.deepEqual(order, [B, C]);
  assert.deepEqual((await readLockStatus(gateway(), keysOf(group))).waiters, [], "nobody left in line");
});

test("waiting gives up at its deadline, leaves the line, and does not jump a line it is not in", async () => {
  const group = "deadline";
  assert.equal((await lockFor(A, group).acquire()).kind, "acquired");
  const outcome = await lockFor(B, group).acquire({ waitMs: 300 });
  assert.equal(outcome.kind, "busy");
  assert.deepEqual((await readLockStatus(gateway(), keysOf(group))).waiters, []);

  // An aborted wait resolves (busy) and leaves the line too.
  const controller = new AbortController();
  const stopped = lockFor(C, group).acquire({ waitMs: 120_000, signal: controller.signal });
  await until("c in line", async () => (await readLockStatus(gateway(), keysOf(group))).waiters.length === 1);
  controller.abort();
  assert.equal((await stopped).kind, "busy");
  assert.deepEqual((await readLockStatus(gateway(), keysOf(group))).waiters, []);

  // A caller that does not wait does not take a free slot while others wait in line for it.
  await put(keysOf("queued").semaphore, '{"total_slots":1,"holders":[]}');
  await put(`${keysOf("queued").waitersPrefix}${B}`, '{"since":"2026-01-01T00:00:00.000Z"}');
  const polite = await lockFor(C, "queued").acquire();
  assert.equal(polite.kind, "busy");
  assert.match(polite.kind === "busy" ? polite.reason : "", /waiting in line/);
});

test("adding slots lets the first waiter in without anyone releasing", async () => {
  const group = "grow";
  assert.equal((await lockFor(A, group).acquire()).kind, "acquired");
  const waiting = lockFor(B, group).acquire({ waitMs: 120_000 });
  await until("b in line", async () => (await readLockStatus(gateway(), keysOf(group))).waiters.length === 1);
  const result = await setSlots(gateway(), keysOf(group), 2);
  assert.deepEqual(result, { previous: 1, holders: [A] });
  assert.equal((await waiting).kind, "acquired");
  assert.equal(await stored(group), `{"total_slots":2,"holders":["${A}","${B}"]}`);
});

test("holder expiry (ttl_secs): a holder whose lease is gone is evicted; an Airlock holder never is", async () => {
  const group = "ttl";
  const a = lockFor(A, group, { ttlSecs: 600 });
  assert.equal((await a.acquire()).kind, "acquired");
  let status = await readLockStatus(gateway(), keysOf(group));
  assert.deepEqual(status.expiring, [{ id: A, alive: true }]);
  assert.equal((await lockFor(B, group, { ttlSecs: 600 }).acquire()).kind, "busy");
  // A never comes back: its lease runs out (revoked here instead of waiting 10 minutes).
  const marker = JSON.parse(await etcd.etcdctl("get", "--print-value-only", `${keysOf(group).ttlMarkersPrefix}${A}`)) as { lease: string };
  await gateway().leaseRevoke(marker.lease);
  status = await readLockStatus(gateway(), keysOf(group));
  assert.deepEqual(status.expiring, [{ id: A, alive: false }]);
  assert.equal((await lockFor(B, group, { ttlSecs: 600 }).acquire()).kind, "acquired");
  assert.equal(await stored(group), `{"total_slots":1,"holders":["${B}"]}`);
  assert.equal((await lockFor(B, group, { ttlSecs: 600 }).release()).kind, "released");
  assert.deepEqual((await readLockStatus(gateway(), keysOf(group))).expiring, []);

  // A waiter with expiry that is handed a slot gets its expiry keys right after.
  assert.equal((await lockFor(A, group).acquire()).kind, "acquired");
  const waiting = lockFor(C, group, { ttlSecs: 600 }).acquire({ waitMs: 120_000 });
  await until("c in line", async () => (await readLockStatus(gateway(), keysOf(group))).waiters.length === 1);
  assert.deepEqual((await lockFor(A, group).release()), { kind: "released" });
  assert.equal((await waiting).kind, "acquired");
  assert.deepEqual((await readLockStatus(gateway(), keysOf(group))).expiring, [{ id: C, alive: true }]);

  await put(keysOf("ttl-airlock").semaphore, '{"total_slots":1,"holders":["airlock-node"]}');
  assert.equal((await lockFor(B, "ttl-airlock", { ttlSecs: 600 }).acquire()).kind, "busy");
});

test("fleet denylist: recorded once per payload, concurrent writers all land", async () => {
  const list = createFleetDenylist({ gateway: gateway(), group: "deny" });
  assert.deepEqual(await list.readFleetDenylist(), []);
  const entry = (payload: string) => ({ payload, version: "41.20250101.3.0", reason: "health check failed: podman.service", node_id: A, time: "2026-01-01T00:00:00.000Z" });
  assert.equal(await list.recordFleetDenylist(entry("quay.io/fedora/fedora-coreos@sha256:1")), true);
  assert.equal(await list.recordFleetDenylist(entry("quay.io/fedora/fedora-coreos@sha256:1")), false);
  await Promise.all([2, 3, 4, 5, 6].map((n) => createFleetDenylist({ gateway: gateway(), group: "deny" }).recordFleetDenylist(entry(`quay.io/x@sha256:${n}`))));
  const entries = await list.readFleetDenylist();
  assert.equal(entries.length, 6);
  assert.deepEqual(JSON.parse(await etcd.etcdctl("get", "--print-value-only", keysOf("deny").denylist)).releases[0], entry("quay.io/fedora/fedora-coreos@sha256:1"));
  assert.deepEqual(await createFleetDenylist({ gateway: gateway(), group: "other" }).readFleetDenylist(), [], "per group");
});
