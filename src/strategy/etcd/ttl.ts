/**
 * Optional holder expiry (`updates.etcd_lock.ttl_secs` > 0; off by default).
 *
 * Off by default on purpose: a node that takes a slot and never comes back is most often a node
 * the new release broke, and keeping its slot halts the rollout instead of spreading the bad
 * release to the next node. Turn it on where nodes disappear for ordinary reasons (autoscaled,
 * preemptible machines).
 *
 * Design. Airlock's value has no room for expiry and Airlock rewrites it with only its two fields,
 * so expiry lives next to it, in two keys per holder that opted in:
 * - `holders/<id>`, attached to a lease of `ttl_secs`, granted when the slot is taken and renewed
 *   by every later acquire call: it vanishes when the holder has not been heard of for ttl_secs;
 * - `ttl-holders/<id>`, an unleased marker saying "this holder opted into expiry".
 * A holder with a marker and no lease key has expired: an agent that finds the group full (and has
 * ttl_secs set itself) removes it from `holders` in one txn that also checks the lease key is still
 * absent. Holders without a marker (Airlock/Zincati nodes, agents without ttl_secs) never expire;
 * Airlock itself does not know these keys at all.
 */
import type { EtcdGateway } from "./gateway.js";
import { withoutHolder } from "./semaphore.js";
import { casSemaphore, type SemaphoreState } from "./store.js";
import { deleteOp, idsUnder, prefixOp, putOp, versionIs, type GroupKeys, type Op } from "./wire.js";

export function holderLeaseKey(keys: GroupKeys, id: string): string {
  return `${keys.holderLeasesPrefix}${id}`;
}

export function ttlMarkerKey(keys: GroupKeys, id: string): string {
  return `${keys.ttlMarkersPrefix}${id}`;
}

/** Ops that make `id`'s slot expire `ttlSecs` after `leaseId` was granted (or last renewed). */
export function expiringHolderOps(keys: GroupKeys, id: string, leaseId: string, ttlSecs: number, now: Date): Op[] {
  const marker = JSON.stringify({ lease: leaseId, ttl_secs: ttlSecs, since: now.toISOString() });
  return [putOp(ttlMarkerKey(keys, id), marker), putOp(holderLeaseKey(keys, id), "", leaseId)];
}

/** Ops that drop `id`'s expiry keys (on release; deleting absent keys is harmless). */
export function dropExpiryOps(keys: GroupKeys, id: string): Op[] {
  return [deleteOp(ttlMarkerKey(keys, id)), deleteOp(holderLeaseKey(keys, id))];
}

/** Pure: holders with a marker but no live lease key. */
export function expiredHolders(holders: readonly string[], markers: ReadonlySet<string>, live: ReadonlySet<string>): string[] {
  return holders.filter((h) => markers.has(h) && !live.has(h));
}

/** The lease ID recorded in `id`'s marker, if it has one. */
export async function recordedLease(gateway: EtcdGateway, keys: GroupKeys, id: string, signal?: AbortSignal): Promise<string | undefined> {
  const range = await gateway.range(ttlMarkerKey(keys, id), signal);
  const value = range.kvs[0]?.value;
  if (!value) return undefined;
  try {
    const lease = (JSON.parse(value) as { lease?: unknown }).lease;
    return typeof lease === "string" ? lease : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Removes expired holders from a full semaphore. Resolves to the state after eviction (or the
 * state as found, when nothing expired or the eviction lost a race), plus who was evicted.
 */
export async function evictExpiredHolders(
  gateway: EtcdGateway,
  keys: GroupKeys,
  state: SemaphoreState,
  signal?: AbortSignal,
): Promise<{ state: SemaphoreState | undefined; evicted: string[] }> {
  const result = await gateway.txn([], [prefixOp(keys.ttlMarkersPrefix, { keysOnly: true }), prefixOp(keys.holderLeasesPrefix, { keysOnly: true })], [], signal);
  const [markers, leases] = result.ranges;
  const expired = expiredHolders(state.semaphore.holders, new Set(idsUnder(markers?.kvs, keys.ttlMarkersPrefix)), new Set(idsUnder(leases?.kvs, keys.holderLeasesPrefix)));
  if (expired.length === 0) return { state, evicted: [] };
  const next = expired.reduce(withoutHolder, state.semaphore);
  // Still expired at write time: a holder that renewed in between re-created its lease key.
  const stillGone = expired.map((id) => versionIs(holderLeaseKey(keys, id), 0));
  const cas = await casSemaphore(gateway, keys, state.kv, next, { compare: stillGone, success: expired.map((id) => deleteOp(ttlMarkerKey(keys, id))) }, signal);
  return cas.ok ? { state: cas.state, evicted: expired } : { state: cas.current, evicted: [] };
}
