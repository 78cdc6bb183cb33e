/**
 * `npm run bench:fleet`: N in-process agents, one real etcd, k slots, each agent holds its slot
 * for a simulated reboot of T. Prints the makespan against the ideal ceil(N/k)·T, etcd requests per
 * node, and the most holders a watcher saw at any revision.
 * Targets: makespan ratio ≤ 1.1, max holders ≤ k. Tunable: FLEET_N, FLEET_K, FLEET_T_MS.
 */
import { startEtcd } from "../tests/helpers/etcd.js";
import { EtcdGateway } from "../src/strategy/etcd/gateway.js";
import { createEtcdLock } from "../src/strategy/etcd/lock.js";
import { setSlots } from "../src/strategy/etcd/admin.js";
import { groupKeys, AIRLOCK_KEY_PREFIX } from "../src/strategy/etcd/wire.js";
import { parseSemaphore } from "../src/strategy/etcd/semaphore.js";

const N = Number(process.env.FLEET_N ?? 500);
const K = Number(process.env.FLEET_K ?? 25);
const T_MS = Number(process.env.FLEET_T_MS ?? 3_000);
const GROUP = "bench";
const MAKESPAN_TARGET = 1.1;
const WAIT_MS = 15 * 60_000;

const etcd = await startEtcd();
const stopWatching = new AbortController();
try {
  const admin = new EtcdGateway({ endpoints: [etcd.endpoint], timeoutMs: 10_000 });
  await setSlots(admin, groupKeys(AIRLOCK_KEY_PREFIX, GROUP), K);

  // A watcher on every revision of the semaphore: the safety check.
  const keys = groupKeys(AIRLOCK_KEY_PREFIX, GROUP);
  const start = await admin.range(keys.semaphore);
  let maxHolders = 0;
  let revisionsSeen = 0;
  const watching = (async () => {
    for await (const message of admin.watch(keys.semaphore, start.revision + 1, stopWatching.signal)) {
      if (message.kind !== "events") continue;
      for (const event of message.events) {
        revisionsSeen++;
        if (event.type === "PUT") maxHolders = Math.max(maxHolders, parseSemaphore(event.kv.value, keys.semaphore).holders.length);
      }
    }
  })().catch((e: unknown) => {
    if (!stopWatching.signal.aborted) console.error("watcher failed:", e);
  });

  const requests: number[] = new Array(N).fill(0);
  const acquiredAt: number[] = [];
  const releasedAt: number[] = [];
  const errors: string[] = [];
  const agent = async (index: number) => {
    const id = `node-${String(index).padStart(4, "0")}`;
    const gateway = new EtcdGateway({ endpoints: [etcd.endpoint], timeoutMs: 30_000, observe: () => requests[index]!++ });
    const lock = createEtcdLock({ gateway, id, group: GROUP, initialSlots: K });
    const acquired = await lock.acquire({ waitMs: WAIT_MS });
    if (acquired.kind !== "acquired") throw new Error(`${id}: acquire → ${JSON.stringify(acquired)}`);
    acquiredAt.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, T_MS)); // the simulated reboot
    releasedAt.push(performance.now() - t0); // the reboot is over: from here on the slot is idle
    const released = await lock.release({ waitMs: WAIT_MS });
    if (released.kind !== "released") throw new Error(`${id}: release → ${JSON.stringify(released)}`);
  };

  console.log(`fleet bench: N=${N} agents, k=${K} slots, T=${T_MS} ms, etcd ${etcd.endpoint}`);
  const t0 = performance.now();
  const results = await Promise.allSettled(Array.from({ length: N }, (_, i) => agent(i)));
  const makespanMs = performance.now() - t0;
  for (const r of results) if (r.status === "rejected") errors.push(String(r.reason));
  await new Promise((r) => setTimeout(r, 500)); // let the watcher see the last revisions
  stopWatching.abort();
  await watching;

  const idealMs = Math.ceil(N / K) * T_MS;
  const ratio = makespanMs / idealMs;
  const total = requests.reduce((a, b) => a + b, 0);
  const sorted = [...requests].sort((a, b) => a - b);
  const verdict = (ok: boolean) => (ok ? "PASS" : "FAIL");
  // Where the time beyond the ideal goes: filling the first k slots, then each slot changing hands.
  acquiredAt.sort((a, b) => a - b);
  releasedAt.sort((a, b) => a - b);
  const handovers = releasedAt.slice(0, N - K).map((r, i) => acquiredAt[K + i]! - r).sort((a, b) => a - b);
  const pct = (p: number) => (handovers.length ? handovers[Math.floor(p * (handovers.length - 1))]!.toFixed(0) : "-");
  console.log(`makespan        ${(makespanMs / 1000).toFixed(2)} s, ideal ${(idealMs / 1000).toFixed(2)} s → ratio ${ratio.toFixed(3)} (target ≤ ${MAKESPAN_TARGET}) ${verdict(ratio <= MAKESPAN_TARGET)}`);
  console.log(`start           first ${K} slots filled after ${((acquiredAt[Math.min(K, N) - 1] ?? 0) / 1000).toFixed(2)} s; slot idle between holders: median ${pct(0.5)} ms, p90 ${pct(0.9)} ms, max ${pct(1)} ms`);
  console.log(`etcd requests   ${(total / N).toFixed(1)} per node (median ${sorted[Math.floor(N / 2)]}, max ${sorted[N - 1]}, total ${total})`);
  console.log(`max holders     ${maxHolders} over ${revisionsSeen} revisions (must be ≤ ${K}) ${verdict(maxHolders <= K)}`);
  console.log(`agents failed   ${errors.length} ${verdict(errors.length === 0)}`);
  for (const e of errors.slice(0, 5)) console.log(`  ${e}`);
  if (ratio > MAKESPAN_TARGET || maxHolders > K || errors.length > 0) process.exitCode = 1;
} finally {
  stopWatching.abort();
  await etcd.destroy();
}
