import { test } from "node:test";
import assert from "node:assert/strict";
import {
  encode,
  decode,
  groupKeys,
  parseRange,
  parseTxn,
  parseWatchLine,
  prefixRangeEnd,
  queryEscape,
  unchangedSince,
  gatewayErrorMessage,
} from "../../src/strategy/etcd/wire.js";
import {
  compareBytes,
  decideAcquire,
  decideRelease,
  decideWhileWaiting,
  handOver,
  parseSemaphore,
  serializeSemaphore,
} from "../../src/strategy/etcd/semaphore.js";
import { expiredHolders } from "../../src/strategy/etcd/ttl.js";
import { parseDenylist, withEntry, MAX_DENYLIST_ENTRIES, type FleetDenylistEntry } from "../../src/strategy/etcd/denylist.js";

const A = "c988d2509fdf5cdcbed39037c56406fb";

test("keys are Airlock's, byte for byte (the reference's base64)", () => {
  const keys = groupKeys("com.coreos.airlock", "default");
  assert.equal(keys.semaphore, "com.coreos.airlock/groups/default/v1/semaphore");
  assert.equal(encode(keys.semaphore), "Y29tLmNvcmVvcy5haXJsb2NrL2dyb3Vwcy9kZWZhdWx0L3YxL3NlbWFwaG9yZQ==");
  assert.equal(encode(groupKeys("com.coreos.airlock", "workers").semaphore), "Y29tLmNvcmVvcy5haXJsb2NrL2dyb3Vwcy93b3JrZXJzL3YxL3NlbWFwaG9yZQ==");
  assert.equal(keys.denylist, "com.coreos.airlock/groups/default/v1/denylist");
  assert.equal(encode("com.coreos.airlock/groups/"), "Y29tLmNvcmVvcy5haXJsb2NrL2dyb3Vwcy8=");
  assert.equal(prefixRangeEnd("com.coreos.airlock/groups/"), "Y29tLmNvcmVvcy5haXJsb2NrL2dyb3VwczA=");
  assert.equal(prefixRangeEnd("com.coreos.airlock/"), "Y29tLmNvcmVvcy5haXJsb2NrMA==");
  assert.equal(decode("eyJ0b3RhbF9zbG90cyI6MiwiaG9sZGVycyI6W119"), '{"total_slots":2,"holders":[]}');
});

test("the group is escaped as Go's url.QueryEscape does", () => {
  const rows: [string, string][] = [
    ["default", "default"],
    ["mock-workers.v2", "mock-workers.v2"],
    ["a b", "a+b"],
    ["a/b", "a%2Fb"],
    ["it's(*)!", "it%27s%28%2A%29%21"],
    ["ä", "%C3%A4"],
  ];
  for (const [group, escaped] of rows) assert.equal(queryEscape(group), escaped, group);
});

test("the semaphore value reads and writes exactly as Airlock's", () => {
  assert.equal(serializeSemaphore({ totalSlots: 2, holders: [] }), '{"total_slots":2,"holders":[]}');
  assert.equal(serializeSemaphore({ totalSlots: 2, holders: [A] }), `{"total_slots":2,"holders":["${A}"]}`);
  assert.equal(encode(serializeSemaphore({ totalSlots: 2, holders: [A] })), "eyJ0b3RhbF9zbG90cyI6MiwiaG9sZGVycyI6WyJjOTg4ZDI1MDlmZGY1Y2RjYmVkMzkwMzdjNTY0MDZmYiJdfQ==");
  assert.deepEqual(parseSemaphore('{"total_slots":3,"holders":null}', "k"), { totalSlots: 3, holders: [] });
  assert.deepEqual(parseSemaphore('{"total_slots":3,"holders":["b","a","b"]}', "k"), { totalSlots: 3, holders: ["a", "b"] });
  for (const bad of ["", "[]", '{"holders":[]}', '{"total_slots":-1,"holders":[]}', '{"total_slots":1.5,"holders":[]}', '{"total_slots":1,"holders":[1]}', '{"semaphore":1,"max":1,"holders":null}']) {
    assert.throws(() => parseSemaphore(bad, "etcd key K"), (e: Error & { code?: string; where?: string }) => e.code === "LOCK_PROTOCOL" && e.where === "etcd key K", bad);
  }
});

test("holders stay sorted byte-wise (Airlock binary-searches them)", () => {
  assert.ok(compareBytes("a", "b") < 0);
  assert.ok(compareBytes("B", "a") < 0);
  // Outside the BMP, UTF-16 order (JS's default sort) and UTF-8 byte order (Go's) disagree.
  const odd = ["\uFF61", "\u{1F600}"];
  assert.deepEqual([...odd].sort(), ["\u{1F600}", "\uFF61"]);
  assert.deepEqual([...odd].sort(compareBytes), ["\uFF61", "\u{1F600}"]);
  const next = decideAcquire({ totalSlots: 5, holders: ["a", "c"] }, "b");
  assert.deepEqual(next.kind === "take" && next.next.holders, ["a", "b", "c"]);
});

test("acquire decisions: recursive, full, take", () => {
  assert.deepEqual(decideAcquire({ totalSlots: 1, holders: [A] }, A), { kind: "held" });
  assert.deepEqual(decideAcquire({ totalSlots: 1, holders: ["x"] }, A), { kind: "full", reason: "all 1 semaphore slots currently locked" });
  assert.deepEqual(decideAcquire({ totalSlots: 0, holders: [] }, A).kind, "full");
  // An admin lowered the slots below the holders: nobody new gets in.
  assert.deepEqual(decideAcquire({ totalSlots: 1, holders: ["x", "y"] }, A).kind, "full");
  assert.equal(decideWhileWaiting({ totalSlots: 1, holders: [A] }, A), "held");
  assert.equal(decideWhileWaiting({ totalSlots: 2, holders: ["x"] }, A), "take");
  assert.equal(decideWhileWaiting({ totalSlots: 1, holders: ["x"] }, A), "wait");
});

