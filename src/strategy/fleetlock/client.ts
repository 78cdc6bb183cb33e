/**
 * `strategy = "fleet_lock"`: a reboot slot from a FleetLock server (Airlock, poseidon/fleetlock, ...).
 * The client keeps no lock state, as the protocol asks: the server's answer is the truth, so a
 * restart at any point is harmless.
 */
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { AgentError } from "../../errors.js";
import { systemClock, type Clock } from "../../host/clock.js";
import { exchange, HttpRequestError } from "../../host/http.js";
import { FLEETLOCK_BUSY_POLL, FLEETLOCK_RETRY, nextBackoff } from "../lock/backoff.js";
import {
  noLog,
  noObserve,
  remainingMs,
  type LockObservability,
  type LockOutcome,
  type LockWaitOptions,
  type RebootLock,
} from "../lock/index.js";
import {
  classifyFleetLockReply,
  fleetLockBody,
  fleetLockHint,
  fleetLockUrl,
  FLEETLOCK_HEADERS,
  type FleetLockApi,
  type FleetLockReply,
} from "./protocol.js";

/** One POST; rejects only when no HTTP reply came back (refused, DNS, TLS, timeout). */
export interface FleetLockHttp {
  post(request: {
    url: string;
    body: string;
    headers: Record<string, string>;
    timeoutMs: number;
    signal?: AbortSignal | undefined;
  }): Promise<{ status: number; body: string }>;
}

export interface FleetLockOptions extends LockObservability {
  /** `updates.fleet_lock.base_url`, already templated; with or without a trailing `/`. */
  baseUrl: string;
  /** This node's id (the node UUID, as Zincati sends). */
  id: string;
  group: string;
  /** Per request (`updates.fleet_lock.timeout_secs`). */
  timeoutMs: number;
  /** A PEM CA bundle to trust for an https base URL, in addition to the system's. */
  caFile?: string | undefined;
  /** Transient failures retried within one call when not waiting (default 3). */
  maxAttempts?: number | undefined;
  http?: FleetLockHttp | undefined;
  clock?: Clock | undefined;
  rand?: (() => number) | undefined;
}

const MAX_LOGGED_BODY_CHARS = 512;

/** FleetLock replies are a short JSON object; anything this big is not one. */
const MAX_REPLY_BYTES = 64 * 1024;

/**
 * The real HTTP adapter: no redirects (the protocol header exists to refuse them), no retries of its own.
 * A CA bundle is trusted in addition to the system roots (a `ca` alone would replace them), as for the graph.
 */
function nodeFleetLockHttp(ca?: string): FleetLockHttp {
  const tls = ca === undefined ? undefined : { ca: [...rootCertificates, ca] };
  return {
    post: ({ url, body, headers, timeoutMs, signal }) =>
      exchange(
        { url: new URL(url), method: "POST", headers: { "user-agent": "update-agent", ...headers }, body, timeoutMs, tls, signal },
        MAX_REPLY_BYTES,
      ),
  };
}

function readCa(caFile: string): string {
  try {
    return readFileSync(caFile, "utf8");
  } catch (e) {
    throw new AgentError("CONFIG_UNREADABLE", `cannot read the FleetLock CA bundle: ${(e as Error).message}`, {
      where: caFile,
      hint: "fix updates.fleet_lock.ca_file or remove it to use the system trust store",
      cause: e,
    });
  }
}

type Attempt = FleetLockReply | { kind: "network"; serverKind: string; reason: string };

