/**
 * etcd with TLS (client certificates required) and user/password auth: the agent's user may only
 * touch Airlock's prefix, as the reference's per-prefix grant sets it up.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEtcd, type TestEtcd } from "../helpers/etcd.js";
import { EtcdGateway } from "../../src/strategy/etcd/gateway.js";
import { createEtcdLock } from "../../src/strategy/etcd/lock.js";
import { etcdClientOptions, etcdGatewayFromSettings, type EtcdLockSettings } from "../../src/strategy/etcd/index.js";

const USER = "agent";
const PASSWORD = "s3cret-pass";
const ID = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1";

let etcd: TestEtcd;
let root: string;
let settings: EtcdLockSettings;

before(async () => {
  etcd = await startEtcd({ tls: true, auth: { username: USER, password: PASSWORD, prefix: "com.coreos.airlock/" } });
  // The files as they would sit on a node, under a --root.
  root = mkdtempSync(join(tmpdir(), "ua-etcd-root-"));
  mkdirSync(join(root, "etc/update-agent"), { recursive: true });
  copyFileSync(etcd.tls!.caFile, join(root, "etc/update-agent/etcd-ca.pem"));
  copyFileSync(etcd.tls!.certFile, join(root, "etc/update-agent/etcd-client.pem"));
  copyFileSync(etcd.tls!.keyFile, join(root, "etc/update-agent/etcd-client.key"));
  writeFileSync(join(root, "etc/update-agent/etcd-password"), `${PASSWORD}\n`);
  settings = {
    endpoints: [etcd.endpoint],
    ca_file: "/etc/update-agent/etcd-ca.pem",
    cert_file: "/etc/update-agent/etcd-client.pem",
    key_file: "/etc/update-agent/etcd-client.key",
    username: USER,
    password_file: "/etc/update-agent/etcd-password",
    ttl_secs: 0,
    key_prefix: "com.coreos.airlock",
    timeout_secs: 10,
  };
});
after(async () => {
  await etcd?.destroy();
  if (root) rmSync(root, { recursive: true, force: true });
});

test("TLS with a client certificate and a password from files: acquire and release", async () => {
  const lock = createEtcdLock({ gateway: etcdGatewayFromSettings(settings, root), id: ID, group: "secure" });
  assert.equal((await lock.acquire()).kind, "acquired");
  assert.equal((await lock.release()).kind, "released");
  assert.equal(etcdClientOptions(settings, root).auth?.password, PASSWORD, "the file's trailing newline is not part of it");
});

test("an expired or forgotten token is renewed (etcd restarted and lost its tokens)", async () => {
  const seen: string[] = [];
  const lock = createEtcdLock({ gateway: etcdGatewayFromSettings(settings, root, { observe: (_api, o) => seen.push(o) }), id: ID, group: "restart" });
  assert.equal((await lock.acquire()).kind, "acquired");
  await etcd.stop();
  await etcd.start();
  seen.length = 0;
  assert.equal((await lock.release()).kind, "released");
  assert.deepEqual(seen, ["auth", "ok", "ok"], "refused once, then authenticated again and carried on");
});

test("a wrong password, no credentials, or a key outside the grant: ETCD_AUTH with what to do", async () => {
  const wrong = new EtcdGateway({ ...etcdClientOptions(settings, root), auth: { username: USER, password: "nope" } });
  let outcome = await createEtcdLock({ gateway: wrong, id: ID, group: "secure" }).acquire();
  assert.equal(outcome.kind === "error" && outcome.error.code, "ETCD_AUTH");
  assert.match(outcome.kind === "error" ? (outcome.error.hint ?? "") : "", /password_file/);

  const anonymous = new EtcdGateway({ ...etcdClientOptions(settings, root), auth: undefined });
  outcome = await createEtcdLock({ gateway: anonymous, id: ID, group: "secure" }).acquire();
  assert.equal(outcome.kind === "error" && outcome.error.code, "ETCD_AUTH");
  assert.match(outcome.kind === "error" ? (outcome.error.hint ?? "") : "", /auth enabled/);

  outcome = await createEtcdLock({ gateway: etcdGatewayFromSettings(settings, root), id: ID, group: "secure", keyPrefix: "elsewhere" }).acquire();
  assert.equal(outcome.kind === "error" && outcome.error.code, "ETCD_AUTH");
  assert.match(outcome.kind === "error" ? (outcome.error.hint ?? "") : "", /grant/);
});

test("without the client certificate or the CA, the connection is refused, and files that cannot be read are named", async () => {
  const noCert = new EtcdGateway({ ...etcdClientOptions(settings, root), tls: { ca: etcd.tls!.ca } });
  const outcome = await createEtcdLock({ gateway: noCert, id: ID, group: "secure", rand: () => 0 }).acquire();
  assert.equal(outcome.kind === "error" && outcome.error.code, "ETCD_UNAVAILABLE");
  assert.throws(
    () => etcdClientOptions({ ...settings, ca_file: "/etc/update-agent/missing.pem" }, root),
    (e: Error & { code?: string; where?: string }) => e.code === "CONFIG_UNREADABLE" && /missing\.pem \(updates\.etcd_lock\.ca_file\)/.test(e.where ?? ""),
  );
});
