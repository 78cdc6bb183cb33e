import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { AgentError } from "../../src/errors.js";
import { parseGraph } from "../../src/graph/parse.js";
import { deadendStatus, toRelease } from "../../src/graph/model.js";

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url));
const WHERE = "https://updates.example.com/v1/graph";

test("the Zincati and FCOS fixtures parse into nodes and edges", () => {
  const cases = [
    { file: "zincati/cincinnati-graph-simple-upgrade.json", nodes: 2, edges: [[0, 1]] },
    { file: "zincati/cincinnati-graph-downgrade.json", nodes: 2, edges: [[1, 0]] },
    { file: "zincati/cincinnati-graph-empty.json", nodes: 0, edges: [] },
    { file: "cincinnati/fcos-example-graph.json", nodes: 3, edges: [[0, 2], [1, 2]] },
  ];
  for (const c of cases) {
    const graph = parseGraph(fixture(c.file), c.file);
    assert.equal(graph.nodes.length, c.nodes, c.file);
    assert.deepEqual(graph.edges, c.edges, c.file);
    assert.equal(graph.source, c.file);
    for (const node of graph.nodes) assert.equal(node.invalid, undefined, `${c.file} ${node.version}`);
  }
});

test("a node's version, payload, age index and metadata are kept as sent", () => {
  const graph = parseGraph(fixture("cincinnati/fcos-example-graph.json"), WHERE);
  const node = graph.nodes[2]!;
  assert.equal(node.version, "32.20200601.1.1");
  assert.equal(node.payload, "08040bebbab87a3343a281f94bb68010df618eb6ce6ac3d4230d2595959b5da1");
  assert.equal(node.ageIndex, 2);
  assert.equal(node.metadata["org.fedoraproject.coreos.updates.duration_minutes"], "2880");
  assert.deepEqual(toRelease(node), { version: node.version, payload: node.payload, ageIndex: 2, metadata: node.metadata });
});

test("an OpenShift v1 graph parses: version and conditionalEdges are ignored, its nodes cannot be FCOS targets", () => {
  const graph = parseGraph(fixture("cincinnati/openshift-stable-4.8-small.json"), WHERE);
  assert.equal(graph.nodes.length, 101);
  assert.equal(graph.edges.length, 3168);
  assert.equal(graph.nodes[0]!.version, "4.7.41");
  assert.match(graph.nodes[0]!.invalid ?? "", /^nodes\[0\]\.metadata\.org\.fedoraproject\.coreos\.releases\.age_index: missing/);
  assert.equal(toRelease(graph.nodes[0]!), undefined);
});

test("the dead-end node fixture is a dead-end with its reason; the common node is not", () => {
  const wrap = (file: string) => parseGraph(`{"nodes":[${fixture(file).toString()}],"edges":[]}`, file).nodes[0]!;
  assert.deepEqual(deadendStatus(wrap("zincati/cincinnati-node-deadend.json").metadata), {
    deadend: true,
    reason: "https://github.com/coreos/fedora-coreos-tracker/issues/215",
  });
  assert.deepEqual(deadendStatus(wrap("zincati/cincinnati-node-common.json").metadata), { deadend: false, reason: undefined });
  assert.deepEqual(deadendStatus({ "org.fedoraproject.coreos.updates.deadend": "true" }), { deadend: true, reason: "(unknown reason)" });
  assert.deepEqual(deadendStatus({ "org.fedoraproject.coreos.updates.deadend": "true", "org.fedoraproject.coreos.updates.deadend_reason": "" }), { deadend: true, reason: "(unknown reason)" });
  assert.deepEqual(deadendStatus({ "org.fedoraproject.coreos.updates.deadend": "TRUE" }), { deadend: false, reason: undefined });
});

const GOOD_NODE = `{"version":"1","payload":"p","metadata":{"org.fedoraproject.coreos.releases.age_index":"0","org.fedoraproject.coreos.scheme":"checksum"}}`;

test("problems that fail the whole graph are GRAPH_DECODE errors naming the source and the JSON path", () => {
  const cases: Array<[string | Buffer, RegExp]> = [
    ["", /the body is empty/],
    ["{\"nodes\": [", /not valid JSON/],
    ["<html>503</html>", /not valid JSON/],
    ["null", /expected a JSON object with "nodes" and "edges", got null/],
    ["[]", /expected a JSON object/],
    ['{"edges":[]}', /^nodes: expected an array, got nothing$/],
    ['{"nodes":{},"edges":[]}', /^nodes: expected an array, got an object$/],
    ['{"nodes":[]}', /^edges: expected an array, got nothing$/],
    [`{"nodes":[${GOOD_NODE}],"edges":[[0,1]]}`, /^edges\[0\]\[1\]: 1 is not a node position \(the graph has 1 nodes\)$/],
    [`{"nodes":[${GOOD_NODE}],"edges":[[-1,0]]}`, /^edges\[0\]\[0\]: -1 is not a node position/],
    [`{"nodes":[${GOOD_NODE}],"edges":[[0.5,0]]}`, /^edges\[0\]\[0\]: 0.5 is not a node position/],
    [`{"nodes":[${GOOD_NODE}],"edges":[["0",0]]}`, /^edges\[0\]\[0\]: "0" is not a node position/],
    [`{"nodes":[${GOOD_NODE}],"edges":[[0,0,0]]}`, /^edges\[0\]: expected a \[from, to\] pair of node positions, got \[0,0,0\]$/],
    [`{"nodes":[${GOOD_NODE}],"edges":[{"from":0,"to":0}]}`, /^edges\[0\]: expected a \[from, to\] pair/],
    [Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), /not valid UTF-8/],
  ];
  for (const [body, message] of cases) {
    assert.throws(
      () => parseGraph(body, WHERE),
      (e: unknown) => e instanceof AgentError && e.code === "GRAPH_DECODE" && e.where === WHERE && message.test(e.message),
      `${String(body)} should fail with ${message}`,
    );
  }
});

