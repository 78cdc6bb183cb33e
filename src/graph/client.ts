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
import { HttpProxyAgent, HttpsProxyAgent } from "hpagent";
import { AgentError, errnoCode, isAgentError } from "../errors.js";
import { HttpRequestError, openRequest, readBody, type HttpReply } from "../host/http.js";
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

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** A GET bounded by one deadline across every hop, the body read up to its cap. */
async function download(url: URL, opts: FetchOptions, where: string): Promise<{ status: number; body: Buffer }> {
  const agents = new AgentPool(opts.env ?? process.env);
  const tls = opts.caFile === undefined ? undefined : { ca: [...rootCertificates, await readCa(opts.caFile)] };
  const deadline = Date.now() + opts.timeoutMs;
  let reply: HttpReply | undefined;
  try {
    for (let current = url, hops = 0; ; hops++) {
      reply = await openRequest({
        url: current,
        method: "GET",
        headers: { accept: "application/json", "user-agent": opts.userAgent },
        connectTimeoutMs: opts.connectTimeoutMs,
        timeoutMs: Math.max(1, deadline - Date.now()),
        agent: agents.for(current), // NO_PROXY may treat each host differently
        tls,
        signal: opts.signal,
      });
      const location = reply.headers.location;
      if (!REDIRECT_STATUSES.has(reply.status) || location === undefined) break;
      reply.close();
      current = redirectTarget(current, location, reply.status, hops, where);
    }
    if (reply.status < 200 || reply.status > 299) {
      // An error body is only read for its start.
      return { status: reply.status, body: await readBody(reply, Math.min(opts.maxBodyBytes, MAX_ERROR_BODY_BYTES), where, true) };
    }
    const declared = Number(reply.headers["content-length"]);
    if (Number.isFinite(declared) && declared > opts.maxBodyBytes) throw tooLarge(where, opts.maxBodyBytes, `the server announced ${declared} bytes`);
    return { status: reply.status, body: await readBody(reply, opts.maxBodyBytes, where) };
  } catch (e) {
    throw requestError(e, where, opts);
  } finally {
    reply?.close();
    agents.destroy();
  }
}

function redirectTarget(from: URL, location: string, status: number, hops: number, where: string): URL {
  if (hops >= MAX_REDIRECTS) {
    throw new AgentError("GRAPH_HTTP", `redirected more than ${MAX_REDIRECTS} times (a redirect loop?)`, {
      where,
      hint: "fix the server's redirects, or configure the final URL directly",
      details: { kind: "client_failed_request", status },
    });
  }
  let next: URL;
  try {
    next = new URL(location, from);
  } catch (e) {
    throw new AgentError("GRAPH_HTTP", `the server redirected to an invalid URL ${JSON.stringify(location)}`, { where, details: { kind: "client_failed_request", status }, cause: e });
  }
  if (next.protocol === "http:" && from.protocol === "https:") {
    throw new AgentError("GRAPH_HTTP", `refusing a redirect from https to plain http (${redactUrl(next)})`, {
      where,
      hint: "fix the server's redirect, or configure the final https URL directly",
      details: { kind: "client_failed_request", status },
    });
  }
  if (next.protocol !== "https:" && next.protocol !== "http:") {
    throw new AgentError("GRAPH_HTTP", `refusing a redirect to ${next.protocol} (${redactUrl(next)})`, { where, details: { kind: "client_failed_request", status } });
  }
  return next;
}

/** One agent per scheme and proxy decision, destroyed after the fetch so no socket outlives it. */
class AgentPool {
  private readonly agents = new Map<string, http.Agent>();

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  for(url: URL): http.Agent {
    const choice = proxyForUrl(url, this.env);
    const secure = url.protocol === "https:";
    const key = `${url.protocol} ${choice?.proxy.href ?? "direct"}`;
    let agent = this.agents.get(key);
    if (agent === undefined) {
      const options = { keepAlive: false };
      if (choice === undefined) agent = secure ? new https.Agent(options) : new http.Agent(options);
      else agent = secure ? new HttpsProxyAgent({ ...options, proxy: choice.proxy }) : new HttpProxyAgent({ ...options, proxy: choice.proxy });
      this.agents.set(key, agent);
    }
    return agent;
  }

  destroy(): void {
    for (const agent of this.agents.values()) agent.destroy();
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

function requestError(e: unknown, where: string, opts: FetchOptions): AgentError {
  if (isAgentError(e)) return e;
  if (e instanceof HttpRequestError && e.code === "ETOOLARGE") return tooLarge(where, opts.maxBodyBytes, "the body kept coming");
  if (e instanceof HttpRequestError && e.code === "ETIMEDOUT") {
    const total = e.phase === "request";
    return new AgentError("GRAPH_TIMEOUT", total ? `no complete answer within ${opts.timeoutMs} ms` : `could not connect within ${opts.connectTimeoutMs} ms`, {
      where,
      hint: "the update server or the network is slow or down; the agent retries on its next check",
      details: { phase: e.phase },
      cause: e,
    });
  }
  if ((e instanceof HttpRequestError && e.code === "ABORT_ERR") || opts.signal?.aborted) {
    return new AgentError("GRAPH_NETWORK", "the request was cancelled", { where, details: { cancelled: true }, cause: e });
  }
  const code = errnoCode(e);
  const message = e instanceof Error ? e.message : String(e);
  const proxy = safeProxy(where, opts.env ?? process.env);
  const tls = /CERT|SSL|TLS|SELF_SIGNED/i.test(code ?? "");
  return new AgentError("GRAPH_NETWORK", `cannot reach the update server${proxy ? ` through the proxy ${proxy}` : ""}: ${message}`, {
    where,
    hint: tls
      ? "the server's TLS certificate is not trusted: install its CA in the system trust store or configure a CA file"
      : "check the network, DNS and proxy settings; the agent retries on its next check",
    details: code === undefined ? undefined : { errno: code },
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
