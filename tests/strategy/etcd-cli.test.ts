/** `agentctl lock ...` against a real etcd (and a loopback FleetLock server), as an admin runs it. */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEtcd, type TestEtcd } from "../helpers/etcd.js";
import { startHttpServer } from "../helpers/http-server.js";
import { main } from "../../src/cli/main.js";
import { readNodeUuid } from "../../src/identity/node-uuid.js";
import { EtcdGateway } from "../../src/strategy/etcd/gateway.js";
import { createEtcdLock } from "../../src/strategy/etcd/lock.js";
import { readLockStatus } from "../../src/strategy/etcd/admin.js";
import { AIRLOCK_KEY_PREFIX, groupKeys } from "../../src/strategy/etcd/wire.js";

let etcd: TestEtcd;
let root: string;
let self: string;
before(async () => {
  etcd = await startEtcd();
  root = mkdtempSync(join(tmpdir(), "ua-lock-cli-"));
  mkdirSync(join(root, "etc"), { recursive: true });
  writeFileSync(join(root, "etc/machine-id"), "0123456789abcdef0123456789abcdef\n");
  self = await readNodeUuid(root);
});
after(async () => {
  await etcd?.destroy();
  if (root) rmSync(root, { recursive: true, force: true });
});

async function agentctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await main(["--root", root, ...args], { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: {} });
  return { code, stdout, stderr };
}

const gateway = () => new EtcdGateway({ endpoints: [etcd.endpoint], timeoutMs: 10_000 });
const lockFor = (id: string, group: string) => createEtcdLock({ gateway: gateway(), id, group });
const OTHER = "ffffffffffffffffffffffffffffffff";

test("status shows slots, holders (this node marked) and the line; --json is versioned", async () => {
  const flags = ["--endpoint", etcd.endpoint, "--group", "cli-status"];
  let result = await agentctl("lock", "status", ...flags);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /not created yet/);

  assert.equal((await lockFor(self, "cli-status").acquire()).kind, "acquired");
  const waiting = lockFor(OTHER, "cli-status").acquire({ waitMs: 120_000 });
  for (let i = 0; i < 200 && (await readLockStatus(gateway(), groupKeys(AIRLOCK_KEY_PREFIX, "cli-status"))).waiters.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  result = await agentctl("lock", "status", ...flags);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /slots: +1 of 1 in use/);
  assert.match(result.stdout, new RegExp(`${self} \\(this node\\)`));
  assert.match(result.stdout, new RegExp(`waiting: +1\\n  ${OTHER}  since `));

  result = await agentctl("lock", "status", "--json", ...flags);
  const json = JSON.parse(result.stdout);
  assert.equal(json.format_version, 1);
  assert.equal(json.strategy, "etcd_lock");
  assert.equal(json.key, "com.coreos.airlock/groups/cli-status/v1/semaphore");
  assert.equal(json.total_slots, 1);
  assert.deepEqual(json.holders, [{ id: self, self: true }]);
  assert.deepEqual(json.waiters.map((w: { id: string }) => w.id), [OTHER]);

  // release (default: this node) hands the slot to the one waiting
  result = await agentctl("lock", "release", ...flags);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, new RegExp(`released the reboot slot of ${self}; handed to ${OTHER}`));
  assert.equal((await waiting).kind, "acquired");
  result = await agentctl("lock", "release", "--id", self, ...flags);
  assert.match(result.stdout, /holds no reboot slot; nothing changed/);
  result = await agentctl("lock", "release", "--id", OTHER, "--json", ...flags);
  assert.deepEqual(JSON.parse(result.stdout).was_holder, true);
});

