/**
 * Fetching the update graph: one GET (no retries: the agent loop retries on its next tick), bounded in
 * time and size, through the environment's proxy, following a few redirects. Every failure is an
 * AgentError whose `where` is the graph URL without credentials.
 */
import http from "node:http";
import https from "node:https";
import { readFile } from "node:fs/promises";
import { rootCertificates } from "node:tls";
import { fileURLToPath } from "node:url";
import got, { type Agents, type Response } from "got";
import { HttpProxyAgent, HttpsProxyAgent } from "hpagent";
import { AgentError, isAgentError } from "../errors.js";
import type { Graph } from "./model.js";
import { parseGraph } from "./parse.js";
import { proxyForUrl } from "./proxy.js";
import { readGraphFile } from "./file.js";
import { graphUrl, redactUrl } from "./url.js";

/** More hops than any sane CDN setup needs, few enough to stop a loop quickly. */
const MAX_REDIRECTS = 5;

/** Error bodies are read only for their `{kind, value}`; no need to hold more than this. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

export interface FetchOptions {
  caFile?: string | undefined;
  connectTimeoutMs: number;
  /** The whole exchange, body included. */
  timeoutMs: number;
  maxBodyBytes: number;
  /** Proxy variables are read from here (default `process.env`). */
  env?: NodeJS.ProcessEnv | undefined;
  userAgent: string;
  signal?: AbortSignal | undefined;
}

export interface FetchGraphOptions extends FetchOptions {
  /** `cincinnati.base_url`; `v1/graph` is joined to it (see `graphUrl`). */
  baseUrl: string;
  /** Usually `graphQuery(identity)`; not sent for `file:` graphs. */
  query: URLSearchParams;
}

export interface FetchedGraph {
  graph: Graph;
  /** The URL requested, without credentials. */
  url: string;
}

export async function fetchGraph(opts: FetchGraphOptions): Promise<FetchedGraph> {
  const { url } = graphUrl(opts.baseUrl);
  if (url.protocol !== "file:") for (const [key, value] of opts.query) url.searchParams.append(key, value);
  return fetchGraphFrom(url, opts);
}

/** Fetches a graph from a complete URL (query included), e.g. `agentctl plan --graph URL`. */
export async function fetchGraphFrom(url: URL, opts: FetchOptions): Promise<FetchedGraph> {
  const where = redactUrl(url);
  if (url.protocol === "file:") {
    const body = await readGraphFile(filePath(url, where), opts.maxBodyBytes, where);
    return { graph: parseGraph(body, where), url: where };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new AgentError("CONFIG_INVALID", `unsupported URL scheme ${url.protocol} (expected http, https or file)`, { where });
  }
  const { status, body } = await download(url, opts, where);
  if (status < 200 || status > 299) throw httpError(status, body, where);
  return { graph: parseGraph(body, where), url: where };
}

function filePath(url: URL, where: string): string {
  try {
    return fileURLToPath(url);
  } catch (e) {
    // e.g. file://host/path: only local files can be read
    throw new AgentError("CONFIG_INVALID", `not a local file URL: ${e instanceof Error ? e.message : String(e)}`, { where, cause: e });
  }
}

async function download(url: URL, opts: FetchOptions, where: string): Promise<{ status: number; body: Buffer }> {
  const agents = new AgentPool(opts.env ?? process.env);
  const ca = opts.caFile === undefined ? undefined : [...rootCertificates, await readCa(opts.caFile)];
  const request = got.stream(url, {
    headers: { accept: "application/json", "user-agent": opts.userAgent },
    timeout: { lookup: opts.connectTimeoutMs, connect: opts.connectTimeoutMs, secureConnect: opts.connectTimeoutMs, request: opts.timeoutMs },
    retry: { limit: 0 },
    throwHttpErrors: false,
    maxRedirects: MAX_REDIRECTS,
    agent: agents.for(url),
    https: ca === undefined ? {} : { certificateAuthority: ca },
    signal: opts.signal,
    hooks: {
      beforeRedirect: [
        (options, response) => {
          const next = options.url instanceof URL ? options.url : new URL(String(options.url));
          if (next.protocol === "http:" && response.url.startsWith("https:")) {
            throw new AgentError("GRAPH_HTTP", `refusing a redirect from https to plain http (${redactUrl(next)})`, {
              where,
              hint: "fix the server's redirect, or configure the final https URL directly",
              details: { kind: "client_failed_request", status: response.statusCode },
            });
          }
          options.agent = agents.for(next); // NO_PROXY may treat the new host differently
        },
      ],
    },
  });
  try {
    const response = await new Promise<Response>((resolve, reject) => {
      request.once("response", resolve);
      request.once("error", reject);
    });
    const ok = response.statusCode >= 200 && response.statusCode <= 299;
    const cap = ok ? opts.maxBodyBytes : Math.min(opts.maxBodyBytes, MAX_ERROR_BODY_BYTES);
    const declared = Number(response.headers["content-length"]);
    if (ok && Number.isFinite(declared) && declared > cap) throw tooLarge(where, cap, `the server announced ${declared} bytes`);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > cap) {
        if (!ok) break; // an error body is only read for its start
        throw tooLarge(where, cap, "the body kept coming");
      }
      chunks.push(chunk);
    }
    return { status: response.statusCode, body: Buffer.concat(chunks) };
  } catch (e) {
    throw requestError(e, where, opts);
  } finally {
    request.destroy();
    agents.destroy();
  }
}

