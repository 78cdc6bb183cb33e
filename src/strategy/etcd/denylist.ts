/**
 * A fleet-wide denylist per group, next to the semaphore: when a release fails its health check on
 * one node, that node records it here so the other nodes of the group do not roll it out too.
 * Key `<prefix>/groups/<group>/v1/denylist`, value `{"releases":[{payload, version, reason,
 * node_id, time}]}`, updated by compare-and-swap like the semaphore.
 */
import { AgentError } from "../../errors.js";
import { systemClock, type Clock } from "../../host/clock.js";
import { ETCD_CONFLICT, nextBackoff } from "../lock/backoff.js";
import type { EtcdGateway } from "./gateway.js";
import { keyWhere } from "./store.js";
import { AIRLOCK_KEY_PREFIX, getOp, groupKeys, putOp, unchangedSince, type KeyValue } from "./wire.js";

export interface FleetDenylistEntry {
  /** The release's payload (OCI pullspec or ostree checksum): what identifies it. */
  payload: string;
  version: string;
  /** Why it was denied (the failed health check), for the admin. */
  reason: string;
  /** The node that found the problem. */
  node_id: string;
  /** RFC 3339. */
  time: string;
}

/** Entries kept; the oldest go first, so the value stays small whatever happens. */
export const MAX_DENYLIST_ENTRIES = 256;
const MAX_ATTEMPTS = 10;

export function parseDenylist(text: string, where: string): FleetDenylistEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new AgentError("LOCK_PROTOCOL", "the fleet denylist is not JSON", { where, hint: "fix or delete the key with etcdctl" });
  }
  const releases = (parsed as { releases?: unknown } | null)?.releases;
  if (!Array.isArray(releases)) {
    throw new AgentError("LOCK_PROTOCOL", 'the fleet denylist has no "releases" list', { where, hint: "fix or delete the key with etcdctl" });
  }
  // Skip malformed entries rather than fail: one bad entry must not hide the others.
  return releases.flatMap((r: unknown) => {
    const e = (r ?? {}) as Record<string, unknown>;
    if (typeof e.payload !== "string" || e.payload === "") return [];
    const text = (v: unknown) => (typeof v === "string" ? v : "");
    return [{ payload: e.payload, version: text(e.version), reason: text(e.reason), node_id: text(e.node_id), time: text(e.time) }];
  });
}

/** Pure: the list with `entry` added, unless its payload is already there. */
export function withEntry(entries: readonly FleetDenylistEntry[], entry: FleetDenylistEntry): FleetDenylistEntry[] | undefined {
  if (entries.some((e) => e.payload === entry.payload)) return undefined;
  return [...entries, entry].slice(-MAX_DENYLIST_ENTRIES);
}

export interface FleetDenylist {
  /** Adds a release (once per payload). Resolves to false when it was already listed. */
  recordFleetDenylist(entry: FleetDenylistEntry): Promise<boolean>;
  readFleetDenylist(): Promise<FleetDenylistEntry[]>;
}

export interface FleetDenylistOptions {
  gateway: EtcdGateway;
  group: string;
  keyPrefix?: string | undefined;
  clock?: Clock | undefined;
  rand?: (() => number) | undefined;
}

export function createFleetDenylist(options: FleetDenylistOptions): FleetDenylist {
  const key = groupKeys(options.keyPrefix ?? AIRLOCK_KEY_PREFIX, options.group).denylist;
  const clock = options.clock ?? systemClock;
  const rand = options.rand ?? Math.random;
  const where = () => keyWhere(options.gateway, key);
  const entriesOf = (kv: KeyValue | undefined) => (kv && kv.version > 0 ? parseDenylist(kv.value, where()) : []);

  return {
    async readFleetDenylist() {
      return entriesOf((await options.gateway.range(key)).kvs[0]);
    },
    async recordFleetDenylist(entry) {
      let kv = (await options.gateway.range(key)).kvs[0];
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const next = withEntry(entriesOf(kv), entry);
        if (!next) return false;
        const seen = kv && kv.version > 0 ? kv : undefined;
        const result = await options.gateway.txn(unchangedSince(key, seen), [putOp(key, JSON.stringify({ releases: next }))], [getOp(key)]);
        if (result.succeeded) return true;
        kv = result.ranges[0]?.kvs[0];
        await clock.sleep(nextBackoff(attempt, rand, ETCD_CONFLICT));
      }
      throw new AgentError("ETCD_CONFLICT", `the fleet denylist kept changing under us (${MAX_ATTEMPTS} attempts)`, { where: where() });
    },
  };
}
