import { test } from "node:test";
import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { startHttpServer, selfSignedCertificate, type TestServer } from "../helpers/http-server.js";
import { clientParams, readBody, startFleetLockServer } from "../helpers/fleetlock-server.js";
import { createFleetLock, type FleetLockOptions } from "../../src/strategy/fleetlock/client.js";
import type { Clock } from "../../src/host/clock.js";
import type { LockOutcome } from "../../src/strategy/lock/index.js";

const NODE_A = "e0f3745b108f471cbd4883c6fbed8cdd";
const NODE_B = "c988d2509fdf5cdcbed39037c56406fb";

interface Received {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
}

/** An Airlock-like server mounted at `mount`: 500 failed_lock when full, text/plain error bodies with a newline. */
async function airlockLike(mount: string, groups: Record<string, number>): Promise<TestServer & { received: Received[]; holders: Map<string, Set<string>> }> {
  const received: Received[] = [];
  const holders = new Map(Object.keys(groups).map((g) => [g, new Set<string>()]));
  const fail = (res: ServerResponse, status: number, kind: string, value: string) => {
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
    res.end(`${JSON.stringify({ kind, value })}\n`);
  };
  const server = await startHttpServer(async (req, res) => {
    const body = await readBody(req);
    received.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body });
    const api = req.url === `${mount}v1/pre-reboot` ? "lock" : req.url === `${mount}v1/steady-state` ? "unlock" : undefined;
    if (!api) return fail(res, 404, "not_found", "404 page not found");
    const params = req.headers["fleet-lock-protocol"] === "true" ? clientParams(body) : undefined;
    if (!params) return fail(res, 400, "invalid_client_identity", "failed to validate client identity");
    const group = holders.get(params.group);
    if (!group) return fail(res, 400, "unknown_group", `unknown group "${params.group}"`);
    if (api === "lock" && !group.has(params.id)) {
      if (group.size >= groups[params.group]!) return fail(res, 500, "failed_lock", `all ${groups[params.group]} semaphore slots currently locked`);
      group.add(params.id);
    }
    if (api === "unlock") group.delete(params.id);
    res.writeHead(200);
    res.end();
  });
  return Object.assign(server, { received, holders });
}

/** Time that passes only when the code sleeps, so retry schedules are visible and tests do not wait. */
function fakeClock(): { clock: Clock; sleeps: number[] } {
  let now = Date.parse("2026-01-01T00:00:00Z");
  const sleeps: number[] = [];
  return {
    sleeps,
    clock: {
      now: () => new Date(now),
      sleep: async (ms) => {
        sleeps.push(ms);
        now += ms;
      },
    },
  };
}

function lockFor(baseUrl: string, id: string, extra: Partial<FleetLockOptions> = {}) {
  return createFleetLock({ baseUrl, id, group: "workers", timeoutMs: 10_000, clock: fakeClock().clock, rand: () => 0.5, ...extra });
}

const kinds = (outcomes: LockOutcome[]) => outcomes.map((o) => o.kind);

test("Airlock-like server: acquire is recursive, a full group is busy, release frees the slot", async () => {
  const server = await airlockLike("/", { workers: 1 });
  try {
    const a = lockFor(server.url, NODE_A);
    const b = lockFor(server.url, NODE_B);
    assert.deepEqual(kinds([await a.acquire(), await a.acquire()]), ["acquired", "acquired"]);
    const busy = await b.acquire();
    assert.equal(busy.kind, "busy");
    assert.equal(busy.kind === "busy" && busy.slots, 1);
    assert.match(busy.kind === "busy" ? busy.reason : "", /all 1 semaphore slots currently locked/);
    assert.equal((await a.release()).kind, "released");
    assert.equal((await a.release()).kind, "released", "releasing twice is fine");
    assert.equal((await b.acquire()).kind, "acquired");
    assert.deepEqual([...server.holders.get("workers")!], [NODE_B]);
  } finally {
    await server.close();
  }
});