/** One agent pair per proxy decision, destroyed after the fetch so no socket outlives it. */
class AgentPool {
  private readonly pools = new Map<string, { http: http.Agent; https: https.Agent }>();

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  for(url: URL): Agents {
    const choice = proxyForUrl(url, this.env);
    const key = choice?.proxy.href ?? "direct";
    let agents = this.pools.get(key);
    if (agents === undefined) {
      agents =
        choice === undefined
          ? { http: new http.Agent({ keepAlive: false }), https: new https.Agent({ keepAlive: false }) }
          : { http: new HttpProxyAgent({ proxy: choice.proxy, keepAlive: false }), https: new HttpsProxyAgent({ proxy: choice.proxy, keepAlive: false }) };
      this.pools.set(key, agents);
    }
    return agents;
  }

  destroy(): void {
    for (const agents of this.pools.values()) {
      agents.http.destroy();
      agents.https.destroy();
    }
  }
}

async function readCa(caFile: string): Promise<string> {
  try {
    return await readFile(caFile, "utf8");
  } catch (e) {
    throw new AgentError("CONFIG_INVALID", `cannot read the CA file: ${e instanceof Error ? e.message : String(e)}`, {
      where: caFile,
      hint: "point the CA file setting at a readable PEM file, or remove it to use the system trust store",
      cause: e,
    });
  }
}

function tooLarge(where: string, cap: number, why: string): AgentError {
  return new AgentError("GRAPH_TOO_LARGE", `the graph is larger than the ${cap}-byte limit (${why})`, {
    where,
    hint: "check that the URL points at an update graph; raise the graph size limit if it legitimately is this big",
    details: { maxBodyBytes: cap },
  });
}

/** Zincati's reading of an error reply: a `{kind, value}` JSON body is the server's own error. */
function httpError(status: number, body: Buffer, where: string): AgentError {
  const serverError = parseServerError(body);
  if (serverError !== undefined) {
    return new AgentError("GRAPH_SERVER", `server-side error, code ${status}: ${serverError.value}`, {
      where,
      hint: "the update server refused the request; the agent retries on its next check",
      details: { kind: serverError.kind, status },
    });
  }
  const excerpt = body.toString("utf8", 0, Math.min(body.length, 200)).replace(/\s+/g, " ").trim();
  return new AgentError("GRAPH_HTTP", `server-side error, code ${status}: (unknown/generic server error)`, {
    where,
    hint:
      status === 404 || status === 400
        ? "check cincinnati.base_url and the stream and architecture this node reports"
        : "the update server failed; the agent retries on its next check",
    details: { kind: `generic_http_${status}`, status, ...(excerpt === "" ? {} : { body: excerpt }) },
  });
}

function parseServerError(body: Buffer): { kind: string; value: string } | undefined {
  try {
    const parsed = JSON.parse(body.toString("utf8")) as unknown;
    if (typeof parsed !== "object" || parsed === null) return undefined;
    const { kind, value } = parsed as { kind?: unknown; value?: unknown };
    return typeof kind === "string" && typeof value === "string" ? { kind, value } : undefined;
  } catch {
    return undefined;
  }
}

interface GotLikeError {
  name?: string;
  code?: string;
  message?: string;
  event?: string;
  cause?: unknown;
  response?: { statusCode?: number };
}

function requestError(e: unknown, where: string, opts: FetchOptions): AgentError {
  if (isAgentError(e)) return e;
  const err = (typeof e === "object" && e !== null ? e : { message: String(e) }) as GotLikeError;
  if (isAgentError(err.cause)) return err.cause; // thrown from our redirect hook, wrapped by got
  const message = err.message ?? String(e);
  if (err.name === "TimeoutError" || err.code === "ETIMEDOUT") {
    const total = err.event === "request";
    return new AgentError("GRAPH_TIMEOUT", total ? `no complete answer within ${opts.timeoutMs} ms` : `could not connect within ${opts.connectTimeoutMs} ms (${err.event ?? "connect"})`, {
      where,
      hint: "the update server or the network is slow or down; the agent retries on its next check",
      details: { phase: err.event },
      cause: e,
    });
  }
  if (err.code === "ERR_TOO_MANY_REDIRECTS") {
    return new AgentError("GRAPH_HTTP", `redirected more than ${MAX_REDIRECTS} times (a redirect loop?)`, {
      where,
      hint: "fix the server's redirects, or configure the final URL directly",
      details: { kind: "client_failed_request", status: err.response?.statusCode },
      cause: e,
    });
  }
  if (err.code === "ERR_ABORTED" || opts.signal?.aborted) {
    return new AgentError("GRAPH_NETWORK", "the request was cancelled", { where, details: { cancelled: true }, cause: e });
  }
  const proxy = safeProxy(where, opts.env ?? process.env);
  const tls = /CERT|SSL|TLS|SELF_SIGNED/i.test(err.code ?? "");
  return new AgentError("GRAPH_NETWORK", `cannot reach the update server${proxy ? ` through the proxy ${proxy}` : ""}: ${message}`, {
    where,
    hint: tls
      ? "the server's TLS certificate is not trusted: install its CA in the system trust store or configure a CA file"
      : "check the network, DNS and proxy settings; the agent retries on its next check",
    details: err.code === undefined ? undefined : { errno: err.code },
    cause: e,
  });
}

function safeProxy(where: string, env: NodeJS.ProcessEnv): string | undefined {
  try {
    const choice = proxyForUrl(new URL(where), env);
    return choice === undefined ? undefined : `${redactUrl(choice.proxy)} (${choice.variable})`;
  } catch {
    return undefined;
  }
}