test("release hands the freed slot to the first waiters, in order", () => {
  assert.deepEqual(decideRelease({ totalSlots: 1, holders: ["x"] }, A, ["w1"]), { kind: "not-held" });
  assert.deepEqual(decideRelease({ totalSlots: 1, holders: [A] }, A, []), { kind: "release", next: { totalSlots: 1, holders: [] }, handedTo: [] });
  assert.deepEqual(decideRelease({ totalSlots: 1, holders: [A] }, A, ["w1", "w2"]), { kind: "release", next: { totalSlots: 1, holders: ["w1"] }, handedTo: ["w1"] });
  // a stale waiter key of a holder, and our own, are skipped
  assert.deepEqual(decideRelease({ totalSlots: 2, holders: [A, "h"] }, A, ["h", A, "w1"]), {
    kind: "release",
    next: { totalSlots: 2, holders: ["h", "w1"] },
    handedTo: ["w1"],
  });
  // the first in line taking a slot fills the other free ones, skipping itself
  assert.deepEqual(handOver({ totalSlots: 3, holders: [A] }, [A, "w1", "w2", "w3"], A).handedTo, ["w1", "w2"]);
  // an admin lowered the slots: releasing hands nothing over
  assert.deepEqual(decideRelease({ totalSlots: 1, holders: [A, "h"] }, A, ["w1"]), { kind: "release", next: { totalSlots: 1, holders: ["h"] }, handedTo: [] });
});

test("expired holders: a marker and no lease key; Airlock holders never expire", () => {
  assert.deepEqual(expiredHolders(["a", "b", "c"], new Set(["a", "b"]), new Set(["a"])), ["b"]);
  assert.deepEqual(expiredHolders(["airlock-node"], new Set(), new Set()), []);
});

test("gateway replies: missing fields are false, zero or empty", () => {
  assert.deepEqual(parseRange({ header: { revision: "7" } }), { revision: 7, kvs: [], count: 0 });
  const txn = parseTxn({ header: { revision: "9" }, responses: [{ response_range: { kvs: [{ key: encode("k"), value: encode("v"), version: "3", mod_revision: "9", create_revision: "2" }], count: "1" } }] });
  assert.equal(txn.succeeded, false, "a failed txn has no succeeded key");
  assert.deepEqual(txn.ranges[0]?.kvs[0], { key: "k", value: "v", version: 3, modRevision: 9, createRevision: 2, lease: "0" });
  assert.deepEqual(unchangedSince("k", undefined), [{ target: "VERSION", result: "EQUAL", key: encode("k"), version: "0" }]);
  assert.equal(gatewayErrorMessage('{"error":"etcdserver: user name is empty","message":"etcdserver: user name is empty","code":3}'), "etcdserver: user name is empty");
  assert.equal(gatewayErrorMessage("plain"), "plain");
});

test("watch stream lines: created, events (a PUT has no type), canceled, errors", () => {
  assert.deepEqual(parseWatchLine('{"result":{"header":{"revision":"5"},"created":true}}', "w"), { kind: "created", revision: 5 });
  const events = parseWatchLine(`{"result":{"header":{"revision":"6"},"events":[{"kv":{"key":"${encode("k")}","value":"${encode("v")}","version":"1","mod_revision":"6","create_revision":"6"}},{"type":"DELETE","kv":{"key":"${encode("k")}","mod_revision":"7"}}]}}`, "w");
  assert.equal(events.kind, "events");
  assert.deepEqual(events.kind === "events" && events.events.map((e) => e.type), ["PUT", "DELETE"]);
  assert.deepEqual(parseWatchLine('{"result":{"header":{},"canceled":true,"compact_revision":"3"}}', "w"), { kind: "canceled", revision: 0, compactRevision: 3, reason: "" });
  assert.throws(() => parseWatchLine('{"error":{"grpc_code":14,"message":"unavailable"}}', "w"), /unavailable/);
  assert.throws(() => parseWatchLine("{", "w"), /not JSON/);
});

test("fleet denylist: one entry per payload, bounded, tolerant of bad entries", () => {
  const entry = (payload: string): FleetDenylistEntry => ({ payload, version: "41.1", reason: "health check failed", node_id: A, time: "2026-01-01T00:00:00Z" });
  assert.deepEqual(withEntry([], entry("p1")), [entry("p1")]);
  assert.equal(withEntry([entry("p1")], { ...entry("p1"), reason: "other" }), undefined);
  const full = Array.from({ length: MAX_DENYLIST_ENTRIES }, (_, i) => entry(`p${i}`));
  const next = withEntry(full, entry("new"))!;
  assert.equal(next.length, MAX_DENYLIST_ENTRIES);
  assert.equal(next.at(-1)!.payload, "new");
  assert.equal(next[0]!.payload, "p1", "the oldest goes first");
  assert.deepEqual(parseDenylist('{"releases":[{"payload":"p","version":"v"},{"nopayload":1},null]}', "k"), [{ payload: "p", version: "v", reason: "", node_id: "", time: "" }]);
  assert.throws(() => parseDenylist('{"other":[]}', "k"), (e: Error & { code?: string }) => e.code === "LOCK_PROTOCOL");
});
