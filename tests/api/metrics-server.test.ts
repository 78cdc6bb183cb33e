import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, createServer } from "node:net";
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMetrics } from "../../src/api/metrics.js";
import { METRICS_SOCKET, parseLoopbackListen, startMetricsServer } from "../../src/api/metrics-server.js";
import { isAgentError } from "../../src/errors.js";
import { silentLogger } from "../../src/host/log.js";
import { parseExposition, valueOf } from "./metrics-exposition.js";

function tempRoot(): string {
  return mkdtempSync(join(tmpdir(), "ua-metrics-"));
}

function readSocket(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const socket = connect(path);
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (text += chunk));
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
}

test("each connection to the unix socket gets the exposition, then the socket closes", async () => {
  const root = tempRoot();
  const metrics = createMetrics();
  const server = await startMetricsServer({ root, metrics, log: silentLogger });
  try {
    assert.equal(server.socketPath, join(root, METRICS_SOCKET));
    assert.equal(server.httpAddress, undefined);
    metrics.updateChecks.inc();
    const { samples } = parseExposition(await readSocket(server.socketPath));
    assert.equal(valueOf(samples, "update_agent_update_checks_total"), 1);
    metrics.updateChecks.inc();
    const again = parseExposition(await readSocket(server.socketPath));
    assert.equal(valueOf(again.samples, "update_agent_update_checks_total"), 2);
    assert.equal(statSync(server.socketPath).mode & 0o777, 0o666, "any local user may read metrics");
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
  assert.equal(existsSync(join(root, METRICS_SOCKET)), false);
});

test("a socket left behind by a crashed agent is replaced", async () => {
  const root = tempRoot();
  try {
    // A crashed agent leaves its socket file behind with nobody listening: make one like that.
    const elsewhere = join(root, "leftover.sock");
    const leftover = createServer();
    await new Promise<void>((r) => leftover.listen(elsewhere, () => r()));
    mkdirSync(join(root, "run/update-agent/public"), { recursive: true });
    renameSync(elsewhere, join(root, METRICS_SOCKET));
    await new Promise<void>((r) => leftover.close(() => r()));
    assert.ok(statSync(join(root, METRICS_SOCKET)).isSocket());

    const server = await startMetricsServer({ root, metrics: createMetrics(), log: silentLogger });
    try {
      assert.match(await readSocket(server.socketPath), /update_agent_update_checks_total/);
    } finally {
      await server.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a regular file at the socket path is not clobbered", async () => {
  const root = tempRoot();
  try {
    mkdirSync(join(root, "run/update-agent/public"), { recursive: true });
    writeFileSync(join(root, METRICS_SOCKET), "precious");
    await assert.rejects(startMetricsServer({ root, metrics: createMetrics(), log: silentLogger }), (e) => {
      assert.ok(isAgentError(e));
      assert.equal(e.code, "HOST_IO");
      assert.equal(e.where, join(root, METRICS_SOCKET));
      return true;
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("HTTP on loopback serves GET /metrics with the Prometheus content type and 404 elsewhere", async () => {
  const root = tempRoot();
  const metrics = createMetrics();
  const server = await startMetricsServer({ root, metrics, listen: "127.0.0.1:0", log: silentLogger });
  try {
    assert.match(server.httpAddress ?? "", /^127\.0\.0\.1:\d+$/);
    metrics.rollbacks.inc();
    const response = await fetch(`http://${server.httpAddress}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const { samples } = parseExposition(await response.text());
    assert.equal(valueOf(samples, "update_agent_rollbacks_total"), 1);

    const missing = await fetch(`http://${server.httpAddress}/`);
    assert.equal(missing.status, 404);
    await missing.text();
    const posted = await fetch(`http://${server.httpAddress}/metrics`, { method: "POST" });
    assert.equal(posted.status, 405);
    await posted.text();
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test("non-loopback listen addresses are refused with a clear error, before anything is created", async () => {
  for (const listen of ["0.0.0.0:9100", "192.168.1.10:9100", "[::]:9100", "localhost:9100", "9100", "127.0.0.1:99999"]) {
    assert.throws(() => parseLoopbackListen(listen), (e) => {
      assert.ok(isAgentError(e));
      assert.equal(e.code, "CONFIG_INVALID");
      assert.ok(e.message.includes(JSON.stringify(listen)), e.message);
      assert.match(e.hint ?? "", /127\.0\.0\.1:PORT or \[::1\]:PORT/);
      return true;
    });
  }
  const root = tempRoot();
  try {
    await assert.rejects(startMetricsServer({ root, metrics: createMetrics(), listen: "0.0.0.0:0", log: silentLogger }), /is not a loopback address/);
    assert.equal(existsSync(join(root, METRICS_SOCKET)), false);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  assert.deepEqual(parseLoopbackListen("[::1]:9100"), { host: "::1", port: 9100 });
  assert.deepEqual(parseLoopbackListen("127.0.0.53:9100"), { host: "127.0.0.53", port: 9100 });
});

test("a busy HTTP port is a HOST_IO error naming the address, and leaves no socket behind", async () => {
  const root = tempRoot();
  const first = await startMetricsServer({ root, metrics: createMetrics(), listen: "127.0.0.1:0", log: silentLogger });
  const otherRoot = tempRoot();
  try {
    await assert.rejects(startMetricsServer({ root: otherRoot, metrics: createMetrics(), listen: first.httpAddress, log: silentLogger }), (e) => {
      assert.ok(isAgentError(e));
      assert.equal(e.code, "HOST_IO");
      assert.equal(e.where, first.httpAddress);
      return true;
    });
    assert.equal(existsSync(join(otherRoot, METRICS_SOCKET)), false);
  } finally {
    await first.close();
    rmSync(root, { recursive: true, force: true });
    rmSync(otherRoot, { recursive: true, force: true });
  }
});
