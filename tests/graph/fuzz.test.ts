/**
 * Property-based fuzzing: whatever a server sends, parsing and deciding never crash or hang, and every
 * failure is an AgentError with a code and a location. Bounded in runs and time to stay quick in CI.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { AgentError } from "../../src/errors.js";
import { parseGraph } from "../../src/graph/parse.js";
import { decideUpdate } from "../../src/graph/decide.js";
import type { Graph } from "../../src/graph/model.js";

const WHERE = "https://fuzz.example/v1/graph";
const LIMITS = { numRuns: 400, interruptAfterTimeLimit: 3000, markInterruptAsFailure: false } as const;
const TEST_TIMEOUT_MS = 30_000; // a hang fails the test instead of blocking the suite

/** Parses, and checks that a failure is a located AgentError; returns the graph or undefined. */
function parseOrLocatedError(body: string | Uint8Array): Graph | undefined {
  try {
    return parseGraph(body, WHERE);
  } catch (e) {
    assert.ok(e instanceof AgentError, `not an AgentError: ${String(e)}`);
    assert.equal(e.code, "GRAPH_DECODE");
    assert.equal(e.where, WHERE);
    assert.ok(e.message.length > 0);
    return undefined;
  }
}

const ageKey = "org.fedoraproject.coreos.releases.age_index";
const schemeKey = "org.fedoraproject.coreos.scheme";
const K = "org.fedoraproject.coreos.updates.";

const metadataValue = fc.oneof(fc.string({ maxLength: 12 }), fc.integer({ min: -5, max: 1e12 }).map(String), fc.double().map(String), fc.constantFrom("true", "false", "inf", "NaN", "+3", ""));
const node = fc.record({
  version: fc.oneof(fc.constantFrom("1", "2", "3", "4"), fc.string({ maxLength: 6 })),
  payload: fc.oneof(fc.constantFrom("p1", "p2", "p3", "p4"), fc.string({ maxLength: 6 })),
  metadata: fc.record(
    {
      [ageKey]: fc.oneof(fc.nat(20).map(String), metadataValue),
      [schemeKey]: fc.constantFrom("checksum", "oci", "rpm"),
      [`${K}deadend`]: fc.constantFrom("true", "false"),
      [`${K}deadend_reason`]: fc.string({ maxLength: 8 }),
      [`${K}rollout`]: fc.constant("true"),
      [`${K}start_epoch`]: metadataValue,
      [`${K}start_value`]: metadataValue,
      [`${K}duration_minutes`]: metadataValue,
    },
    { requiredKeys: [] },
  ),
});
const validGraph = fc.array(node, { maxLength: 8 }).chain((nodes) =>
  fc.record({
    nodes: fc.constant(nodes),
    edges: nodes.length === 0 ? fc.constant([]) : fc.array(fc.tuple(fc.nat(nodes.length - 1), fc.nat(nodes.length - 1)), { maxLength: 20 }),
  }),
);

/** Replaces one value somewhere in the JSON tree with anything JSON can hold (or drops it). */
function mutate(value: unknown, path: number[], replacement: unknown): unknown {
  if (path.length === 0 || typeof value !== "object" || value === null) return replacement;
  const [step, ...rest] = path;
  if (Array.isArray(value)) {
    if (value.length === 0) return replacement;
    const copy = [...value];
    copy[step! % copy.length] = mutate(copy[step! % copy.length], rest, replacement);
    return copy;
  }
  const keys = Object.keys(value);
  if (keys.length === 0) return replacement;
  const key = keys[step! % keys.length]!;
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  if (replacement === undefined) delete copy[key];
  else copy[key] = mutate(copy[key], rest, replacement);
  return copy;
}

function decideChecked(graph: Graph, input: { payload: string; version: string; allowDowngrade: boolean; denylist: string[]; throttle: { wariness: number; now: number } | undefined }): void {
  let plan;
  try {
    plan = decideUpdate({ graph, booted: { payload: input.payload, version: input.version }, allowDowngrade: input.allowDowngrade, denylist: new Set(input.denylist), throttle: input.throttle });
  } catch (e) {
    assert.ok(e instanceof AgentError, `not an AgentError: ${String(e)}`);
    assert.equal(e.code, "GRAPH_NODE_INVALID");
    assert.equal(e.where, WHERE);
    return;
  }
  const chosen = plan.candidates.filter((c) => c.verdict === "chosen");
  assert.ok(chosen.length <= 1);
  assert.equal(plan.target?.payload, chosen[0]?.payload);
  for (const c of plan.candidates) assert.ok(c.reason.length > 0, "every verdict has a reason");
  if (plan.target !== undefined) {
    assert.ok(!input.denylist.includes(plan.target.payload), "never a denylisted target");
    assert.notEqual(plan.target.payload, plan.booted.payload, "never the booted release");
    if (!input.allowDowngrade) assert.ok(plan.target.ageIndex >= plan.booted.ageIndex!, "no downgrade unless allowed");
  }
}

const decisionInput = fc.record({
  payload: fc.constantFrom("p1", "p2", "p3", "nope", ""),
  version: fc.constantFrom("1", "2", "3", ""),
  allowDowngrade: fc.boolean(),
  denylist: fc.array(fc.constantFrom("p1", "p2", "p3", "p4"), { maxLength: 2 }),
  throttle: fc.option(fc.record({ wariness: fc.oneof(fc.double({ min: 0, max: 1 }), fc.constant(Number.NaN)), now: fc.oneof(fc.integer(), fc.double()) }), { nil: undefined }),
});

test("arbitrary bytes and strings never crash the parser", { timeout: TEST_TIMEOUT_MS }, () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => void parseOrLocatedError(bytes)), LIMITS);
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (text) => void parseOrLocatedError(text)), LIMITS);
});

test("arbitrary JSON never crashes the parser", { timeout: TEST_TIMEOUT_MS }, () => {
  fc.assert(fc.property(fc.jsonValue(), (value) => void parseOrLocatedError(JSON.stringify(value) ?? "")), LIMITS);
  const graphShaped = fc.record({ nodes: fc.array(fc.jsonValue(), { maxLength: 5 }), edges: fc.array(fc.jsonValue(), { maxLength: 5 }) });
  fc.assert(fc.property(graphShaped, (value) => void parseOrLocatedError(JSON.stringify(value))), LIMITS);
});

test("valid and mutated graphs parse or fail cleanly, and every decision on them is sound", { timeout: TEST_TIMEOUT_MS }, () => {
  const mutation = fc.tuple(fc.array(fc.nat(30), { maxLength: 5 }), fc.oneof(fc.jsonValue(), fc.constant(undefined)));
  fc.assert(
    fc.property(validGraph, fc.option(mutation, { nil: undefined }), decisionInput, (raw, change, input) => {
      const body = change === undefined ? raw : mutate(raw, change[0], change[1]);
      const graph = parseOrLocatedError(JSON.stringify(body) ?? "");
      if (change === undefined) assert.ok(graph !== undefined, "an unmutated graph always parses");
      if (graph !== undefined) decideChecked(graph, input);
    }),
    LIMITS,
  );
});

test("truncating a real graph anywhere gives a located decode error, never a crash", { timeout: TEST_TIMEOUT_MS }, async () => {
  const { readFileSync } = await import("node:fs");
  const body = readFileSync(new URL("../fixtures/cincinnati/fcos-example-graph.json", import.meta.url), "utf8");
  fc.assert(fc.property(fc.nat(body.length - 1), (cut) => void parseOrLocatedError(body.slice(0, cut))), LIMITS);
});