export function createFleetLock(options: FleetLockOptions): RebootLock {
  const clock = options.clock ?? systemClock;
  const rand = options.rand ?? Math.random;
  const log = options.log ?? noLog;
  const observe = options.observe ?? noObserve;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 3);
  const http = options.http ?? nodeFleetLockHttp(options.caFile ? readCa(options.caFile) : undefined);
  const urls = { "pre-reboot": fleetLockUrl(options.baseUrl, "pre-reboot"), "steady-state": fleetLockUrl(options.baseUrl, "steady-state") };
  const body = fleetLockBody(options.id, options.group);
  const fields = { id: options.id, group: options.group };

  async function send(api: FleetLockApi, signal?: AbortSignal): Promise<Attempt> {
    const url = urls[api];
    try {
      const reply = await http.post({ url, body, headers: { ...FLEETLOCK_HEADERS }, timeoutMs: options.timeoutMs, signal });
      const classified = classifyFleetLockReply(reply.status, reply.body);
      observe(api, classified.kind === "ok" ? "ok" : classified.serverKind);
      if (classified.kind !== "ok") {
        log("debug", `FleetLock ${api} reply body`, { ...fields, url, status: reply.status, body: reply.body.slice(0, MAX_LOGGED_BODY_CHARS) });
      }
      return classified;
    } catch (e) {
      const timedOut = e instanceof HttpRequestError && e.code === "ETIMEDOUT";
      const serverKind = timedOut ? "client_timeout" : "client_failed_request";
      observe(api, serverKind);
      return { kind: "network", serverKind, reason: (e as Error).message };
    }
  }

  function toError(api: FleetLockApi, attempt: Exclude<Attempt, { kind: "ok" | "busy" }>): AgentError {
    const url = urls[api];
    if (attempt.kind === "network") {
      return new AgentError("LOCK_HTTP", `FleetLock ${api} request failed: ${attempt.reason}`, {
        where: url,
        hint: "check that the FleetLock server is up and reachable, and updates.fleet_lock.base_url",
        details: { kind: attempt.serverKind },
      });
    }
    const protocolBroken = attempt.status >= 300 && attempt.status < 400;
    return new AgentError(protocolBroken ? "LOCK_PROTOCOL" : "LOCK_HTTP", `FleetLock ${api} failed, code ${attempt.status}: ${attempt.reason}`, {
      where: url,
      hint: attempt.kind === "fail" ? fleetLockHint(attempt, options.group) : "the server reported a transient failure; the agent retries",
      details: { status: attempt.status, kind: attempt.serverKind },
    });
  }

  async function call(api: FleetLockApi, wait: LockWaitOptions = {}): Promise<LockOutcome> {
    const deadline = clock.now().getTime() + Math.max(0, wait.waitMs ?? 0);
    let transientFailures = 0;
    let busyPolls = 0;
    while (true) {
      const attempt = await send(api, wait.signal);
      let outcome: LockOutcome;
      let delayMs: number;
      if (attempt.kind === "ok") {
        log("info", api === "pre-reboot" ? "FleetLock reboot slot acquired" : "FleetLock reboot slot released", { ...fields, url: urls[api] });
        return { kind: api === "pre-reboot" ? "acquired" : "released" };
      } else if (attempt.kind === "busy" && api === "steady-state") {
        // poseidon/fleetlock answers 423 when someone else holds its single lease: we hold nothing.
        log("info", "FleetLock steady-state: this node holds no slot", { ...fields, reason: attempt.reason });
        return { kind: "released" };
      } else if (attempt.kind === "busy") {
        log("info", `FleetLock reboot slot busy: ${attempt.reason}`, { ...fields, status: attempt.status, kind: attempt.serverKind });
        outcome = { kind: "busy", reason: attempt.reason, ...(attempt.holders ? { holders: attempt.holders } : {}), ...(attempt.slots !== undefined ? { slots: attempt.slots } : {}) };
        delayMs = nextBackoff(busyPolls++, rand, FLEETLOCK_BUSY_POLL);
      } else if (attempt.kind === "fail") {
        const error = toError(api, attempt);
        log("error", error.describe(), { ...fields, status: attempt.status, kind: attempt.serverKind });
        return { kind: "error", error };
      } else {
        const error = toError(api, attempt);
        transientFailures++;
        log("warn", error.describe(), { ...fields, kind: attempt.serverKind, attempt: transientFailures });
        outcome = { kind: "error", error };
        delayMs = nextBackoff(transientFailures - 1, rand, FLEETLOCK_RETRY);
      }
      const budget = remainingMs(deadline, clock.now().getTime());
      const quickRetryLeft = outcome.kind === "error" && transientFailures < maxAttempts;
      if ((budget <= 0 && !quickRetryLeft) || wait.signal?.aborted) return outcome;
      try {
        await clock.sleep(budget > 0 ? Math.min(delayMs, budget) : delayMs, wait.signal);
      } catch {
        return outcome; // aborted
      }
    }
  }

  return {
    acquire: (wait) => call("pre-reboot", wait),
    release: (wait) => call("steady-state", wait),
    describe: () => `fleet_lock at ${options.baseUrl} (group ${options.group}, id ${options.id})`,
  };
}
