import { test } from "node:test";
import assert from "node:assert/strict";
import { AgentError } from "../../src/errors.js";
import { graphQuery, graphUrl, redactUrl } from "../../src/graph/url.js";
import type { NodeIdentity } from "../../src/identity/types.js";

test("base_url is joined with v1/graph by WHATWG rules, with a warning when a path segment is dropped", () => {
  const cases: Array<[string, string, boolean]> = [
    ["https://updates.coreos.fedoraproject.org", "https://updates.coreos.fedoraproject.org/v1/graph", false],
    ["https://updates.coreos.fedoraproject.org/", "https://updates.coreos.fedoraproject.org/v1/graph", false],
    ["http://h/p/", "http://h/p/v1/graph", false],
    ["http://h/p", "http://h/v1/graph", true],
    ["http://h/a/b?x=1", "http://h/a/v1/graph", true],
    ["file:///srv/graph/", "file:///srv/graph/v1/graph", false],
    ["file:///etc/update-agent/graph.json", "file:///etc/update-agent/graph.json", false],
  ];
  for (const [base, url, warns] of cases) {
    const result = graphUrl(base);
    assert.equal(result.url.href, url, base);
    assert.equal(result.warning !== undefined, warns, base);
  }
  assert.equal(
    graphUrl("http://h/p").warning,
    "base URL http://h/p has a path without a trailing slash, so its last segment 'p' is replaced: the graph is requested from http://h/v1/graph; add a trailing '/' to keep it",
  );
});

test("a base URL that is not an absolute http, https or file URL is a configuration error", () => {
  for (const base of ["", "updates.example.com", "ftp://h/", "https://user:secret@[bad/"]) {
    assert.throws(() => graphUrl(base), (e: unknown) => e instanceof AgentError && e.code === "CONFIG_INVALID" && !String(e.where).includes("secret"), base);
  }
});

const identity: NodeIdentity = {
  basearch: "mock-amd64",
  stream: "mock-stable",
  platform: "mock-azure",
  group: "mock-workers",
  nodeUuid: "e0f3745b108f471cbd4883c6fbed8cdd",
  rolloutWariness: 0.5,
  current: { version: "0.0.0-mock", payload: "sha-mock", scheme: "checksum" },
};

test("the query carries exactly Zincati's parameters", () => {
  assert.deepEqual(Object.fromEntries(graphQuery(identity)), {
    basearch: "mock-amd64",
    stream: "mock-stable",
    os_version: "0.0.0-mock",
    os_checksum: "sha-mock",
    group: "mock-workers",
    node_uuid: "e0f3745b108f471cbd4883c6fbed8cdd",
    platform: "mock-azure",
    rollout_wariness: "0.500000",
  });
});

test("oci=true only for OCI-booted nodes, whose os_checksum is the full pullspec; no wariness unless configured", () => {
  const pullspec = "quay.io/fedora/fedora-coreos@sha256:460576931cf4ce59afe432ea266234f9d34fa77f8ca3087282084bc3a7324632";
  const query = graphQuery({ ...identity, rolloutWariness: undefined, current: { version: "43.20251024.3.0", payload: pullspec, scheme: "oci" } });
  assert.equal(query.get("oci"), "true");
  assert.equal(query.get("os_checksum"), pullspec);
  assert.equal(query.has("rollout_wariness"), false);
  assert.equal(graphQuery(identity).has("oci"), false);
  assert.equal(graphQuery({ ...identity, rolloutWariness: 0 }).get("rollout_wariness"), "0.000000");
  assert.equal(graphQuery({ ...identity, rolloutWariness: 1 / 3 }).get("rollout_wariness"), "0.333333");
});

test("credentials never appear in a reported URL", () => {
  assert.equal(redactUrl("https://user:secret@h/v1/graph?stream=stable"), "https://h/v1/graph?stream=stable");
  assert.equal(redactUrl("https://h/v1/graph"), "https://h/v1/graph");
  assert.equal(redactUrl("not a url"), "not a url");
  assert.equal(redactUrl("https://user:secret@[bad/v1/graph"), "https://[bad/v1/graph");
});
