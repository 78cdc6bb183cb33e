/**
 * A small etcd v3 client over the JSON gateway: endpoint failover (a dead endpoint → the next one,
 * and the one that answered is remembered), optional user/password auth (the token goes raw in
 * `Authorization`, and an expired token is renewed once per call), and one observation per request.
 */
import { AgentError } from "../../errors.js";
import { noLog, noObserve, type LockObservability } from "../lock/index.js";
import type { TlsMaterial } from "../../host/http.js";
import { nodeEtcdTransport, type EtcdTransport } from "./transport.js";
import {
  encode,
  gatewayErrorMessage,
  parseRange,
  parseTxn,
  parseWatchLine,
  type Compare,
  type Op,
  type RangeResult,
  type TxnResult,
  type WatchMessage,
} from "./wire.js";

export interface EtcdClientOptions extends LockObservability {
  /** `http(s)://host:port` client URLs, tried in order. */
  endpoints: string[];
  /** Per request, and for a watch to open. */
  timeoutMs: number;
  /** `ca`: the bundle that signed the etcd server certificates; `cert` and `key`: for etcd's `--client-cert-auth`. */
  tls?: TlsMaterial | undefined;
  auth?: { username: string; password: string } | undefined;
  transport?: EtcdTransport | undefined;
}

type Failure = { transient: boolean; error: AgentError; reauth?: boolean };

/** Messages etcd gives for a token it no longer knows or never got (401, or 400 on KV calls). */
const TOKEN_PROBLEM = /invalid auth token|user name is empty|auth token is expired/i;
/** Server-side conditions that another member (or a moment later) may not have. */
const TRANSIENT_MESSAGE = /leader changed|no leader|request timed out|too many requests|not capable|server is stopping|timeout/i;

export class EtcdGateway {
  private readonly endpoints: string[];
  private readonly transport: EtcdTransport;
  private readonly log;
  private readonly observe;
  private current = 0;
  private token: string | undefined;

  constructor(private readonly options: EtcdClientOptions) {
    if (options.endpoints.length === 0) {
      throw new AgentError("CONFIG_INVALID", "no etcd endpoints", { where: "updates.etcd_lock.endpoints", hint: "list at least one http(s)://host:2379" });
    }
    // `http://etcd:2379/` and `http://etcd:2379` are the same endpoint; paths are appended to it.
    this.endpoints = options.endpoints.map((e) => e.replace(/\/+$/, ""));
    this.transport = options.transport ?? nodeEtcdTransport(options.tls);
    this.log = options.log ?? noLog;
    this.observe = options.observe ?? noObserve;
  }

  /** The endpoint that answered last (the first one before any call). */
  get endpoint(): string {
    return this.endpoints[this.current]!;
  }

  describe(): string {
    return this.endpoints.join(",");
  }

  range(key: string, signal?: AbortSignal): Promise<RangeResult> {
    return this.call("/v3/kv/range", { key: encode(key) }, signal).then(parseRange);
  }

  async txn(compare: Compare[], success: Op[], failure: Op[] = [], signal?: AbortSignal): Promise<TxnResult> {
    const result = parseTxn(await this.call("/v3/kv/txn", { compare, success, failure }, signal));
    this.observe("etcd", result.succeeded || compare.length === 0 ? "ok" : "conflict");
    return result;
  }

  /** A new lease; its ID stays a string (it does not fit in a double). */
  async leaseGrant(ttlSecs: number, signal?: AbortSignal): Promise<string> {
    const body = (await this.call("/v3/lease/grant", { TTL: ttlSecs }, signal)) as { ID?: unknown };
    if (typeof body.ID !== "string" || body.ID === "" || body.ID === "0") {
      throw new AgentError("ETCD_REJECTED", "etcd granted no lease", { where: `${this.endpoint}/v3/lease/grant` });
    }
    return body.ID;
  }

  /** The lease's remaining TTL in seconds after one keepalive; 0 means it is gone. */
  async leaseKeepAlive(id: string, signal?: AbortSignal): Promise<number> {
    const body = (await this.call("/v3/lease/keepalive", { ID: id }, signal)) as { result?: { TTL?: unknown } };
    return Number(body.result?.TTL ?? 0) || 0;
  }

