import { test } from "node:test";
import assert from "node:assert/strict";
import { parseGraph } from "../../src/graph/parse.js";
import { decideUpdate } from "../../src/graph/decide.js";
import { planJson, renderPlan, shortPayload } from "../../src/graph/report.js";

const DIGEST = "460576931cf4ce59afe432ea266234f9d34fa77f8ca3087282084bc3a7324632";

test("payloads are shortened for the table only as far as they stay distinguishable", () => {
  const cases: Array<[string, string]> = [
    ["08040bebbab87a3343a281f94bb68010df618eb6ce6ac3d4230d2595959b5da1", "08040bebbab8"],
    [`quay.io/fedora/fedora-coreos@sha256:${DIGEST}`, "sha256:460576931cf4"],
    ["sha-mock", "sha-mock"],
    ["", "-"],
  ];
  for (const [payload, short] of cases) assert.equal(shortPayload(payload), short);
});

test("an OCI graph with an invalid candidate renders every candidate with its verdict and reason", () => {
  const oci = (version: string, age: string, digest: string) => ({
    version,
    payload: `quay.io/fedora/fedora-coreos@sha256:${digest}`,
    metadata: { "org.fedoraproject.coreos.releases.age_index": age, "org.fedoraproject.coreos.scheme": "oci" },
  });
  const graph = parseGraph(
    JSON.stringify({ nodes: [oci("43.1", "0", "a".repeat(64)), oci("43.2", "1", "b".repeat(64)), oci("43.3", "x", "c".repeat(64))], edges: [[0, 1], [0, 2]] }),
    "oci.json",
  );
  const plan = decideUpdate({ graph, booted: { payload: `quay.io/fedora/fedora-coreos@sha256:${"a".repeat(64)}` }, allowDowngrade: false });
  const text = renderPlan({ graph, plan, throttle: undefined }, 0);
  assert.equal(
    text,
    [
      "Graph:    oci.json (3 releases, 2 edges)",
      `Booted:   43.1 (age index 0, payload quay.io/fedora/fedora-coreos@sha256:${"a".repeat(64)})`,
      "Decision: update to 43.2 (age index 1)",
      "",
      "  VERDICT  VERSION  AGE  PAYLOAD              REASON",
      "  chosen   43.2       1  sha256:bbbbbbbbbbbb  the only eligible release",
      '  invalid  43.3       -  sha256:cccccccccccc  skipped, the graph\'s node is invalid: nodes[2].metadata.org.fedoraproject.coreos.releases.age_index: expected a decimal integer, got "x"',
      "",
    ].join("\n"),
  );
  const json = planJson({ graph, plan, throttle: undefined }) as { candidates: Array<{ age_index: number | null; verdict: string }> };
  assert.deepEqual(json.candidates.map((c) => [c.age_index, c.verdict]), [[1, "chosen"], [null, "invalid"]]);
});
