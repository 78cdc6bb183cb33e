import { test } from "node:test";
import assert from "node:assert/strict";
import https from "node:https";
import net from "node:net";
import { exchange, HttpRequestError, openRequest, readBody, type HttpRequest } from "../../src/host/http.js";
import { selfSignedCertificate, startHttpServer, type Handler, type TestServer } from "../helpers/http-server.js";

async function withServer(handler: Handler, body: (server: TestServer) => Promise<void>, tls?: { key: string; cert: string }): Promise<void> {
  const server = await startHttpServer(handler, tls ? { tls } : {});
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

const get = (url: string, extra: Partial<HttpRequest> = {}): HttpRequest => ({ url: new URL(url), method: "GET", headers: {}, timeoutMs: 5000, ...extra });

async function rejectsWithCode(promise: Promise<unknown>, code: string, phase?: string): Promise<Error> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof HttpRequestError, `expected an HttpRequestError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (phase !== undefined) assert.equal(e.phase, phase);
    return e;
  }
  assert.fail(`expected ${code}, but the request succeeded`);
}

test("a POST arrives with its body, length and headers; the reply comes back whole", async () => {
  let received = "";
  await withServer(
    async (req, res) => {
      for await (const chunk of req) received += String(chunk);
      res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ length: req.headers["content-length"], type: req.headers["content-type"] }));
    },
    async (server) => {
      const reply = await exchange({ ...get(server.url), method: "POST", body: '{"ü":1}', headers: { "content-type": "application/json" } }, 1024);
      assert.equal(reply.status, 201);
      assert.deepEqual(JSON.parse(reply.body), { length: "8", type: "application/json" });
      assert.equal(received, '{"ü":1}');
    },
  );
});

test("the deadline covers the body: a reply that stalls after its headers fails the reader with ETIMEDOUT", async () => {
  await withServer(
    (_req, res) => {
      res.writeHead(200, { "content-length": "100" });
      res.write("partial");
    },
    async (server) => {
      const reply = await openRequest(get(server.url, { timeoutMs: 300 }));
      assert.equal(reply.status, 200);
      const e = await rejectsWithCode(readBody(reply, 1024, server.url), "ETIMEDOUT", "request");
      assert.match(e.message, /no complete answer within 300 ms/);
    },
  );
});

test("a reply whose body nobody reads times out without crashing the process", async () => {
  await withServer(
    (_req, res) => {
      res.writeHead(200);
      res.write("x");
    },
    async (server) => {
      const reply = await openRequest(get(server.url, { timeoutMs: 100 }));
      await new Promise((r) => setTimeout(r, 300)); // the deadline passes with no reader attached
      await rejectsWithCode(readBody(reply, 1024, server.url), "ETIMEDOUT");
    },
  );
});

test("a TLS server that accepts the connection but never handshakes is a connect-phase timeout", async () => {
  const silent = net.createServer(() => {});
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  const port = (silent.address() as net.AddressInfo).port;
  try {
    const e = await rejectsWithCode(openRequest(get(`https://127.0.0.1:${port}/`, { connectTimeoutMs: 200, timeoutMs: 5000 })), "ETIMEDOUT", "connect");
    assert.match(e.message, /could not connect within 200 ms/);
  } finally {
    silent.close();
    silent.unref();
  }
});

test("a reused keep-alive TLS socket does not run into the connect deadline while the server thinks", async () => {
  const certificate = selfSignedCertificate();
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    await withServer(
      async (req, res) => {
        if (req.url === "/slow") await new Promise((r) => setTimeout(r, 400));
        res.end("ok");
      },
      async (server) => {
        const request = (path: string) => exchange(get(new URL(path, server.url).href, { agent, connectTimeoutMs: 150, tls: { ca: certificate.cert } }), 64);
        assert.equal((await request("/fast")).body, "ok");
        await new Promise((r) => setImmediate(r));
        assert.equal(Object.values(agent.freeSockets).flat().length, 1, "the first socket waits in the pool");
        assert.equal((await request("/slow")).body, "ok");
      },
      certificate,
    );
  } finally {
    agent.destroy();
    certificate.remove();
  }
});

test("a streaming request has no deadline once its headers are in", async () => {
  await withServer(
    (_req, res) => {
      res.writeHead(200);
      res.write("first\n");
      setTimeout(() => res.end("second\n"), 400);
    },
    async (server) => {
      const reply = await openRequest(get(server.url, { timeoutMs: 150, streaming: true }));
      const text = (await readBody(reply, 1024, server.url)).toString();
      assert.equal(text, "first\nsecond\n");
    },
  );
});

test("aborting the signal cancels the request before the reply and while the body comes", async () => {
  await withServer(
    (req, res) => {
      if (req.url === "/body") {
        res.writeHead(200);
        res.write("x");
      }
    },
    async (server) => {
      const before = new AbortController();
      const pending = openRequest(get(server.url, { signal: before.signal }));
      setTimeout(() => before.abort(), 100);
      await rejectsWithCode(pending, "ABORT_ERR");

      const during = new AbortController();
      const reply = await openRequest(get(new URL("/body", server.url).href, { signal: during.signal }));
      setTimeout(() => during.abort(), 100);
      await rejectsWithCode(readBody(reply, 1024, server.url), "ABORT_ERR");

      const already = AbortSignal.abort();
      await rejectsWithCode(openRequest(get(server.url, { signal: already })), "ABORT_ERR");
    },
  );
});

test("a body over the cap is ETOOLARGE, announced or chunked", async () => {
  await withServer(
    (req, res) => {
      if (req.url === "/announced") res.writeHead(200, { "content-length": "5000" }).end("x".repeat(5000));
      else {
        res.writeHead(200);
        const timer = setInterval(() => res.write("y".repeat(1000)), 5);
        res.on("close", () => clearInterval(timer));
      }
    },
    async (server) => {
      const announced = await rejectsWithCode(exchange(get(new URL("/announced", server.url).href), 4096), "ETOOLARGE");
      assert.match(announced.message, /larger than 4096 bytes \(the server announced 5000\)/);
      await rejectsWithCode(exchange(get(new URL("/chunked", server.url).href), 4096), "ETOOLARGE");
    },
  );
});

test("without a CA the self-signed server is refused with Node's own certificate error; with it, it is trusted", async () => {
  const certificate = selfSignedCertificate();
  try {
    await withServer(
      (_req, res) => res.end("secure"),
      async (server) => {
        await assert.rejects(exchange(get(server.url), 64), (e: NodeJS.ErrnoException) => /CERT|SELF_SIGNED/.test(e.code ?? ""));
        assert.equal((await exchange(get(server.url, { tls: { ca: certificate.cert } }), 64)).body, "secure");
      },
      certificate,
    );
  } finally {
    certificate.remove();
  }
});
