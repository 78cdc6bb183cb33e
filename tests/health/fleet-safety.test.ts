/**
 * Fleet safety with a real etcd (tests/helpers/etcd.ts) and whole simulated nodes (tests/helpers/node-rig.ts):
 * with one reboot slot, a release that fails its health checks is booted by exactly one node; that node rolls
 * back and records it in the group's denylist before it gives the slot back, so no other node installs it, and
 * they all take the next release instead. Also: a node held on a failed release keeps its slot.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startEtcd, type TestEtcd } from "../helpers/etcd.js";
import type { NodeRig } from "../helpers/node-rig.js";
import { NEXT, P, REQUIRED, X, failsOn, startHealthRig, waitFor, type HealthRig } from "./loop-rig.js";

const NODES = Number(process.env.FLEET_NODES ?? 20);
const GROUP_KEYS = "com.coreos.airlock/groups/default/v1";

function etcdConfig(etcd: TestEtcd): string {
  return `[updates]\nstrategy = "etcd_lock"\n[updates.etcd_lock]\nendpoints = ["${etcd.endpoint}"]\n`;
}

async function etcdJson<T>(etcd: TestEtcd, key: string): Promise<T | undefined> {
  const text = (await etcd.etcdctl("get", `${GROUP_KEYS}/${key}`, "--print-value-only")).trim();
  return text === "" ? undefined : (JSON.parse(text) as T);
}

/** The nodes holding the group's reboot slots, from Airlock's semaphore (undefined before it exists). */
async function slotHolders(etcd: TestEtcd): Promise<string[] | undefined> {
  return (await etcdJson<{ holders: string[] }>(etcd, "semaphore"))?.holders;
}

/** Versions each simulated machine has booted, from the simulator's own record of boots. */
function bootedVersions(rig: NodeRig): string[] {
  const state = JSON.parse(readFileSync(join(rig.sim.stateDir, "state.json"), "utf8")) as { boots: { version: string }[] };
  return state.boots.map((b) => b.version);
}

/** Reboots asked of this machine so far: through rpm-ostree (finalize, rollback) or logind. */
function rebootsAsked(rig: NodeRig): number {
  const state = JSON.parse(readFileSync(join(rig.sim.stateDir, "state.json"), "utf8")) as { rebootRequests: unknown[] };
  return state.rebootRequests.length + rig.logind.reboots();
}

/** Plays the machines: whenever a node asks for a reboot, it gets one. */
function rebootWhenAsked(rigs: NodeRig[]): { stop(): Promise<void>; errors: unknown[] } {
  const handled = rigs.map(() => 0);
  const busy = new Set<number>();
  const errors: unknown[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      rigs.forEach((rig, n) => {
        if (busy.has(n)) return;
        const asked = rebootsAsked(rig);
        if (asked <= handled[n]!) return;
        handled[n] = asked;
        busy.add(n);
        rig
          .reboot()
          .catch((e: unknown) => errors.push(e))
          .finally(() => busy.delete(n));
      });
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    errors,
    async stop() {
      running = false;
      await loop;
      while (busy.size > 0) await new Promise((r) => setTimeout(r, 50));
    },
  };
}

/** Starts `count` rigs, a few at a time (each is a dbus-daemon, two Python services and an HTTP server). */
async function startFleet(count: number, make: () => Promise<HealthRig>, into: HealthRig[]): Promise<void> {
  for (let i = 0; i < count; i += 5) {
    const batch = await Promise.allSettled(Array.from({ length: Math.min(5, count - i) }, make));
    for (const r of batch) if (r.status === "fulfilled") into.push(r.value);
    const failed = batch.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }
}

