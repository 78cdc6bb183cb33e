/**
 * Serves the metrics two ways:
 * - always, Zincati's model: a unix socket under `<root>/run/update-agent/public/`; each connection
 *   gets the text exposition and is closed (bridge it with local_exporter or socat);
 * - when configured, plain HTTP `GET /metrics`, on loopback only. The agent runs as root and has
 *   no authentication, so exposing it beyond this host is a proxy's job, not ours.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import { BlockList, createServer as createNetServer, isIPv4, isIPv6, type AddressInfo, type Server as NetServer } from "node:net";
import { chmod, lstat, mkdir, rm, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { AgentError } from "../errors.js";
import type { Logger } from "../host/log.js";
import type { Metrics } from "./metrics.js";

export const METRICS_SOCKET = "run/update-agent/public/metrics.promsock";

export interface MetricsServerOptions {
  /** Root prefix for node paths (`--root`). */
  root: string;
  metrics: Pick<Metrics, "render" | "contentType">;
  /** `127.0.0.1:PORT` or `[::1]:PORT` (any 127.0.0.0/8 address); unset means no HTTP. */
  listen?: string | undefined;
  log: Pick<Logger, "info" | "warn" | "debug">;
}

export interface MetricsServer {
  socketPath: string;
  /** The bound HTTP address (`127.0.0.1:41234`), when HTTP is on; port 0 is resolved. */
  httpAddress?: string;
  close(): Promise<void>;
}

export interface LoopbackAddress {
  host: string;
  port: number;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

/** Parses `127.0.0.1:9100` / `[::1]:9100`; anything that is not a loopback address is refused. */
export function parseLoopbackListen(listen: string): LoopbackAddress {
  const refuse = (why: string) =>
    new AgentError("CONFIG_INVALID", `metrics listen address ${JSON.stringify(listen)} ${why}`, {
      hint: "use 127.0.0.1:PORT or [::1]:PORT; to scrape from another host, put a proxy you control in front",
    });
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(listen.trim());
  if (!match) throw refuse("is not HOST:PORT (IPv6 in brackets)");
  const host = match[1] ?? match[2]!;
  const port = Number(match[3]);
  if (port > 65535) throw refuse("has a port above 65535");
  const family = match[1] !== undefined ? (isIPv6(host) ? "ipv6" : undefined) : isIPv4(host) ? "ipv4" : undefined;
  if (family === undefined) throw refuse("is not an IP address (host names are not accepted)");
  if (!LOOPBACK.check(host, family)) throw refuse("is not a loopback address");
  return { host, port };
}

export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { root, metrics, log } = options;
  // Validate before touching anything, so a bad address leaves no socket behind.
  const http = options.listen !== undefined ? parseLoopbackListen(options.listen) : undefined;
  const socketPath = join(root, METRICS_SOCKET);
  const unixServer = await listenUnix(socketPath, metrics, log);
  let httpServer: HttpServer | undefined;
  let httpAddress: string | undefined;
  if (http) {
    try {
      httpServer = await listenHttp(http, metrics, log);
    } catch (e) {
      await closeUnix(unixServer, socketPath);
      throw e;
    }
    const bound = httpServer.address() as AddressInfo;
    httpAddress = bound.family === "IPv6" ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`;
  }
  log.info("serving metrics", { socket: socketPath, ...(httpAddress ? { http: `http://${httpAddress}/metrics` } : {}) });

  return {
    socketPath,
    ...(httpAddress ? { httpAddress } : {}),
    async close() {
      if (httpServer) {
        const closed = new Promise<void>((resolve) => httpServer!.close(() => resolve()));
        httpServer.closeAllConnections();
        await closed;
      }
      await closeUnix(unixServer, socketPath);
    },
  };
}

async function listenUnix(socketPath: string, metrics: MetricsServerOptions["metrics"], log: MetricsServerOptions["log"]): Promise<NetServer> {
  const hostError = (message: string, cause?: unknown) =>
    new AgentError("HOST_IO", message, { where: socketPath, cause, hint: "the agent needs to own /run/update-agent (RuntimeDirectory=update-agent)" });
  try {
    await mkdir(dirname(socketPath), { recursive: true, mode: 0o755 });
  } catch (e) {
    throw hostError(`cannot create the metrics socket directory: ${(e as Error).message}`, e);
  }
  await removeStaleSocket(socketPath, hostError);

  const server = createNetServer((connection) => {
    connection.on("error", (e) => log.debug("metrics client went away early", { err: e }));
    metrics.render().then(
      (text) => connection.end(text),
      (e: unknown) => {
        log.warn("cannot render metrics", { err: e });
        connection.destroy();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e) => reject(hostError(`cannot listen on the metrics socket: ${e.message}`, e)));
    server.listen(socketPath, () => resolve());
  });
  // Anyone on the host may read metrics: the socket's directory is the "public" one.
  await chmod(socketPath, 0o666);
  server.on("error", (e) => log.warn("metrics socket error", { err: e }));
  return server;
}

/** A socket left by a previous run (crash, SIGKILL) would make listen() fail with EADDRINUSE. */
async function removeStaleSocket(socketPath: string, hostError: (message: string, cause?: unknown) => AgentError): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(socketPath)).isSocket();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw hostError(`cannot inspect the metrics socket path: ${(e as Error).message}`, e);
  }
  if (!isSocket) throw hostError("refusing to replace something that is not a socket at the metrics socket path");
  await unlink(socketPath);
}

async function closeUnix(server: NetServer, socketPath: string): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(socketPath, { force: true });
}

async function listenHttp(address: LoopbackAddress, metrics: MetricsServerOptions["metrics"], log: MetricsServerOptions["log"]): Promise<HttpServer> {
  const server = createHttpServer((request, response) => void serveHttp(request, response, metrics, log));
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        new AgentError("HOST_IO", `cannot listen for metrics over HTTP: ${e.message}`, {
          where: `${address.host.includes(":") ? `[${address.host}]` : address.host}:${address.port}`,
          hint: e.code === "EADDRINUSE" ? "another process uses that port; pick another one" : undefined,
          cause: e,
        }),
      ),
    );
    server.listen(address.port, address.host, () => resolve());
  });
  server.on("error", (e) => log.warn("metrics HTTP server error", { err: e }));
  return server;
}

async function serveHttp(
  request: IncomingMessage,
  response: ServerResponse,
  metrics: MetricsServerOptions["metrics"],
  log: MetricsServerOptions["log"],
): Promise<void> {
  const path = (request.url ?? "/").split("?")[0];
  if (path !== "/metrics") return reply(response, 404, "not found; metrics are at /metrics\n");
  if (request.method !== "GET" && request.method !== "HEAD") {
    response.setHeader("Allow", "GET, HEAD");
    return reply(response, 405, "method not allowed\n");
  }
  try {
    const text = await metrics.render();
    response.writeHead(200, { "Content-Type": metrics.contentType, "Content-Length": Buffer.byteLength(text) });
    response.end(request.method === "HEAD" ? undefined : text);
  } catch (e) {
    log.warn("cannot render metrics", { err: e });
    reply(response, 500, "cannot render metrics\n");
  }
}

function reply(response: ServerResponse, status: number, body: string): void {
  response.writeHead(status, { "Content-Type": "text/plain; charset=utf-8" });
  response.end(body);
}
