/**
 * Two nodes, one reboot slot: two e2e boxes, each with update-agent installed from its .deb and its own
 * simulated rpm-ostreed, share one real etcd on the host's loopback (strategy etcd_lock, Airlock's
 * semaphore). The host watches the semaphore key through etcd's JSON gateway from before the agents start,
 * so it sees every value the key ever had. Needs root and etcd (docs/e2e.md, "Scenarios").
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { ETCD_BINARY, startEtcd, type TestEtcd } from "../helpers/etcd.js";
import { at, bootedFrom, OCI_RELEASES } from "../sim/sample-releases.js";
import { agentDeb, followReboots, installAgent, startGraphServer, type BoxAgent, type GraphServer } from "./agent-in-box.js";
import { Box } from "./box.js";
import { buildRootfs } from "./rootfs.js";
import { installSimulator, type BoxSimulator } from "./sim-in-box.js";

const SKIP = process.getuid?.() !== 0 ? "the e2e box needs root" : !existsSync(ETCD_BINARY) ? "etcd is not installed (apt-get install etcd-server)" : false;
const [R0, R1] = [at(OCI_RELEASES, 0), at(OCI_RELEASES, 1)];
const SEMAPHORE_KEY = "com.coreos.airlock/groups/default/v1/semaphore";

interface Node {
  box: Box;
  sim: BoxSimulator;
  agent: BoxAgent;
}

describe("two boxes sharing one etcd reboot slot", { skip: SKIP }, () => {
  const startedAt = Date.now();
  let etcd: TestEtcd;
  let graph: GraphServer;
  let watch: SemaphoreWatch;
  const boxes: Box[] = [];
  let nodes: Node[] = [];

  before(async () => {
    const [rootfs, deb] = await Promise.all([buildRootfs(), agentDeb()]);
    etcd = await startEtcd();
    await etcd.etcdctl("put", SEMAPHORE_KEY, JSON.stringify({ total_slots: 1, holders: [] }));
    watch = await watchSemaphore(etcd.endpoint, SEMAPHORE_KEY);
    graph = await startGraphServer([R0, R1]);
    const config = `[updates]\nstrategy = "etcd_lock"\n[updates.etcd_lock]\nendpoints = ["${etcd.endpoint}"]\n`;
    const boot = async (): Promise<Node> => {
      const box = await Box.boot({ rootfs });
      boxes.push(box);
      const sim = await installSimulator(box, { booted: bootedFrom(R0, "oci"), available: [R0, R1] });
      const agent = await installAgent(box, { deb, graphUrl: graph.url, config });
      return { box, sim, agent };
    };
    nodes = await Promise.all([boot(), boot()]);
  });
  after(async () => {
    watch?.close();
    await Promise.all(boxes.map((box) => box.destroy()));
    await graph?.close();
    await etcd?.destroy();
    process.stdout.write(`# e2e fleet scenario (two boxes): ${((Date.now() - startedAt) / 1000).toFixed(1)} s\n`);
  });

  it("updates both nodes, one reboot at a time, and gives the slot back after each", async () => {
    await Promise.all(nodes.map((n) => n.agent.start()));
    const ids = await Promise.all(nodes.map(async (n) => /agent identity: ([0-9a-f]{32}) /.exec(await n.agent.journal())?.[1]));
    assert.ok(ids[0] && ids[1] && ids[0] !== ids[1], `node ids: ${ids.join(", ")}`);

    const reboots = await Promise.all(
      nodes.map((n) =>
        followReboots(n.box, async () => {
          const s = await n.agent.status();
          return s.booted?.version === R1.version && s.state === "idle";
        }, { maxReboots: 2, timeoutMs: 240_000, what: `${n.box.name} updated to ${R1.version}` }),
      ),
    );
    assert.deepEqual(reboots, [1, 1]);
    // The slot is given back once the new release passed its checks; the last release may still be on its way.
    await waitUntil(() => watch.values.at(-1)?.holders.length === 0, 30_000, "the last node gave the slot back");

    const history = watch.values.map((v) => v.holders);
    process.stdout.write(`# semaphore holders over time: ${JSON.stringify(history)}\n`);
    assert.equal(watch.error, undefined);
    assert.equal(Math.max(...history.map((h) => h.length)), 1, "two nodes held the slot at once");
    assert.deepEqual(new Set(history.flat()), new Set(ids), "each node held the slot");
    for (const n of nodes) {
      const dump = await n.sim.dump();
      assert.deepEqual(dump.rebootRequests.map((r) => [r.reason, r.version]), [["finalize", R1.version]]);
      assert.equal((await n.agent.show(["NRestarts"])).NRestarts, "0");
    }
    // One tenure after the other, in the order the nodes rebooted.
    const finalizedAt = await Promise.all(nodes.map(async (n) => (await n.sim.dump()).rebootRequests[0]!.at));
    const byReboot = finalizedAt[0]! < finalizedAt[1]! ? [ids[0], ids[1]] : [ids[1], ids[0]];
    const tenures = history.filter((h, i) => h.length > 0 && h[0] !== history[i - 1]?.[0]).map((h) => h[0]);
    assert.deepEqual(tenures, byReboot);
  });
});

interface SemaphoreValue {
  /** When the host saw it (ms). */
  at: number;
  revision: number;
  holders: string[];
}

interface SemaphoreWatch {
  values: SemaphoreValue[];
  error: string | undefined;
  close(): void;
}

/** etcd's watch through its JSON gateway (`POST /v3/watch`, one JSON message per line), from the key's first revision. */
async function watchSemaphore(endpoint: string, key: string): Promise<SemaphoreWatch> {
  const result: SemaphoreWatch = { values: [], error: undefined, close: () => req.destroy() };
  const body = JSON.stringify({ create_request: { key: Buffer.from(key).toString("base64"), start_revision: "1" } });
  let buffer = "";
  const req = request(`${endpoint}/v3/watch`, { method: "POST", headers: { "content-type": "application/json" } }, (res) => {
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      buffer += chunk;
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (line === "") continue;
        const message = JSON.parse(line) as { result?: { events?: { type?: string; kv?: { mod_revision?: string; value?: string } }[] }; error?: unknown };
        if (message.error) result.error = JSON.stringify(message.error);
        for (const event of message.result?.events ?? []) {
          const text = event.type === "DELETE" ? '{"holders":[]}' : Buffer.from(event.kv?.value ?? "", "base64").toString();
          const parsed = JSON.parse(text) as { holders: string[] | null };
          result.values.push({ at: Date.now(), revision: Number(event.kv?.mod_revision ?? 0), holders: parsed.holders ?? [] });
        }
      }
    });
  });
  req.on("error", (e) => {
    if (!req.destroyed) result.error = e.message;
  });
  req.end(body);
  await waitUntil(() => result.values.length > 0, 10_000, "the watch delivered the semaphore's first value");
  return result;
}

async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
