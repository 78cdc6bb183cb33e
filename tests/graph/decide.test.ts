import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { AgentError } from "../../src/errors.js";
import { parseGraph } from "../../src/graph/parse.js";
import { decideUpdate, type DecideInput, type Plan } from "../../src/graph/decide.js";
import { buildGraph, type ReleaseIndex, type UpdatesMetadata } from "./graph-builder.js";

const text = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), "utf8");
const graphOf = (name: string) => parseGraph(text(name), name);
const decide = (input: Partial<DecideInput> & Pick<DecideInput, "graph" | "booted">): Plan => decideUpdate({ allowDowngrade: false, ...input });
const verdicts = (plan: Plan) => plan.candidates.map((c) => [c.version, c.verdict]);

const AGE = "org.fedoraproject.coreos.releases.age_index";
const SCHEME = "org.fedoraproject.coreos.scheme";

/** A graph from `[version, age_index]` pairs (payload `p-<version>`) and edges. */
function graph(nodes: Array<[string, number | string, Record<string, string>?]>, edges: Array<[number, number]>) {
  return parseGraph(
    JSON.stringify({
      nodes: nodes.map(([version, age, extra]) => ({ version, payload: `p-${version}`, metadata: { [AGE]: String(age), [SCHEME]: "checksum", ...extra } })),
      edges,
    }),
    "test-graph",
  );
}

test("Zincati's fixtures give Zincati's decisions", () => {
  const cases: Array<{ name: string; file: string; allowDowngrade: boolean; target: string | undefined; verdicts: Array<[string, string]> }> = [
    { name: "simple upgrade", file: "zincati/cincinnati-graph-simple-upgrade.json", allowDowngrade: false, target: "30.20190725.0", verdicts: [["30.20190725.0", "chosen"]] },
    { name: "downgrade refused", file: "zincati/cincinnati-graph-downgrade.json", allowDowngrade: false, target: undefined, verdicts: [["30.20190725.0", "downgrade"]] },
    { name: "downgrade allowed", file: "zincati/cincinnati-graph-downgrade.json", allowDowngrade: true, target: "30.20190725.0", verdicts: [["30.20190725.0", "chosen"]] },
  ];
  for (const c of cases) {
    const plan = decide({ graph: graphOf(c.file), booted: { payload: "sha-mock" }, allowDowngrade: c.allowDowngrade });
    assert.equal(plan.booted.found, true, c.name);
    assert.equal(plan.booted.version, "0.0.0-mock", c.name);
    assert.equal(plan.target?.version, c.target, c.name);
    assert.deepEqual(verdicts(plan), c.verdicts, c.name);
  }
});

test("a refused downgrade says why, an allowed one says it is a downgrade", () => {
  const g = graphOf("zincati/cincinnati-graph-downgrade.json");
  const refused = decide({ graph: g, booted: { payload: "sha-mock" } });
  assert.match(refused.candidates[0]!.reason, /not newer than the booted release \(age index 0 ≤ 1\); downgrades are not allowed/);
  assert.match(refused.summary, /^no update: the only candidate, 30\.20190725\.0, is a downgrade$/);
  const allowed = decide({ graph: g, booted: { payload: "sha-mock" }, allowDowngrade: true });
  assert.match(allowed.candidates[0]!.reason, /a downgrade \(allowed by configuration\)/);
  assert.equal(allowed.target?.payload, "8b79877efa7ac06becd8637d95f8ca83aa385f89f383288bf3c2c31ca53216c7");
});

test("a booted release missing from the graph is a plan with found=false and no update (the empty graph)", () => {
  const plan = decide({ graph: graphOf("zincati/cincinnati-graph-empty.json"), booted: { payload: "sha-mock", version: "0.0.0-mock" } });
  assert.equal(plan.booted.found, false);
  assert.equal(plan.target, undefined);
  assert.deepEqual(plan.candidates, []);
  assert.equal(plan.summary, "no update: booted release sha-mock not found in the update graph");
});

test("the kola dead-end template, filled with the booted release, reports the dead-end and its reason", () => {
  const template = JSON.parse(text("zincati/kola-graph-template-deadend.json")) as { nodes: Array<{ version: string; payload: string }> };
  template.nodes[0]!.version = "38.20230322.3.0";
  template.nodes[0]!.payload = "a".repeat(64);
  const plan = decide({ graph: parseGraph(JSON.stringify(template), "kola"), booted: { payload: "a".repeat(64) } });
  assert.equal(plan.booted.deadend, true);
  assert.equal(plan.booted.deadendReason, "https://github.com/coreos/fedora-coreos-tracker/issues/215");
  assert.equal(plan.target, undefined);
  assert.equal(plan.summary, "no update: the booted release is a dead-end (https://github.com/coreos/fedora-coreos-tracker/issues/215)");
});

