/**
 * The FleetLock wire protocol as pure functions: where to POST, what to send, and what a reply
 * means. Servers differ (Airlock answers a full group with 500 `failed_lock`, poseidon/fleetlock
 * with 423 `lock_held`), so the reply classification is where those differences are absorbed.
 */
export type FleetLockApi = "pre-reboot" | "steady-state";

export const FLEETLOCK_HEADERS: Readonly<Record<string, string>> = {
  "fleet-lock-protocol": "true",
  "content-type": "application/json",
  accept: "application/json",
};

/**
 * `<base>/v1/<api>`. The base is treated as a directory whether or not it ends in `/`: plain
 * relative resolution (Zincati's, and `new URL(path, base)`) would silently drop the last path
 * segment of `https://host/fleetlock`, which sends every request to the wrong place.
 */
export function fleetLockUrl(baseUrl: string, api: FleetLockApi): string {
  const base = new URL(baseUrl);
  if (!base.pathname.endsWith("/")) base.pathname += "/";
  base.search = "";
  base.hash = "";
  return new URL(`v1/${api}`, base).toString();
}

/** Zincati's request body, field order id then group (servers see the same bytes, modulo whitespace). */
export function fleetLockBody(id: string, group: string): string {
  return JSON.stringify({ client_params: { id, group } });
}

/** A server's `{kind, value}` error body, if the reply has one (whatever its Content-Type). */
export function parseFleetLockError(body: string): { kind: string; value: string } | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed && typeof parsed === "object") {
      const { kind, value } = parsed as Record<string, unknown>;
      if (typeof kind === "string" && kind !== "") return { kind, value: typeof value === "string" ? value : "" };
    }
  } catch {
    // not JSON: the caller falls back to the generic kind
  }
  return undefined;
}

export type FleetLockReply =
  | { kind: "ok"; status: number }
  /** The group is full (or, on steady-state, someone else holds poseidon's single lease). */
  | { kind: "busy"; status: number; serverKind: string; reason: string; holders?: string[]; slots?: number }
  /** Not granted now, but worth retrying soon: a server-side write conflict, a 5xx, a 429. */
  | { kind: "retry"; status: number; serverKind: string; reason: string }
  /** Will not get better by retrying (bad group, bad identity, wrong URL). */
  | { kind: "fail"; status: number; serverKind: string; reason: string };

const GENERIC_VALUE = "(unknown/generic server error)";

/** What an HTTP reply to a FleetLock call means. Any 2xx is success, as in Zincati. */
export function classifyFleetLockReply(status: number, body: string): FleetLockReply {
  if (status >= 200 && status < 300) return { kind: "ok", status };
  const error = parseFleetLockError(body);
  const serverKind = error?.kind ?? `generic_http_${status}`;
  const reason = error?.value || GENERIC_VALUE;

  // poseidon/fleetlock: "reboot lease lock unavailable, held by <id>" (the id may be empty on a write conflict).
  if (status === 423) {
    const holder = /held by (\S+)/.exec(reason)?.[1];
    return { kind: "busy", status, serverKind, reason, ...(holder ? { holders: [holder] } : {}) };
  }
  if (error && /semaphore_full/.test(error.kind)) return { kind: "busy", status, serverKind, reason };
  // Airlock uses 500 failed_lock both for "all N semaphore slots currently locked" and for a
  // lost compare-and-swap in etcd ("conflict on semaphore detected, aborting"): only the text differs.
  if (error?.kind === "failed_lock") {
    if (/conflict/i.test(reason)) return { kind: "retry", status, serverKind, reason };
    const slots = /all (\d+) semaphore slots/.exec(reason)?.[1];
    return { kind: "busy", status, serverKind, reason, ...(slots !== undefined ? { slots: Number(slots) } : {}) };
  }
  if (status >= 500 || status === 429 || status === 408) return { kind: "retry", status, serverKind, reason };
  return { kind: "fail", status, serverKind, reason };
}

/** What the admin can do about a reply that will not get better by retrying. */
export function fleetLockHint(reply: { status: number; serverKind: string }, group: string): string {
  if (reply.serverKind === "unknown_group") {
    return `the server has no group "${group}": add it on the server (Airlock: [[lock.groups]]) or set identity.group`;
  }
  if (reply.status === 404 || reply.status === 405) {
    return "check updates.fleet_lock.base_url: it must point at the FleetLock server's base, the one that serves v1/pre-reboot";
  }
  if (reply.status >= 300 && reply.status < 400) {
    return "the server redirected: FleetLock requests are never redirected; set updates.fleet_lock.base_url to the final URL";
  }
  if (reply.status === 400) return "the server rejected this node's identity or group; check identity.group and the server's logs";
  if (reply.status === 401 || reply.status === 403) return "the server refused this client; check its access rules";
  return "check the FleetLock server's logs";
}
