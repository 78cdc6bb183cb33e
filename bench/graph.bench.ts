/**
 * Graph parsing speed: (parse + validate + decide) against a plain JSON.parse of the same body, for a
 * synthetic graph of 10,000 nodes and 100,000 edges with FCOS-like metadata. Target: ratio ≤ 1.5,
 * i.e. validation and the decision together cost at most half of what decoding the JSON costs.
 */
import { performance } from "node:perf_hooks";
import { parseGraph } from "../src/graph/parse.js";
import { decideUpdate } from "../src/graph/decide.js";

const NODES = 10_000;
const EDGES = 100_000;
const RUNS = 15;
const WARMUP = 3;
const TARGET = 1.5;

/** Deterministic pseudo-random numbers, so every run benchmarks the same graph. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function syntheticGraph(): { body: string; bootedPayload: string } {
  const random = lcg(42);
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join("");
  const nodes = Array.from({ length: NODES }, (_v, i) => {
    const metadata: Record<string, string> = {
      "org.fedoraproject.coreos.releases.age_index": String(i),
      "org.fedoraproject.coreos.scheme": "checksum",
    };
    if (i % 50 === 0) {
      metadata["org.fedoraproject.coreos.updates.barrier"] = "true";
      metadata["org.fedoraproject.coreos.updates.barrier_reason"] = `https://github.com/coreos/fedora-coreos-tracker/issues/${1000 + i}`;
    }
    if (i % 7 === 0) {
      metadata["org.fedoraproject.coreos.updates.rollout"] = "true";
      metadata["org.fedoraproject.coreos.updates.start_epoch"] = String(1_600_000_000 + i * 86_400);
      metadata["org.fedoraproject.coreos.updates.start_value"] = "0";
      metadata["org.fedoraproject.coreos.updates.duration_minutes"] = "2880";
    }
    if (i % 997 === 0) {
      metadata["org.fedoraproject.coreos.updates.deadend"] = "true";
      metadata["org.fedoraproject.coreos.updates.deadend_reason"] = "https://github.com/coreos/fedora-coreos-tracker/issues/215";
    }
    const year = 30 + Math.floor(i / 600);
    return { version: `${year}.2020${String(1 + (i % 12)).padStart(2, "0")}${String(1 + (i % 28)).padStart(2, "0")}.${i % 4}.${i % 3}`, metadata, payload: hex(64) };
  });
  const edges: Array<[number, number]> = [];
  for (let e = 0; e < EDGES; e++) {
    const from = Math.floor(random() * (NODES - 1));
    const to = from + 1 + Math.floor(random() * Math.min(200, NODES - 1 - from));
    edges.push([from, to]);
  }
  const booted = NODES / 2;
  for (let k = 1; k <= 10; k++) edges.push([booted, booted + k * 13]);
  return { body: JSON.stringify({ nodes, edges }), bootedPayload: nodes[booted]!.payload };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function time(fn: () => unknown): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

const { body, bootedPayload } = syntheticGraph();
const ours = () => {
  const graph = parseGraph(body, "bench");
  return decideUpdate({ graph, booted: { payload: bootedPayload }, allowDowngrade: false, denylist: new Set(), throttle: { wariness: 0.5, now: 1_600_000_000 + 5000 * 86_400 } });
};
const plain = () => JSON.parse(body) as unknown;

const plan = ours();
if (plan.target === undefined || plan.candidates.length < 10) throw new Error(`the benchmark graph gives no decision: ${plan.summary}`);

const oursTimes: number[] = [];
const plainTimes: number[] = [];
for (let run = 0; run < WARMUP + RUNS; run++) {
  // Alternate the order so neither side always runs right after the other's garbage.
  let oursMs: number;
  let plainMs: number;
  if (run % 2 === 0) {
    oursMs = time(ours);
    plainMs = time(plain);
  } else {
    plainMs = time(plain);
    oursMs = time(ours);
  }
  if (run >= WARMUP) {
    oursTimes.push(oursMs);
    plainTimes.push(plainMs);
  }
}
const ratio = median(oursTimes) / median(plainTimes);
const verdict = ratio <= TARGET ? "PASS" : "FAIL";
console.log(
  `graph: ${NODES} nodes, ${EDGES + 10} edges, ${(body.length / 1e6).toFixed(1)} MB; ` +
    `parse+validate+decide ${median(oursTimes).toFixed(1)} ms, JSON.parse ${median(plainTimes).toFixed(1)} ms (median of ${RUNS}); ` +
    `ratio ${ratio.toFixed(2)} (target ≤ ${TARGET}) ${verdict}`,
);
process.exitCode = verdict === "PASS" ? 0 : 1;