test("the kola stream template, filled with booted and target releases, offers the update", () => {
  const template = JSON.parse(text("zincati/kola-graph-template-stream.json")) as { nodes: Array<{ version: string; payload: string }> };
  Object.assign(template.nodes[0]!, { version: "38.20230322.3.0", payload: "b".repeat(64) });
  Object.assign(template.nodes[1]!, { version: "38.20230402.3.0", payload: "c".repeat(64) });
  const plan = decide({ graph: parseGraph(JSON.stringify(template), "kola"), booted: { payload: "b".repeat(64) } });
  assert.equal(plan.booted.deadend, false);
  assert.equal(plan.target?.version, "38.20230402.3.0");
  assert.equal(plan.summary, "update to 38.20230402.3.0 (age index 1)");
});

test("the newest candidate wins; ties are broken by version, then payload, like Zincati", () => {
  const g = graph([["1", 0], ["2", 3], ["3", 5], ["3b", 5], ["4", 4]], [[0, 1], [0, 2], [0, 3], [0, 4]]);
  const plan = decide({ graph: g, booted: { payload: "p-1" } });
  assert.equal(plan.target?.version, "3b");
  assert.deepEqual(verdicts(plan), [["3b", "chosen"], ["3", "older"], ["4", "older"], ["2", "older"]]);
  assert.match(plan.candidates[1]!.reason, /^older than 3b \(age index 5\)$/);
  assert.match(plan.candidates[0]!.reason, /^newest of 4 eligible releases$/);
});

test("only direct edges count: no path search through intermediate releases", () => {
  const g = graph([["1", 0], ["2", 1], ["3", 2]], [[0, 1], [1, 2]]);
  assert.equal(decide({ graph: g, booted: { payload: "p-1" } }).target?.version, "2");
});

test("denylisted payloads are skipped and the next best is taken", () => {
  const g = graph([["1", 0], ["2", 1], ["3", 2]], [[0, 1], [0, 2]]);
  const plan = decide({ graph: g, booted: { payload: "p-1" }, denylist: new Set(["p-3"]) });
  assert.equal(plan.target?.version, "2");
  assert.deepEqual(verdicts(plan), [["3", "denylisted"], ["2", "chosen"]]);
});

test("an invalid candidate is skipped with its reason instead of failing the check (Zincati would fail it)", () => {
  const g = graph([["1", 0], ["2", 1], ["3", "three"]], [[0, 1], [0, 2]]);
  const plan = decide({ graph: g, booted: { payload: "p-1" } });
  assert.equal(plan.target?.version, "2");
  assert.deepEqual(verdicts(plan), [["2", "chosen"], ["3", "invalid"]]);
  assert.match(plan.candidates[1]!.reason, /nodes\[2\]\.metadata\.org\.fedoraproject\.coreos\.releases\.age_index: expected a decimal integer/);
});

test("a booted node that is itself invalid is a GRAPH_NODE_INVALID error naming the graph", () => {
  const g = graph([["1", "x"], ["2", 1]], [[0, 1]]);
  assert.throws(
    () => decide({ graph: g, booted: { payload: "p-1" } }),
    (e: unknown) => e instanceof AgentError && e.code === "GRAPH_NODE_INVALID" && e.where === "test-graph" && /booted release 1 is invalid/.test(e.message),
  );
});

test("duplicate edges give one candidate; an edge back to the booted release is never taken, even with downgrades allowed", () => {
  const g = graph([["1", 0], ["2", 1]], [[0, 1], [0, 1], [0, 0]]);
  const plan = decide({ graph: g, booted: { payload: "p-1" }, allowDowngrade: true });
  assert.deepEqual(verdicts(plan), [["2", "chosen"], ["1", "downgrade"]]);
  assert.equal(plan.candidates[1]!.reason, "this is the booted release");
});

test("the booted release is found by payload first, then by version (the CLI's --booted VERSION)", () => {
  const g = graph([["1", 0], ["p-1", 1]], []);
  assert.equal(decide({ graph: g, booted: { payload: "p-1", version: "p-1" } }).booted.position, 0);
  assert.equal(decide({ graph: g, booted: { version: "p-1" } }).booted.position, 1);
  assert.equal(decide({ graph: g, booted: { payload: "nope", version: "1" } }).booted.position, 0);
});