test("requests carry the protocol header, a JSON content type and Zincati's body, by POST", async () => {
  const server = await airlockLike("/", { "mock-workers": 1 });
  try {
    const lock = createFleetLock({ baseUrl: server.url, id: NODE_A, group: "mock-workers", timeoutMs: 10_000 });
    await lock.acquire();
    await lock.release();
    assert.deepEqual(server.received.map((r) => `${r.method} ${r.path}`), ["POST /v1/pre-reboot", "POST /v1/steady-state"]);
    for (const r of server.received) {
      assert.equal(r.headers["fleet-lock-protocol"], "true");
      assert.equal(r.headers["content-type"], "application/json");
      assert.deepEqual(JSON.parse(r.body), { client_params: { id: NODE_A, group: "mock-workers" } });
      assert.equal(r.body, `{"client_params":{"id":"${NODE_A}","group":"mock-workers"}}`);
    }
  } finally {
    await server.close();
  }
});

test("a base URL with a sub-path works with and without its trailing slash", async () => {
  const root = await airlockLike("/", { workers: 2 });
  const nested = await airlockLike("/fleet/lock/", { workers: 2 });
  try {
    const port = (s: TestServer) => s.port;
    const bases = [
      [`http://127.0.0.1:${port(root)}`, root],
      [`http://127.0.0.1:${port(root)}/`, root],
      [`http://127.0.0.1:${port(nested)}/fleet/lock`, nested],
      [`http://127.0.0.1:${port(nested)}/fleet/lock/`, nested],
    ] as const;
    for (const [base, server] of bases) {
      const outcome = await lockFor(base, NODE_A).acquire();
      assert.equal(outcome.kind, "acquired", base);
      assert.equal(server.received.at(-1)!.path, server === nested ? "/fleet/lock/v1/pre-reboot" : "/v1/pre-reboot", base);
    }
  } finally {
    await root.close();
    await nested.close();
  }
});

test("poseidon/fleetlock-like server: 423 is busy (with the holder), and steady-state by a non-holder is fine", async () => {
  const server = await startFleetLockServer({ flavour: "poseidon" });
  try {
    const a = lockFor(server.url, NODE_A);
    const b = lockFor(server.url, NODE_B);
    assert.equal((await a.acquire()).kind, "acquired");
    const busy = await b.acquire();
    assert.deepEqual(busy.kind === "busy" ? busy.holders : undefined, [NODE_A]);
    assert.equal((await b.release()).kind, "released", "b holds nothing: nothing to release");
    assert.deepEqual(server.holders("workers"), [NODE_A], "and a still holds the lease");
    assert.equal((await a.release()).kind, "released");
    assert.equal((await b.acquire()).kind, "acquired");
  } finally {
    await server.close();
  }
});

test("an unknown group is an error that names the URL and says what to fix; observe sees the server's kind", async () => {
  const server = await airlockLike("/", { workers: 1 });
  try {
    const seen: string[] = [];
    const lock = createFleetLock({ baseUrl: server.url, id: NODE_A, group: "nosuch", timeoutMs: 10_000, observe: (api, outcome) => seen.push(`${api}:${outcome}`) });
    const outcome = await lock.acquire();
    assert.equal(outcome.kind, "error");
    const error = outcome.kind === "error" ? outcome.error : undefined;
    assert.equal(error?.code, "LOCK_HTTP");
    assert.equal(error?.where, `${server.url}v1/pre-reboot`);
    assert.match(error?.hint ?? "", /nosuch/);
    assert.deepEqual(seen, ["pre-reboot:unknown_group"], "a client error is not retried");
  } finally {
    await server.close();
  }
});

test("transient failures are retried with backoff, and logged", async () => {
  let calls = 0;
  const server = await startHttpServer((_req, res) => {
    calls++;
    res.writeHead(calls <= 2 ? 503 : 200);
    res.end(calls <= 2 ? "try later" : "");
  });
  try {
    const { clock, sleeps } = fakeClock();
    const logs: string[] = [];
    const lock = createFleetLock({ baseUrl: server.url, id: NODE_A, group: "workers", timeoutMs: 10_000, clock, rand: () => 1, log: (level, msg) => logs.push(`${level} ${msg}`) });
    assert.equal((await lock.acquire()).kind, "acquired");
    assert.equal(calls, 3);
    assert.deepEqual(sleeps, [1_000, 2_000]);
    assert.equal(logs.filter((l) => l.startsWith("warn")).length, 2);
    assert.ok(logs.some((l) => l.startsWith("info") && /acquired/.test(l)));
  } finally {
    await server.close();
  }
});

