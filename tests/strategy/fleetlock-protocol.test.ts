import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { classifyFleetLockReply, fleetLockBody, fleetLockUrl, parseFleetLockError } from "../../src/strategy/fleetlock/protocol.js";
import { nextBackoff, FLEETLOCK_RETRY, ETCD_CONFLICT, type BackoffPolicy } from "../../src/strategy/lock/backoff.js";
import { coordinationFromSettings } from "../../src/strategy/lock/from-settings.js";
import { defaultSettings } from "../../src/config/index.js";

const fixture = (name: string) => readFileSync(new URL(`../fixtures/zincati/${name}`, import.meta.url), "utf8");

test("the base URL is a directory with or without its trailing slash (no dropped path segment)", () => {
  const table: [string, string][] = [
    ["http://example.com/base", "http://example.com/base/v1/pre-reboot"],
    ["http://example.com/base/", "http://example.com/base/v1/pre-reboot"],
    ["https://fleet-lock.example.com", "https://fleet-lock.example.com/v1/pre-reboot"],
    ["https://fleet-lock.example.com/", "https://fleet-lock.example.com/v1/pre-reboot"],
    ["http://127.0.0.1:9090/a/b", "http://127.0.0.1:9090/a/b/v1/pre-reboot"],
    ["http://127.0.0.1:9090/a/b?x=1", "http://127.0.0.1:9090/a/b/v1/pre-reboot"],
  ];
  for (const [base, expected] of table) assert.equal(fleetLockUrl(base, "pre-reboot"), expected, base);
  assert.equal(fleetLockUrl("http://example.com/base", "steady-state"), "http://example.com/base/v1/steady-state");
});

test("the request body is Zincati's, byte for byte modulo whitespace", () => {
  for (const name of ["fleetlock-request-body-pre-reboot.json", "fleetlock-request-body-steady-state.json"]) {
    const zincati = JSON.stringify(JSON.parse(fixture(name)));
    assert.equal(fleetLockBody("e0f3745b108f471cbd4883c6fbed8cdd", "mock-workers"), zincati, name);
  }
});

test("server error bodies are read whatever their content type, and junk is not an error body", () => {
  assert.deepEqual(parseFleetLockError(fixture("fleetlock-error-pre-reboot.json")), { kind: "f1", value: "pre-reboot failure" });
  assert.deepEqual(parseFleetLockError('{"kind":"failed_lock","value":"all 1 semaphore slots currently locked"}\n'), {
    kind: "failed_lock",
    value: "all 1 semaphore slots currently locked",
  });
  assert.equal(parseFleetLockError("<html>bad gateway</html>"), undefined);
  assert.equal(parseFleetLockError('{"value":"no kind"}'), undefined);
});

test("replies: Airlock's 500 failed_lock and poseidon's 423 are a busy group, not a failure", () => {
  const cases: [number, string, string, Record<string, unknown>][] = [
    [200, "", "ok", {}],
    [204, "", "ok", {}],
    [500, '{"kind":"failed_lock","value":"all 2 semaphore slots currently locked"}\n', "busy", { slots: 2, serverKind: "failed_lock" }],
    [423, '{"kind":"lock_held","value":"reboot lease lock unavailable, held by abc123"}', "busy", { holders: ["abc123"], serverKind: "lock_held" }],
    [500, '{"kind":"failed_lock_semaphore_full","value":"semaphore currently full, all slots are locked already"}', "busy", {}],
    [500, '{"kind":"failed_lock","value":"conflict on semaphore detected, aborting"}', "retry", {}],
    [503, "upstream down", "retry", { serverKind: "generic_http_503", reason: "(unknown/generic server error)" }],
    [429, "", "retry", {}],
    [400, '{"kind":"unknown_group","value":"unknown group \\"x\\""}', "fail", { serverKind: "unknown_group" }],
    [400, '{"kind":"invalid_client_identity","value":"bad"}', "fail", {}],
    [404, "not found", "fail", { serverKind: "generic_http_404" }],
    [302, "", "fail", { serverKind: "generic_http_302" }],
  ];
  for (const [status, body, kind, extra] of cases) {
    const reply = classifyFleetLockReply(status, body);
    assert.equal(reply.kind, kind, `${status} ${body}`);
    for (const [k, v] of Object.entries(extra)) assert.deepEqual((reply as Record<string, unknown>)[k], v, `${status} ${k}`);
  }
});

test("nextBackoff: exponential, capped, jitter only ever shortens the delay", () => {
  const policy: BackoffPolicy = { baseMs: 100, maxMs: 1_000, jitter: 0.5 };
  const rows: [number, number, number][] = [
    // attempt, rand, delay
    [0, 1, 100],
    [0, 0, 50],
    [1, 1, 200],
    [2, 0.5, 300],
    [3, 1, 800],
    [4, 1, 1_000],
    [50, 1, 1_000],
    [4, 0, 500],
    [-1, 1, 100],
  ];
  for (const [attempt, r, delay] of rows) assert.equal(nextBackoff(attempt, () => r, policy), delay, `attempt ${attempt} rand ${r}`);
  assert.equal(nextBackoff(0, () => 1), FLEETLOCK_RETRY.baseMs);
  // Full jitter (conflicts): anywhere from 0 to the ceiling.
  assert.equal(nextBackoff(10, () => 0, ETCD_CONFLICT), 0);
  assert.equal(nextBackoff(10, () => 0.999999, ETCD_CONFLICT), ETCD_CONFLICT.maxMs);
  // A broken random source cannot produce a negative or huge delay.
  assert.equal(nextBackoff(0, () => 7, policy), 100);
  assert.equal(nextBackoff(0, () => -3, policy), 50);
});

test("coordinationFromSettings: the configured strategy's lock, templated URL, and no lock for immediate", () => {
  const identity = { nodeUuid: "e0f3745b108f471cbd4883c6fbed8cdd", group: "workers", basearch: "x86_64", stream: "stable", platform: "metal" };
  const settings = defaultSettings();
  assert.equal(coordinationFromSettings(settings, identity), undefined);

  settings.updates.strategy = "fleet_lock";
  settings.updates.fleet_lock.base_url = "https://fleet.example.com/${stream}/${basearch}";
  const fleet = coordinationFromSettings(settings, identity)!;
  assert.match(fleet.lock.describe(), /fleet_lock at https:\/\/fleet\.example\.com\/stable\/x86_64 \(group workers/);
  assert.equal(fleet.denylist, undefined);

  settings.updates.strategy = "etcd_lock";
  settings.updates.etcd_lock.endpoints = ["http://127.0.0.1:2379/"];
  const etcd = coordinationFromSettings(settings, identity)!;
  assert.equal(etcd.lock.describe(), "etcd_lock at http://127.0.0.1:2379 (key com.coreos.airlock/groups/workers/v1/semaphore, id e0f3745b108f471cbd4883c6fbed8cdd)");
  assert.ok(etcd.denylist);
});
