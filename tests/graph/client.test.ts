import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { AgentError } from "../../src/errors.js";
import { fetchGraph, type FetchGraphOptions } from "../../src/graph/client.js";
import { graphErrorKind } from "../../src/graph/error-kind.js";
import { reply, selfSignedCertificate, startHttpServer, startProxy, type TestServer } from "../helpers/http-server.js";

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url));
const EXAMPLE = fixture("cincinnati/fcos-example-graph.json");

function options(baseUrl: string, extra: Partial<FetchGraphOptions> = {}): FetchGraphOptions {
  return {
    baseUrl,
    query: new URLSearchParams({ basearch: "x86_64", stream: "stable" }),
    connectTimeoutMs: 2000,
    timeoutMs: 5000,
    maxBodyBytes: 1 << 20,
    env: {},
    userAgent: "update-agent/0.1.0-test",
    ...extra,
  };
}

async function withServer(handler: Parameters<typeof startHttpServer>[0], body: (server: TestServer) => Promise<void>): Promise<void> {
  const server = await startHttpServer(handler);
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

/** Asserts the promise rejects with an AgentError of `code` whose `where` is `where`; returns it. */
async function rejectsWith(promise: Promise<unknown>, code: string, where?: string): Promise<AgentError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof AgentError, `expected an AgentError, got ${String(e)}`);
    assert.equal(e.code, code, e.describe());
    if (where !== undefined) assert.equal(e.where, where);
    return e;
  }
  assert.fail(`expected ${code}, but the fetch succeeded`);
}

test("a 200 graph is fetched from <base>/v1/graph with the query, Accept and User-Agent as the server sees them", async () => {
  await withServer(reply(200, EXAMPLE), async (server) => {
    const { graph, url } = await fetchGraph(options(server.url));
    assert.equal(graph.nodes.length, 3);
    assert.deepEqual(graph.edges, [[0, 2], [1, 2]]);
    assert.equal(url, `${server.url}v1/graph?basearch=x86_64&stream=stable`);
    assert.equal(graph.source, url);
    assert.equal(server.requests.length, 1);
    const [request] = server.requests;
    assert.equal(request!.method, "GET");
    assert.equal(request!.url, "/v1/graph?basearch=x86_64&stream=stable");
    assert.equal(request!.headers["accept"], "application/json");
    assert.equal(request!.headers["user-agent"], "update-agent/0.1.0-test");
  });
});

test("a {kind, value} error body is the server's error: 'server-side error, code 466: failed to perform foo'", async () => {
  await withServer(reply(466, fixture("zincati/cincinnati-error-graph-server-error.json")), async (server) => {
    const e = await rejectsWith(fetchGraph(options(server.url)), "GRAPH_SERVER", `${server.url}v1/graph?basearch=x86_64&stream=stable`);
    assert.equal(e.message, "server-side error, code 466: failed to perform foo");
    assert.deepEqual(e.details, { kind: "failure_foo", status: 466 });
    assert.equal(graphErrorKind(e), "failure_foo");
  });
});

test("other error replies (FCOS sends plain text or nothing) are GRAPH_HTTP with Zincati's generic_http_<code> kind", async () => {
  for (const [status, body] of [[500, "actix: internal error"], [400, ""], [404, "<html>not found</html>"], [500, '{"kind":1}']] as const) {
    await withServer(reply(status, body, { "content-type": "text/plain" }), async (server) => {
      const e = await rejectsWith(fetchGraph(options(server.url)), "GRAPH_HTTP");
      assert.equal(e.message, `server-side error, code ${status}: (unknown/generic server error)`);
      assert.equal(e.details?.["kind"], `generic_http_${status}`);
      assert.equal(graphErrorKind(e), `generic_http_${status}`);
    });
  }
});

test("an error reply's body is read only for its start: a huge one is still a GRAPH_HTTP error, not GRAPH_TOO_LARGE", async () => {
  await withServer(reply(502, `bad gateway ${"x".repeat(200_000)}`, { "content-type": "text/plain" }), async (server) => {
    const e = await rejectsWith(fetchGraph(options(server.url)), "GRAPH_HTTP");
    assert.equal(e.details?.["kind"], "generic_http_502");
    assert.match(String(e.details?.["body"]), /^bad gateway x+$/);
  });
});

test("a 200 with garbage is GRAPH_DECODE naming the URL", async () => {
  await withServer(reply(200, "{\"nodes\": [1, 2"), async (server) => {
    const e = await rejectsWith(fetchGraph(options(server.url)), "GRAPH_DECODE", `${server.url}v1/graph?basearch=x86_64&stream=stable`);
    assert.match(e.message, /not valid JSON/);
    assert.equal(graphErrorKind(e), "client_failed_json_decoding");
  });
});