test("an unreachable server is an error after a few attempts, not a hang", async () => {
  const server = await startHttpServer((_req, res) => res.end());
  const url = server.url;
  await server.close();
  const { clock, sleeps } = fakeClock();
  const seen: string[] = [];
  const lock = createFleetLock({ baseUrl: url, id: NODE_A, group: "workers", timeoutMs: 5_000, clock, rand: () => 1, observe: (_api, o) => seen.push(o) });
  const outcome = await lock.release();
  assert.equal(outcome.kind, "error");
  assert.equal(outcome.kind === "error" && outcome.error.code, "LOCK_HTTP");
  assert.deepEqual(seen, ["client_failed_request", "client_failed_request", "client_failed_request"]);
  assert.equal(sleeps.length, 2);
});

test("waiting: polls a busy group with backoff until a slot frees up", async () => {
  const server = await airlockLike("/", { workers: 1 });
  try {
    server.holders.get("workers")!.add(NODE_B);
    const { clock, sleeps } = fakeClock();
    const slow: Clock = {
      now: clock.now,
      sleep: async (ms, signal) => {
        await clock.sleep(ms, signal);
        if (sleeps.length === 2) server.holders.get("workers")!.delete(NODE_B); // B rebooted and came back
      },
    };
    const lock = createFleetLock({ baseUrl: server.url, id: NODE_A, group: "workers", timeoutMs: 10_000, clock: slow, rand: () => 1 });
    assert.equal((await lock.acquire({ waitMs: 3_600_000 })).kind, "acquired");
    assert.deepEqual(sleeps, [10_000, 20_000]);
    // and gives up when the wait is over
    server.holders.get("workers")!.add(NODE_B);
    server.holders.get("workers")!.delete(NODE_A);
    const busy = await createFleetLock({ baseUrl: server.url, id: NODE_A, group: "workers", timeoutMs: 10_000, clock: fakeClock().clock }).acquire({ waitMs: 60_000 });
    assert.equal(busy.kind, "busy");
  } finally {
    await server.close();
  }
});

test("https with a CA file; without it the server is not trusted", async () => {
  const cert = selfSignedCertificate();
  const server = await startHttpServer((_req, res) => res.end(), { tls: { key: cert.key, cert: cert.cert } });
  try {
    const trusted = createFleetLock({ baseUrl: server.url, id: NODE_A, group: "workers", timeoutMs: 10_000, caFile: cert.certPath });
    assert.equal((await trusted.acquire()).kind, "acquired");
    const untrusted = createFleetLock({ baseUrl: server.url, id: NODE_A, group: "workers", timeoutMs: 10_000, maxAttempts: 1 });
    const outcome = await untrusted.acquire();
    assert.equal(outcome.kind, "error");
    assert.throws(() => createFleetLock({ baseUrl: server.url, id: NODE_A, group: "workers", timeoutMs: 1, caFile: "/nonexistent/ca.pem" }), /CA bundle/);
  } finally {
    await server.close();
    cert.remove();
  }
});

test("a redirect is not followed: the protocol header exists to refuse them", async () => {
  const target = await airlockLike("/", { workers: 1 });
  const redirector = await startHttpServer((_req, res) => {
    res.writeHead(307, { location: `${target.url}v1/pre-reboot` });
    res.end();
  });
  try {
    const outcome = await lockFor(redirector.url, NODE_A).acquire();
    assert.equal(outcome.kind, "error");
    assert.equal(outcome.kind === "error" && outcome.error.code, "LOCK_PROTOCOL");
    assert.equal(target.received.length, 0);
  } finally {
    await redirector.close();
    await target.close();
  }
});