  async leaseRevoke(id: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.call("/v3/lease/revoke", { ID: id }, signal);
    } catch (e) {
      // Already expired or revoked: exactly what we wanted.
      if (!(e instanceof AgentError && /lease not found/.test(e.message))) throw e;
    }
  }

  /**
   * Watches one key from `startRevision` on. Yields the stream's messages until it ends, breaks or
   * `signal` aborts; the caller re-reads and re-watches after a break.
   */
  async *watch(key: string, startRevision: number, signal: AbortSignal): AsyncGenerator<WatchMessage> {
    const body = JSON.stringify({ create_request: { key: encode(key), start_revision: String(startRevision) } });
    const stream = await this.attempt("/v3/watch", async (endpoint) => {
      const opened = await this.transport.stream({ url: `${endpoint}/v3/watch`, body, headers: this.headers(), timeoutMs: this.options.timeoutMs, signal });
      if (opened.status === 200) return { ok: true as const, value: opened };
      let text = "";
      for await (const line of opened.lines) text += line;
      return { ok: false as const, status: opened.status, body: text };
    });
    const where = `${this.endpoint}/v3/watch`;
    try {
      for await (const line of stream.lines) yield parseWatchLine(line, where);
    } catch (e) {
      if (signal.aborted) return;
      throw e instanceof AgentError ? e : new AgentError("ETCD_UNAVAILABLE", `the watch stream broke: ${(e as Error).message}`, { where, cause: e });
    }
  }

  /** POSTs `body` to `path`, failing over across endpoints; resolves to the parsed JSON reply. */
  async call(path: string, body: unknown, signal?: AbortSignal): Promise<unknown> {
    const text = JSON.stringify(body);
    return this.attempt(path, async (endpoint) => {
      const reply = await this.transport.post({ url: `${endpoint}${path}`, body: text, headers: this.headers(), timeoutMs: this.options.timeoutMs, signal });
      if (reply.status !== 200) return { ok: false as const, status: reply.status, body: reply.body };
      try {
        return { ok: true as const, value: JSON.parse(reply.body) as unknown };
      } catch (e) {
        throw new AgentError("ETCD_UNAVAILABLE", "etcd sent a reply that is not JSON", { where: `${endpoint}${path}`, cause: e });
      }
    });
  }

  private headers(): Record<string, string> {
    return { "content-type": "application/json", ...(this.token ? { authorization: this.token } : {}) };
  }

  private async attempt<T>(
    path: string,
    send: (endpoint: string) => Promise<{ ok: true; value: T } | { ok: false; status: number; body: string }>,
  ): Promise<T> {
    const endpoints = this.endpoints;
    let reauthenticated = false;
    let last: AgentError | undefined;
    for (let tried = 0; tried < endpoints.length; tried++) {
      const index = (this.current + tried) % endpoints.length;
      const endpoint = endpoints[index]!;
      const where = `${endpoint}${path}`;
      let failure: Failure;
      try {
        await this.ensureToken(endpoint);
        const reply = await send(endpoint);
        if (reply.ok) {
          if (index !== this.current) this.log("info", "etcd: now using another endpoint", { endpoint, previous: endpoints[this.current] });
          this.current = index;
          if (path !== "/v3/kv/txn") this.observe("etcd", "ok");
          return reply.value;
        }
        failure = this.classify(reply.status, reply.body, where);
      } catch (e) {
        failure = e instanceof AgentError
          ? { transient: e.code === "ETCD_UNAVAILABLE", error: e }
          : { transient: true, error: new AgentError("ETCD_UNAVAILABLE", `etcd is unreachable: ${(e as Error).message}`, { where, cause: e, hint: "check that etcd is running and updates.etcd_lock.endpoints" }) };
      }
      this.observe("etcd", failure.error.code === "ETCD_AUTH" ? "auth" : failure.transient ? "unavailable" : "rejected");
      if (failure.reauth && this.options.auth && !reauthenticated) {
        reauthenticated = true;
        this.token = undefined;
        tried--; // same endpoint again, with a fresh token
        continue;
      }
      if (!failure.transient) throw failure.error;
      this.log("debug", `etcd: ${failure.error.describe()}`, { endpoint });
      last = failure.error;
    }
    throw new AgentError("ETCD_UNAVAILABLE", `no etcd endpoint answered (${last?.message ?? "unknown error"})`, {
      where: endpoints.join(","),
      hint: "check that etcd is running and reachable, and updates.etcd_lock.endpoints",
      cause: last,
    });
  }

  private classify(status: number, body: string, where: string): Failure {
    const message = gatewayErrorMessage(body);
    const details = { status, message };
    if (status === 401 || TOKEN_PROBLEM.test(message)) {
      return {
        transient: false,
        reauth: true,
        error: new AgentError("ETCD_AUTH", `etcd refused the request: ${message}`, {
          where,
          details,
          hint: this.options.auth ? "check updates.etcd_lock.username and password_file" : "etcd has auth enabled: set updates.etcd_lock.username and password_file",
        }),
      };
    }
    if (status === 403) {
      return {
        transient: false,
        error: new AgentError("ETCD_AUTH", `etcd refused the request: ${message}`, {
          where,
          details,
          hint: this.options.auth
            ? "grant the etcd user READWRITE on the key prefix (updates.etcd_lock.key_prefix)"
            : "etcd has auth enabled: set updates.etcd_lock.username and password_file for a user with READWRITE on the key prefix",
        }),
      };
    }
    if (status >= 500 || status === 429 || status === 408 || TRANSIENT_MESSAGE.test(message)) {
      return { transient: true, error: new AgentError("ETCD_UNAVAILABLE", `etcd could not serve the request: ${message}`, { where, details }) };
    }
    return { transient: false, error: new AgentError("ETCD_REJECTED", `etcd rejected the request: ${message}`, { where, details }) };
  }

  private async ensureToken(endpoint: string): Promise<void> {
    const auth = this.options.auth;
    if (!auth || this.token !== undefined) return;
    const where = `${endpoint}/v3/auth/authenticate`;
    const reply = await this.transport.post({
      url: where,
      body: JSON.stringify({ name: auth.username, password: auth.password }),
      headers: { "content-type": "application/json" },
      timeoutMs: this.options.timeoutMs,
    });
    const message = reply.status === 200 ? "" : gatewayErrorMessage(reply.body);
    if (reply.status === 200) {
      this.token = String((JSON.parse(reply.body) as { token?: unknown }).token ?? "");
    } else if (/authentication is not enabled/.test(message)) {
      this.token = ""; // credentials configured but etcd does not check them: carry on without
    } else if (reply.status >= 500) {
      throw new AgentError("ETCD_UNAVAILABLE", `etcd could not authenticate: ${message}`, { where });
    } else {
      throw new AgentError("ETCD_AUTH", `etcd authentication as "${auth.username}" failed: ${message}`, {
        where,
        hint: "check updates.etcd_lock.username and the password in password_file",
      });
    }
  }
}
