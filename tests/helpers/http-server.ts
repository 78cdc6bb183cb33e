/**
 * Real HTTP(S) servers and a forwarding/CONNECT proxy on 127.0.0.1 for tests: a random port, every request
 * recorded as received, and `close()` that also cuts open connections (a handler that never answers
 * must not keep the test process alive).
 */
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface RecordedRequest {
  method: string;
  /** Path and query as sent, e.g. `/v1/graph?basearch=x86_64`. */
  url: string;
  headers: http.IncomingHttpHeaders;
}

/** May return anything (e.g. `res.end()`'s result); a rejected promise becomes a 599 reply. */
export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => unknown;

export interface TestServer {
  /** `http://127.0.0.1:<port>/` (or https). */
  url: string;
  port: number;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export interface ServerOptions {
  /** PEM key and certificate: serve HTTPS. */
  tls?: { key: string; cert: string };
}

export async function startHttpServer(handler: Handler, options: ServerOptions = {}): Promise<TestServer> {
  const requests: RecordedRequest[] = [];
  const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    Promise.resolve(handler(req, res)).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(599);
      res.end(String(e));
    });
  };
  const server = options.tls ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, listener) : http.createServer(listener);
  const port = await listen(server);
  const sockets = trackSockets(server);
  return {
    url: `${options.tls ? "https" : "http"}://127.0.0.1:${port}/`,
    port,
    requests,
    close: () => closeServer(server, sockets),
  };
}

/** Sends a file (or a string) as the reply, like a static graph server. */
export function reply(status: number, body: string | Buffer, headers: http.OutgoingHttpHeaders = { "content-type": "application/json" }): Handler {
  return (_req, res) => {
    res.writeHead(status, headers);
    res.end(body);
  };
}

export interface TestProxy {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `CONNECT host:port` tunnels and absolute-URI forwards, in arrival order. */
  requests: Array<{ method: string; target: string }>;
  close(): Promise<void>;
}

/** A minimal HTTP proxy: CONNECT tunnels (what hpagent uses) and plain absolute-URI forwarding. */
export async function startProxy(): Promise<TestProxy> {
  const requests: TestProxy["requests"] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? "", target: req.url ?? "" });
    const upstream = http.request(req.url ?? "", { method: req.method, headers: req.headers }, (upstreamRes) => {
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
      upstreamRes.pipe(res);
    });
    upstream.on("error", () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  server.on("connect", (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    requests.push({ method: "CONNECT", target: req.url ?? "" });
    const [host, port] = (req.url ?? "").split(":");
    const upstream = net.connect(Number(port), host ?? "127.0.0.1", () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
    client.on("close", () => upstream.destroy());
  });
  const port = await listen(server);
  const sockets = trackSockets(server);
  return { url: `http://127.0.0.1:${port}`, requests, close: () => closeServer(server, sockets) };
}

export interface Certificate {
  key: string;
  cert: string;
  /** The certificate as a file, for CA-file options. */
  certPath: string;
  remove(): void;
}

/** A throw-away self-signed certificate for 127.0.0.1 and localhost (needs the openssl CLI). */
export function selfSignedCertificate(): Certificate {
  const dir = mkdtempSync(join(tmpdir(), "ua-cert-"));
  const keyPath = join(dir, "key.pem");
  const certPath = join(dir, "cert.pem");
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", keyPath, "-out", certPath, "-days", "2", "-subj", "/CN=127.0.0.1",
    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
  ], { stdio: "ignore" });
  return {
    key: readFileSync(keyPath, "utf8"),
    cert: readFileSync(certPath, "utf8"),
    certPath,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
  });
}

function trackSockets(server: net.Server): Set<net.Socket> {
  const sockets = new Set<net.Socket>();
  server.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  // TLS servers report the raw TCP socket here, before the handshake.
  return sockets;
}

function closeServer(server: net.Server, sockets: Set<net.Socket>): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    for (const socket of sockets) socket.destroy();
  });
}