test("a body over the cap is GRAPH_TOO_LARGE, announced or chunked without a length", async () => {
  const big = Buffer.alloc(10_000, 0x20);
  await withServer(reply(200, big), async (server) => {
    const e = await rejectsWith(fetchGraph(options(server.url, { maxBodyBytes: 4096 })), "GRAPH_TOO_LARGE");
    assert.match(e.message, /larger than the 4096-byte limit/);
  });
  await withServer(
    (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      for (let i = 0; i < 10; i++) res.write(Buffer.alloc(1000, 0x20));
      res.end();
    },
    async (server) => {
      const e = await rejectsWith(fetchGraph(options(server.url, { maxBodyBytes: 4096 })), "GRAPH_TOO_LARGE");
      assert.match(e.message, /4096-byte limit \(the body kept coming\)/);
    },
  );
});

test("a server that never answers is GRAPH_TIMEOUT after the configured total timeout", async () => {
  await withServer(
    () => {
      /* accept the request, never reply */
    },
    async (server) => {
      const e = await rejectsWith(fetchGraph(options(server.url, { timeoutMs: 200 })), "GRAPH_TIMEOUT");
      assert.match(e.message, /no complete answer within 200 ms/);
      assert.equal(graphErrorKind(e), "client_failed_request");
    },
  );
});

test("a refused connection is GRAPH_NETWORK naming the URL", async () => {
  const server = await startHttpServer(reply(200, EXAMPLE));
  await server.close();
  const e = await rejectsWith(fetchGraph(options(server.url)), "GRAPH_NETWORK", `${server.url}v1/graph?basearch=x86_64&stream=stable`);
  assert.match(e.message, /ECONNREFUSED/);
});

test("redirects are followed; a redirect loop is an error", async () => {
  await withServer(
    (req, res) => {
      if (req.url?.startsWith("/v1/graph")) res.writeHead(302, { location: "/mirror/v1/graph?moved=1" }).end();
      else if (req.url?.startsWith("/mirror/")) res.writeHead(200).end(EXAMPLE);
      else res.writeHead(404).end();
    },
    async (server) => {
      const { graph } = await fetchGraph(options(server.url));
      assert.equal(graph.nodes.length, 3);
      assert.deepEqual(server.requests.map((r) => r.url), ["/v1/graph?basearch=x86_64&stream=stable", "/mirror/v1/graph?moved=1"]);
    },
  );
  await withServer(
    (req, res) => res.writeHead(302, { location: req.url === "/a" ? "/b" : "/a" }).end(),
    async (server) => {
      const e = await rejectsWith(fetchGraph(options(server.url)), "GRAPH_HTTP");
      assert.match(e.message, /redirected more than 5 times/);
      assert.ok(server.requests.length <= 6);
    },
  );
});

test("HTTP_PROXY sends the request through the proxy; NO_PROXY bypasses it", async () => {
  const proxy = await startProxy();
  try {
    await withServer(reply(200, EXAMPLE), async (server) => {
      const { graph } = await fetchGraph(options(server.url, { env: { HTTP_PROXY: proxy.url } }));
      assert.equal(graph.nodes.length, 3);
      assert.deepEqual(proxy.requests, [{ method: "CONNECT", target: `127.0.0.1:${server.port}` }]);
      assert.equal(server.requests.length, 1);

      await fetchGraph(options(server.url, { env: { http_proxy: proxy.url, NO_PROXY: "localhost,127.0.0.1" } }));
      assert.equal(proxy.requests.length, 1, "NO_PROXY must bypass the proxy");
      assert.equal(server.requests.length, 2);
    });
  } finally {
    await proxy.close();
  }
});

test("an unreachable proxy is GRAPH_NETWORK and the message names the proxy", async () => {
  const proxy = await startProxy();
  await proxy.close();
  await withServer(reply(200, EXAMPLE), async (server) => {
    const e = await rejectsWith(fetchGraph(options(server.url, { env: { HTTP_PROXY: proxy.url } })), "GRAPH_NETWORK");
    assert.match(e.message, new RegExp(`through the proxy ${proxy.url}/ \\(HTTP_PROXY\\)`));
    assert.equal(server.requests.length, 0);
  });
});

test("HTTPS: an untrusted certificate fails, a CA file makes it work, also through an HTTPS_PROXY tunnel", async () => {
  const certificate = selfSignedCertificate();
  const server = await startHttpServer(reply(200, EXAMPLE), { tls: { key: certificate.key, cert: certificate.cert } });
  const proxy = await startProxy();
  try {
    const e = await rejectsWith(fetchGraph(options(server.url)), "GRAPH_NETWORK");
    assert.match(e.hint ?? "", /certificate is not trusted/);
    const { graph } = await fetchGraph(options(server.url, { caFile: certificate.certPath }));
    assert.equal(graph.nodes.length, 3);
    await fetchGraph(options(server.url, { caFile: certificate.certPath, env: { HTTPS_PROXY: proxy.url } }));
    assert.deepEqual(proxy.requests, [{ method: "CONNECT", target: `127.0.0.1:${server.port}` }]);
    await rejectsWith(fetchGraph(options(server.url, { caFile: "/nonexistent/ca.pem" })), "CONFIG_INVALID", "/nonexistent/ca.pem");
  } finally {
    await proxy.close();
    await server.close();
    certificate.remove();
  }
});