test("the FCOS example graph: 32.20200517.1.0 moves to 32.20200601.1.1 as its rollout allows", () => {
  const g = graphOf("cincinnati/fcos-example-graph.json");
  const start = 1591279200;
  const hour = 3600;
  const cases: Array<{ wariness: number; now: number; verdict: string; servedAt?: number }> = [
    { wariness: 0.5, now: start - 1, verdict: "throttled", servedAt: start + 24 * hour },
    { wariness: 0, now: start - hour, verdict: "chosen" }, // an explicit 0 sees rollouts before they start
    { wariness: 0.25, now: start + 12 * hour, verdict: "chosen" },
    { wariness: 0.26, now: start + 12 * hour, verdict: "throttled" },
    { wariness: 0.5, now: start + 24 * hour, verdict: "chosen" },
    { wariness: 1, now: start + 48 * hour - 1, verdict: "throttled", servedAt: start + 48 * hour },
    { wariness: 1, now: start + 48 * hour, verdict: "chosen" },
  ];
  for (const c of cases) {
    const plan = decide({ graph: g, booted: { version: "32.20200517.1.0" }, throttle: { wariness: c.wariness, now: c.now } });
    const candidate = plan.candidates[0]!;
    assert.equal(candidate.version, "32.20200601.1.1");
    assert.equal(candidate.verdict, c.verdict, `w=${c.wariness} at ${c.now - start}`);
    assert.equal(plan.target?.version, c.verdict === "chosen" ? "32.20200601.1.1" : undefined);
    if (c.servedAt !== undefined) assert.equal(candidate.rollout?.servedAt, c.servedAt);
  }
  const unthrottled = decide({ graph: g, booted: { version: "32.20200517.1.0" } });
  assert.equal(unthrottled.target?.version, "32.20200601.1.1");
  assert.equal(unthrottled.candidates[0]!.rollout, undefined);
});

test("a throttled candidate says how far the rollout is and when this wariness is served", () => {
  const g = graphOf("cincinnati/fcos-example-graph.json");
  const plan = decide({ graph: g, booted: { version: "32.20200601.1.0" }, throttle: { wariness: 0.5, now: 1591279200 + 12 * 3600 } });
  assert.equal(plan.candidates[0]!.reason, "held back by its rollout: 0.25 of the fleet served now, wariness 0.5 served from 2020-06-05T14:00:00Z");
  assert.equal(plan.summary, "no update: the only candidate, 32.20200601.1.1, is held back by its rollout");
});

const trackerIndex = JSON.parse(text("cincinnati/release-index__sample.json")) as ReleaseIndex;
const trackerUpdates = JSON.parse(text("cincinnati/updates__sample.json")) as UpdatesMetadata;

test("the tracker samples: w=0.3 is served at the rollout start, w=0.65 is still held back at +43200 s", () => {
  const raw = buildGraph(trackerIndex, trackerUpdates, "x86_64");
  assert.deepEqual(raw.nodes.map((n) => n.version), ["30.20190801.0", "30.20190905.0"]);
  assert.deepEqual(raw.edges, [[0, 1]]);
  const g = parseGraph(JSON.stringify(raw), "tracker");
  const start = 1568125800;
  const at = (wariness: number, now: number) => decide({ graph: g, booted: { version: "30.20190801.0" }, throttle: { wariness, now } });
  assert.equal(at(0.3, start).target?.version, "30.20190905.0");
  const held = at(0.65, start + 43200);
  assert.equal(held.target, undefined);
  assert.equal(held.candidates[0]!.rollout?.throttling, 0.6499999999999999);
  assert.match(held.candidates[0]!.reason, /0\.6499999999999999 of the fleet served now, wariness 0\.65 served from/);
  assert.equal(at(0.65, start + 43201).target?.version, "30.20190905.0");
});

test("the worked example of cincinnati.md §5: 25 edges, and every node moves only to its next barrier or rollout", () => {
  const releases = Array.from({ length: 26 }, (_v, i) => ({ version: `33.${String(i).padStart(2, "0")}`, commits: [{ architecture: "x86_64", checksum: i.toString(16).padStart(64, "0") }] }));
  const updates: UpdatesMetadata = {
    releases: [
      { version: "33.11", metadata: { barrier: { reason: "https://example.com/11" } } },
      { version: "33.13", metadata: { barrier: {} } },
      { version: "33.24", metadata: { barrier: {}, rollout: { start_percentage: 1.0 } } },
      { version: "33.25", metadata: { rollout: { start_epoch: 1609860600, start_percentage: 0.0, duration_minutes: 2880 } } },
    ],
  };
  const raw = buildGraph({ releases }, updates, "x86_64");
  const range = (from: number, to: number, target: number) => Array.from({ length: to - from }, (_v, i) => [from + i, target]);
  assert.deepEqual(raw.edges, [[24, 25], ...range(13, 24, 24), ...range(0, 11, 11), [11, 13], [12, 13]]);
  assert.equal(raw.edges.length, 25);
  assert.deepEqual(buildGraph({ releases }, updates, "aarch64").nodes, []);

  const g = parseGraph(JSON.stringify(raw), "worked-example");
  const next = (booted: number, now = 1609860600 + 2880 * 60) =>
    decide({ graph: g, booted: { version: `33.${String(booted).padStart(2, "0")}` }, throttle: { wariness: 0.5, now } }).target?.version;
  assert.equal(next(0), "33.11");
  assert.equal(next(10), "33.11");
  assert.equal(next(11), "33.13");
  assert.equal(next(12), "33.13");
  assert.equal(next(13), "33.24");
  assert.equal(next(23), "33.24");
  assert.equal(next(24), "33.25");
  assert.equal(next(24, 1609860600), undefined); // 25's rollout has not reached w=0.5 yet
  assert.equal(next(25), undefined);
});
