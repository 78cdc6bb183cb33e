/**
 * The agent's one HTTP client, on node:http and node:https: the graph, FleetLock and the etcd gateway all go
 * through `openRequest`. What they need is small — a deadline for the connection and one for the exchange, an
 * AbortSignal, TLS material, a proxy agent and a size cap — and got, which did this before, kept 14 MiB resident
 * (http2, zlib, its cache layers) in a daemon that makes one small request every few minutes (bench/agentd.bench.ts).
 * Redirects are the caller's business: only the graph follows them, with its own rules.
 */
import http from "node:http";
import https from "node:https";
import type { TLSSocket } from "node:tls";

/** PEM text. `ca` replaces the system roots, as Node's `ca` option does: pass `rootCertificates` along to add to them. */
export interface TlsMaterial {
  ca?: string | string[] | undefined;
  cert?: string | undefined;
  key?: string | undefined;
}

export interface HttpRequest {
  url: URL;
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: string | undefined;
  /** DNS, TCP and TLS together; none but `timeoutMs` when unset. */
  connectTimeoutMs?: number | undefined;
  /** The whole exchange, body included; for a `streaming` request only until the reply's headers are in. */
  timeoutMs: number;
  streaming?: boolean | undefined;
  /** An agent of our own (proxies, no keep-alive); Node's global agent otherwise. */
  agent?: http.Agent | undefined;
  tls?: TlsMaterial | undefined;
  signal?: AbortSignal | undefined;
}

export interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body as it arrives; throws an `HttpRequestError` when the deadline passes or the request is cancelled. */
  body: AsyncIterable<Buffer>;
  /** Ends the exchange: stops the timers and frees the socket. Idempotent. */
  close(): void;
}

export type HttpFailure = "ETIMEDOUT" | "ABORT_ERR" | "ETOOLARGE";

/** A failure of ours (deadline, cancellation, size cap); network errors from Node keep their own `code`. */
export class HttpRequestError extends Error {
  constructor(
    readonly code: HttpFailure,
    message: string,
    /** For ETIMEDOUT: which deadline passed. */
    readonly phase?: "connect" | "request",
  ) {
    super(message);
    this.name = "HttpRequestError";
  }
}

/** Sends the request and resolves once the reply's headers are in; rejects only when no reply came back. */
export function openRequest(request: HttpRequest): Promise<HttpReply> {
  const secure = request.url.protocol === "https:";
  const transport = secure ? https : http;
  const body = request.body === undefined ? undefined : Buffer.from(request.body, "utf8");
  const client = transport.request(request.url, {
    method: request.method,
    headers: body === undefined ? request.headers : { ...request.headers, "content-length": String(body.length) },
    ...(request.agent === undefined ? {} : { agent: request.agent }),
    ...(secure ? tlsOptions(request.tls) : {}),
  });
  let response: http.IncomingMessage | undefined;
  let failure: Error | undefined;
  const deadline = setTimeout(() => fail(new HttpRequestError("ETIMEDOUT", `no complete answer within ${request.timeoutMs} ms`, "request")), request.timeoutMs);
  let connectDeadline: NodeJS.Timeout | undefined;
  const settle = () => {
    clearTimeout(deadline);
    clearTimeout(connectDeadline);
    request.signal?.removeEventListener("abort", onAbort);
  };
  const fail = (error: Error) => {
    failure ??= error;
    settle();
    response?.destroy(error);
    client.destroy(error);
  };
  const onAbort = () => fail(new HttpRequestError("ABORT_ERR", "the request was cancelled"));
  const close = () => {
    settle();
    // A reply read to its end has already handed its socket back to the agent.
    if (response?.complete !== true) {
      response?.destroy();
      client.destroy();
    }
  };

  if (request.connectTimeoutMs !== undefined) {
    const ms = request.connectTimeoutMs;
    connectDeadline = setTimeout(() => fail(new HttpRequestError("ETIMEDOUT", `could not connect within ${ms} ms`, "connect")), ms);
    const connected = () => clearTimeout(connectDeadline);
    client.once("socket", (socket) => {
      // A reused keep-alive socket, or a proxy tunnel handed over already open, has nothing left to wait for.
      if (client.reusedSocket) connected();
      else if (secure) (socket as TLSSocket).once("secureConnect", connected);
      else if (socket.connecting) socket.once("connect", connected);
      else connected();
    });
  }
  if (request.signal?.aborted) onAbort();
  else request.signal?.addEventListener("abort", onAbort, { once: true });

  return new Promise<HttpReply>((resolve, reject) => {
    // Stays attached for the whole exchange: an error after the headers reaches the body's reader instead.
    client.on("error", (error) => {
      if (response === undefined) {
        settle();
        reject(failure ?? error);
      } else {
        response.destroy(failure ?? error);
      }
    });
    client.once("response", (reply) => {
      response = reply;
      reply.on("error", () => {}); // read through `body`, which throws it; unread, it must not crash the process
      reply.once("end", settle);
      clearTimeout(connectDeadline);
      if (request.streaming) clearTimeout(deadline);
      resolve({ status: reply.statusCode ?? 0, headers: reply.headers, body: reply, close });
    });
    client.end(body);
  });
}

/**
 * The whole body, at most `maxBytes` of it (an `ETOOLARGE` error beyond), and the reply closed. With `truncate`
 * a longer body is not an error: reading stops and the chunks that fitted come back.
 */
export async function readBody(reply: HttpReply, maxBytes: number, where: string, truncate = false): Promise<Buffer> {
  try {
    const declared = Number(reply.headers["content-length"]);
    if (!truncate && Number.isFinite(declared) && declared > maxBytes) {
      throw new HttpRequestError("ETOOLARGE", `the reply from ${where} is larger than ${maxBytes} bytes (the server announced ${declared})`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of reply.body) {
      size += chunk.length;
      if (size > maxBytes) {
        if (truncate) break;
        throw new HttpRequestError("ETOOLARGE", `the reply from ${where} is larger than ${maxBytes} bytes`);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  } finally {
    reply.close();
  }
}

/** One request, its reply read whole as UTF-8 text. */
export async function exchange(request: HttpRequest, maxBytes: number): Promise<{ status: number; body: string }> {
  const reply = await openRequest(request);
  const body = await readBody(reply, maxBytes, request.url.origin);
  return { status: reply.status, body: body.toString("utf8") };
}

function tlsOptions(tls: TlsMaterial | undefined): https.RequestOptions {
  if (tls === undefined) return {};
  return {
    ...(tls.ca === undefined ? {} : { ca: tls.ca }),
    ...(tls.cert === undefined ? {} : { cert: tls.cert }),
    ...(tls.key === undefined ? {} : { key: tls.key }),
  };
}