test(`${NODES} nodes, 1 slot: a release failing its checks is booted by exactly one node, then everyone takes the next`, async () => {
  const started = Date.now();
  const phase = (what: string) => console.log(`fleet: ${what} after ${Math.round((Date.now() - started) / 1000)} s`);
  const etcd = await startEtcd();
  const rigs: HealthRig[] = [];
  let machines: ReturnType<typeof rebootWhenAsked> | undefined;
  try {
    await startFleet(
      NODES,
      () =>
        startHealthRig({
          offered: [P, X],
          machineId: randomBytes(16).toString("hex"),
          config: etcdConfig(etcd),
          health: "max_boot_attempts = 1",
          scripts: { [`${REQUIRED}/10-app`]: failsOn(X.version) },
        }),
      rigs,
    );
    phase(`${rigs.length} nodes set up`);
    machines = rebootWhenAsked(rigs);
    for (const rig of rigs) rig.startAgent();

    // Whoever gets the slot first boots X, fails, rolls back and denylists X for the group.
    const denylist = await waitFor(rigs[0]!, "X on the group's denylist", async () =>
      (await etcdJson<{ releases: { payload: string; reason: string; node_id: string }[] }>(etcd, "denylist"))?.releases,
    120_000);
    phase(`${X.version} on the group's denylist`);
    assert.deepEqual(denylist.map((e) => e.payload), [X.payload]);
    assert.equal(denylist[0]?.reason, "failed required health checks on 1 boot (10-app)");
    const bad = rigs.filter((rig) => bootedVersions(rig).includes(X.version));
    assert.equal(bad.length, 1);
    const badRig = bad[0]!;
    await badRig.waitForStatus(`the bad node back on ${P.version}`, (s) => s.state === "idle" && s.booted?.version === P.version, 120_000);

    // Everyone else has had the slot since, and turned X down (or, if the fleet were unsafe, booted it).
    const others = rigs.filter((rig) => rig !== badRig);
    const bootedX = () => rigs.filter((rig) => bootedVersions(rig).includes(X.version)).length;
    await waitFor(badRig, "every other node to turn X down", () =>
      bootedX() > 1 || others.every((rig) => rig.log().includes(`${X.version} is on the denylist of group default`)),
    120_000);
    assert.equal(bootedX(), 1, "no other node booted X");
    const reason = /is on the denylist of group default: failed required health checks on 1 boot \(10-app\) \(node [0-9a-f]{32}, /;
    for (const view of await Promise.all(others.map((rig) => rig.status()))) {
      // Either still waiting with X staged (status says why), or its next graph check merged the group's list
      // and dropped the staged X.
      if (view?.state === "staged") {
        assert.match(view.waiting?.message ?? "", reason, "agentctl status says why X waits");
      } else {
        assert.equal(view?.state, "idle");
        assert.ok(view.denylist.some((d) => d.payload === X.payload && d.source === "fleet"), "X is on the node's denylist, from the group");
      }
    }
    phase(`every other node turned ${X.version} down`);
    for (const rig of rigs) rig.offer([P, X, NEXT]);
    await waitFor(badRig, `every node on ${NEXT.version}`, async () => {
      const views = await Promise.all(rigs.map((rig) => rig.status().catch(() => undefined)));
      return views.every((s) => s?.state === "idle" && s.booted?.version === NEXT.version);
    }, 170_000);

    phase(`every node on ${NEXT.version}`);
    console.log(`nodes that booted X: ${bootedX()} (of ${rigs.length})`);
    assert.equal(bootedX(), 1);
    assert.deepEqual(await slotHolders(etcd), [], "every slot given back");
    assert.deepEqual(machines.errors, []);
  } finally {
    await machines?.stop();
    await Promise.allSettled(rigs.map((rig) => rig.stop()));
    await etcd.destroy();
  }
});

test('on_failure = "hold" with etcd_lock: the held node keeps the reboot slot, also across an agent restart', async () => {
  const etcd = await startEtcd();
  const rig = await startHealthRig({
    offered: [P, X],
    config: etcdConfig(etcd),
    health: 'on_failure = "hold"',
    scripts: { [`${REQUIRED}/10-app`]: failsOn(X.version) },
  });
  try {
    rig.startAgent();
    await rig.waitForStatus(`${X.version} finalized`, (s) => s.state === "finalized" && s.target?.version === X.version);
    const holders = (await slotHolders(etcd)) ?? [];
    assert.equal(holders.length, 1, "the slot is taken to finalize");
    await rig.reboot();
    await rig.waitForStatus("held", (s) => s.state === "held");
    assert.deepEqual(await slotHolders(etcd), holders);
    assert.equal(await etcdJson(etcd, "denylist"), undefined, "a held release is not denylisted for the group");

    await rig.stopAgent();
    rig.startAgent();
    await rig.waitForStatus("held after a restart", (s) => s.state === "held");
    assert.deepEqual(await slotHolders(etcd), holders);
  } finally {
    await rig.stop();
    await etcd.destroy();
  }
});

test("halt_on_failure with etcd_lock: after rolling back, the node keeps its slot so the fleet stops for a human", async () => {
  const etcd = await startEtcd();
  const rig = await startHealthRig({
    offered: [P, X],
    config: etcdConfig(etcd),
    health: "max_boot_attempts = 1\nhalt_on_failure = true",
    scripts: { [`${REQUIRED}/10-app`]: failsOn(X.version) },
  });
  try {
    rig.startAgent();
    await rig.waitForStatus(`${X.version} finalized`, (s) => s.state === "finalized" && s.target?.version === X.version);
    const holders = (await slotHolders(etcd)) ?? [];
    assert.equal(holders.length, 1);
    await rig.reboot(); // into X: fails, rolls back
    await rig.waitForStatus("rollback requested", (s) => s.state === "finalized" && s.target?.version === P.version);
    await rig.reboot(); // back on P
    const held = await rig.waitForStatus("held on P", (s) => s.state === "held" && s.booted?.version === P.version);
    assert.match(held.status_text, /halt_on_failure/);
    assert.deepEqual(await slotHolders(etcd), holders, "the slot is still ours");
    const denylist = await etcdJson<{ releases: { version: string }[] }>(etcd, "denylist");
    assert.deepEqual(denylist?.releases.map((r) => r.version), [X.version], "the group learns about X all the same");
  } finally {
    await rig.stop();
    await etcd.destroy();
  }
});