test("a redirect from https to plain http is refused", async () => {
  const certificate = selfSignedCertificate();
  const plain = await startHttpServer(reply(200, EXAMPLE));
  const secure = await startHttpServer((_req, res) => res.writeHead(302, { location: `${plain.url}v1/graph` }).end(), { tls: { key: certificate.key, cert: certificate.cert } });
  try {
    const e = await rejectsWith(fetchGraph(options(secure.url, { caFile: certificate.certPath })), "GRAPH_HTTP");
    assert.match(e.message, /refusing a redirect from https to plain http/);
    assert.equal(plain.requests.length, 0);
  } finally {
    await secure.close();
    await plain.close();
    certificate.remove();
  }
});

test("credentials in the base URL never appear in errors", async () => {
  await withServer(reply(503, ""), async (server) => {
    const base = server.url.replace("http://", "http://admin:hunter2@");
    const e = await rejectsWith(fetchGraph(options(base)), "GRAPH_HTTP");
    assert.doesNotMatch(`${e.where} ${e.message}`, /hunter2/);
  });
});

test("an aborted fetch is a cancelled GRAPH_NETWORK error", async () => {
  await withServer(
    () => {
      /* never reply */
    },
    async (server) => {
      const controller = new AbortController();
      const pending = fetchGraph(options(server.url, { signal: controller.signal }));
      setTimeout(() => controller.abort(), 50);
      const e = await rejectsWith(pending, "GRAPH_NETWORK");
      assert.equal(e.details?.["cancelled"], true);
    },
  );
});

test("file:// graphs: a file URL is the graph, a directory URL is laid out like the server; the cap applies", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ua-graph-"));
  try {
    writeFileSync(join(dir, "graph.json"), EXAMPLE);
    mkdirSync(join(dir, "v1"));
    writeFileSync(join(dir, "v1", "graph"), EXAMPLE);
    const fileUrl = pathToFileURL(join(dir, "graph.json")).href;
    const fromFile = await fetchGraph(options(fileUrl));
    assert.equal(fromFile.graph.nodes.length, 3);
    assert.equal(fromFile.url, fileUrl, "no query on file URLs");
    const fromDir = await fetchGraph(options(pathToFileURL(dir).href + "/"));
    assert.equal(fromDir.graph.nodes.length, 3);
    await rejectsWith(fetchGraph(options(fileUrl, { maxBodyBytes: 100 })), "GRAPH_TOO_LARGE", fileUrl);
    const missing = pathToFileURL(join(dir, "missing.json")).href;
    const e = await rejectsWith(fetchGraph(options(missing)), "GRAPH_UNREADABLE", missing);
    assert.equal(e.hint, "check the path");
    await rejectsWith(fetchGraph(options("file://otherhost/graph.json")), "CONFIG_INVALID");
    writeFileSync(join(dir, "bad.json"), "nodes: []");
    await rejectsWith(fetchGraph(options(pathToFileURL(join(dir, "bad.json")).href)), "GRAPH_DECODE");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("metric kinds follow Zincati's names", () => {
  const cases: Array<[unknown, string]> = [
    [new AgentError("GRAPH_SERVER", "x", { details: { kind: "failure_foo", status: 466 } }), "failure_foo"],
    [new AgentError("GRAPH_SERVER", "x", { details: { kind: "weird kind!{}" } }), "weird_kind___"],
    [new AgentError("GRAPH_HTTP", "x", { details: { kind: "generic_http_502", status: 502 } }), "generic_http_502"],
    [new AgentError("GRAPH_HTTP", "x", { details: { status: 503 } }), "generic_http_503"],
    [new AgentError("GRAPH_DECODE", "x"), "client_failed_json_decoding"],
    [new AgentError("GRAPH_DECODE", "x", { details: { kind: "client_failed_node_lookup" } }), "client_failed_node_lookup"],
    [new AgentError("GRAPH_NODE_INVALID", "x"), "client_failed_node_parsing"],
    [new AgentError("GRAPH_TIMEOUT", "x"), "client_failed_request"],
    [new AgentError("GRAPH_NETWORK", "x"), "client_failed_request"],
    [new AgentError("GRAPH_TOO_LARGE", "x"), "client_failed_request"],
    [new AgentError("CONFIG_INVALID", "x"), "client_failed_build"],
    [new Error("boom"), "client_failed_request"],
  ];
  for (const [error, kind] of cases) assert.equal(graphErrorKind(error), kind);
});