test("an edge to a missing node is counted as Zincati's client_failed_node_lookup", () => {
  assert.throws(
    () => parseGraph(`{"nodes":[${GOOD_NODE}],"edges":[[0,7]]}`, WHERE),
    (e: unknown) => e instanceof AgentError && e.details?.["kind"] === "client_failed_node_lookup",
  );
});

test("problems in one node only make that node invalid, with the JSON path in the reason", () => {
  const node = (fields: string) => `{"nodes":[${GOOD_NODE},${fields}],"edges":[[0,1]]}`;
  const age = "org.fedoraproject.coreos.releases.age_index";
  const scheme = "org.fedoraproject.coreos.scheme";
  const cases: Array<[string, string]> = [
    [`{"version":"2","payload":"q","metadata":{"${age}":"abc","${scheme}":"checksum"}}`, `nodes[1].metadata.${age}: expected a decimal integer, got "abc"`],
    [`{"version":"2","payload":"q","metadata":{"${age}":"-1","${scheme}":"checksum"}}`, `nodes[1].metadata.${age}: expected a decimal integer, got "-1"`],
    [`{"version":"2","payload":"q","metadata":{"${age}":"99999999999999999999","${scheme}":"checksum"}}`, `nodes[1].metadata.${age}: 99999999999999999999 is too large`],
    [`{"version":"2","payload":"q","metadata":{"${scheme}":"checksum"}}`, `nodes[1].metadata.${age}: missing`],
    [`{"version":"2","payload":"q","metadata":{"${age}":"1"}}`, `nodes[1].metadata.${scheme}: missing`],
    [`{"version":"2","payload":"q","metadata":{"${age}":"1","${scheme}":"rpm"}}`, `nodes[1].metadata.${scheme}: expected "checksum" or "oci", got "rpm"`],
    [`{"version":"2","payload":"quay.io/fedora/fedora-coreos:stable","metadata":{"${age}":"1","${scheme}":"oci"}}`, `nodes[1].payload: expected registry/repo@sha256:<64 hex digits> for scheme oci, got "quay.io/fedora/fedora-coreos:stable"`],
    [`{"payload":"q","metadata":{"${age}":"1","${scheme}":"checksum"}}`, `nodes[1].version: expected a non-empty string, got nothing`],
    [`{"version":"2","payload":"","metadata":{"${age}":"1","${scheme}":"checksum"}}`, `nodes[1].payload: expected a non-empty string, got ""`],
    [`{"version":"2","payload":"q","metadata":{"${age}":1,"${scheme}":"checksum"}}`, `nodes[1].metadata.${age}: expected a string, got 1`],
    [`{"version":"2","payload":"q","metadata":{"${age}":"1","${scheme}":"checksum","odd key!":true}}`, `nodes[1].metadata["odd key!"]: expected a string, got true`],
    [`{"version":"2","payload":"q"}`, `nodes[1].metadata: expected an object of strings, got nothing`],
    [`42`, `nodes[1]: expected an object, got 42`],
  ];
  for (const [fields, reason] of cases) {
    const graph = parseGraph(node(fields), WHERE);
    assert.equal(graph.nodes[0]!.invalid, undefined);
    assert.equal(graph.nodes[1]!.invalid, reason, fields);
    assert.deepEqual(graph.edges, [[0, 1]]);
  }
});

test("unknown keys are ignored at every level, and a '+' age index parses like Rust's u64", () => {
  const graph = parseGraph(
    `{"version":1,"extra":{"x":[1]},"nodes":[{"version":"1","payload":"p","colour":"blue","metadata":{"org.fedoraproject.coreos.releases.age_index":"+7","org.fedoraproject.coreos.scheme":"checksum","vendor.note":"hi"}}],"edges":[],"conditionalEdges":[]}`,
    WHERE,
  );
  assert.equal(graph.nodes[0]!.invalid, undefined);
  assert.equal(graph.nodes[0]!.ageIndex, 7);
  assert.equal(graph.nodes[0]!.metadata["vendor.note"], "hi");
});

test("a __proto__ metadata key stays plain data", () => {
  const graph = parseGraph(
    `{"nodes":[{"version":"1","payload":"p","metadata":{"__proto__":{"polluted":"yes"},"org.fedoraproject.coreos.releases.age_index":"0","org.fedoraproject.coreos.scheme":"checksum"}}],"edges":[]}`,
    WHERE,
  );
  const metadata = graph.nodes[0]!.metadata as Record<string, unknown>;
  assert.equal(metadata["polluted"], undefined);
  assert.equal(Object.getPrototypeOf(metadata), Object.prototype);
  assert.match(graph.nodes[0]!.invalid ?? "", /metadata\.__proto__: expected a string/);
});