test("set-slots changes total_slots and keeps the holders; bad input is a usage error", async () => {
  const flags = ["--endpoint", etcd.endpoint, "--group", "cli-slots"];
  let result = await agentctl("lock", "set-slots", "3", ...flags);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /created with total_slots 3/);
  await lockFor(OTHER, "cli-slots").acquire();
  await lockFor(self, "cli-slots").acquire();
  result = await agentctl("lock", "set-slots", "1", ...flags);
  assert.match(result.stdout, /total_slots 3 → 1 \(2 holder\(s\)\)/);
  assert.match(result.stderr, /none is taken away/);
  const stored = await etcd.etcdctl("get", "--print-value-only", "com.coreos.airlock/groups/cli-slots/v1/semaphore");
  assert.equal(stored.trim(), JSON.stringify({ total_slots: 1, holders: [self, OTHER].sort() }));
  for (const bad of [["set-slots"], ["set-slots", "-1"], ["set-slots", "two"], ["frobnicate"], ["status", "extra"]]) {
    assert.equal((await agentctl("lock", ...bad, ...flags)).code, 2, bad.join(" "));
  }
});

test("an unreadable semaphore is reported, never written over, unless --force", async () => {
  const flags = ["--endpoint", etcd.endpoint, "--group", "cli-broken"];
  await etcd.etcdctl("put", "com.coreos.airlock/groups/cli-broken/v1/semaphore", '{"semaphore":1,"max":1,"holders":null}');
  let result = await agentctl("lock", "status", ...flags);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /com\.coreos\.airlock\/groups\/cli-broken\/v1\/semaphore.*not Airlock's format/);
  result = await agentctl("lock", "set-slots", "2", ...flags);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /--force/);
  result = await agentctl("lock", "release", "--id", OTHER, ...flags);
  assert.equal(result.code, 1);
  result = await agentctl("lock", "set-slots", "2", "--force", ...flags);
  assert.equal(result.code, 0, result.stderr);
  assert.equal((await etcd.etcdctl("get", "--print-value-only", "com.coreos.airlock/groups/cli-broken/v1/semaphore")).trim(), '{"total_slots":2,"holders":[]}');
});

test("settings come from config.d when no flag says otherwise", async () => {
  const dir = join(root, "etc/update-agent/config.d");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "50-lock.toml"),
    `[identity]\ngroup = "from-config"\n[updates]\nstrategy = "etcd_lock"\n[updates.etcd_lock]\nendpoints = ["${etcd.endpoint}"]\n`,
  );
  try {
    await lockFor(self, "from-config").acquire();
    const result = await agentctl("lock", "status", "--json");
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).group, "from-config");
    assert.deepEqual(JSON.parse(result.stdout).holders, [{ id: self, self: true }]);
    writeFileSync(join(dir, "50-lock.toml"), `[updates]\nstrategy = "periodic"\n[[updates.periodic.window]]\ndays = ["Mon"]\nstart_time = "01:00"\nlength_minutes = 60\n`);
    const none = await agentctl("lock", "status");
    assert.equal(none.code, 2);
    assert.match(none.stderr, /not coordinated through a lock.*--endpoint/s);
  } finally {
    rmSync(join(root, "etc/update-agent"), { recursive: true, force: true });
  }
});

test("fleet_lock: the server owns the state; release sends steady-state for the id", async () => {
  const bodies: string[] = [];
  const server = await startHttpServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      bodies.push(`${req.url} ${body}`);
      res.end();
    });
  });
  try {
    const status = await agentctl("lock", "status", "--fleet-lock", server.url, "--group", "workers");
    assert.equal(status.code, 2);
    assert.match(status.stderr, /FleetLock server .* owns the lock state/);
    const release = await agentctl("lock", "release", "--fleet-lock", server.url.replace(/\/$/, ""), "--group", "workers", "--id", OTHER);
    assert.equal(release.code, 0, release.stderr);
    assert.deepEqual(bodies, [`/v1/steady-state {"client_params":{"id":"${OTHER}","group":"workers"}}`]);
    const both = await agentctl("lock", "status", "--fleet-lock", server.url, "--endpoint", etcd.endpoint);
    assert.equal(both.code, 2);
  } finally {
    await server.close();
  }
});
