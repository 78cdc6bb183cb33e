/**
 * What `agentctl lock` does to the etcd semaphore on an admin's behalf (like locksmithctl): show it,
 * free a slot for a node that will not come back, change the number of slots. Every write is a
 * compare-and-swap on what was just read; a failed read is reported, never written over.
 */
import { AgentError } from "../../errors.js";
import type { EtcdGateway } from "./gateway.js";
import { freshSemaphore, type Semaphore } from "./semaphore.js";
import { casSemaphore, readSemaphore, semaphoreWhere, stateFromKv, type SemaphoreState } from "./store.js";
import { systemClock } from "../../host/clock.js";
import { releaseSlot, type ReleaseResult } from "./release.js";
import { getOp, idsUnder, prefixOp, type GroupKeys } from "./wire.js";

export interface LockStatus {
  key: string;
  endpoint: string;
  /** False when no agent or Airlock has created the semaphore yet. */
  exists: boolean;
  totalSlots: number | undefined;
  holders: string[];
  /** Nodes waiting in line, first come first. */
  waiters: { id: string; since: string | undefined }[];
  /** Holders whose slot expires (ttl_secs), and whether their lease is still alive. */
  expiring: { id: string; alive: boolean }[];
}

export async function readLockStatus(gateway: EtcdGateway, keys: GroupKeys): Promise<LockStatus> {
  const result = await gateway.txn([], [
    getOp(keys.semaphore),
    prefixOp(keys.waitersPrefix),
    prefixOp(keys.ttlMarkersPrefix, { keysOnly: true }),
    prefixOp(keys.holderLeasesPrefix, { keysOnly: true }),
  ]);
  const [semaphoreRange, waiterRange, markerRange, leaseRange] = result.ranges;
  const kv = semaphoreRange?.kvs[0];
  const semaphore = stateFromKv(kv, semaphoreWhere(gateway, keys))?.semaphore;
  const live = new Set(idsUnder(leaseRange?.kvs, keys.holderLeasesPrefix));
  const waiters = [...(waiterRange?.kvs ?? [])]
    .sort((a, b) => a.createRevision - b.createRevision)
    .map((w) => ({ id: w.key.slice(keys.waitersPrefix.length), since: sinceOf(w.value) }));
  return {
    key: keys.semaphore,
    endpoint: gateway.endpoint,
    exists: semaphore !== undefined,
    totalSlots: semaphore?.totalSlots,
    holders: semaphore?.holders ?? [],
    waiters,
    expiring: idsUnder(markerRange?.kvs, keys.ttlMarkersPrefix)
      .filter((id) => semaphore?.holders.includes(id))
      .map((id) => ({ id, alive: live.has(id) })),
  };
}

function sinceOf(value: string): string | undefined {
  try {
    const since = (JSON.parse(value) as { since?: unknown }).since;
    return typeof since === "string" ? since : undefined;
  } catch {
    return undefined;
  }
}

/** Lost races an admin command tolerates before giving up (the fleet is busy writing). */
const ADMIN_ATTEMPTS = 10;

async function rewrite(
  gateway: EtcdGateway,
  keys: GroupKeys,
  change: (current: SemaphoreState | undefined) => Semaphore | undefined,
  extra: Parameters<typeof casSemaphore>[4] = {},
  first?: { state: SemaphoreState | undefined },
): Promise<{ before: SemaphoreState | undefined; after: Semaphore | undefined }> {
  let current = first ? first.state : await readSemaphore(gateway, keys);
  for (let attempt = 0; attempt < ADMIN_ATTEMPTS; attempt++) {
    const next = change(current);
    if (!next) return { before: current, after: current?.semaphore };
    const result = await casSemaphore(gateway, keys, current?.kv, next, extra);
    if (result.ok) return { before: current, after: next };
    current = result.current;
  }
  throw new AgentError("ETCD_CONFLICT", `the semaphore kept changing under us (${ADMIN_ATTEMPTS} attempts)`, {
    where: semaphoreWhere(gateway, keys),
    hint: "try again in a moment",
  });
}

/**
 * Frees `id`'s slot (and its expiry keys), handing it to the first waiter as a release by the node
 * itself would. Releasing a node that holds nothing changes nothing.
 */
export async function releaseHolder(gateway: EtcdGateway, keys: GroupKeys, id: string): Promise<ReleaseResult> {
  return releaseSlot(gateway, keys, id, { clock: systemClock, rand: Math.random });
}

/**
 * Sets total_slots, keeping the holders; creates the semaphore if there is none. Lowering it
 * below the number of holders takes no slot away: new acquisitions wait until enough are released.
 * With `repair`, an unreadable value is replaced by an empty one (its holders are lost).
 */
export async function setSlots(
  gateway: EtcdGateway,
  keys: GroupKeys,
  totalSlots: number,
  options: { repair?: boolean } = {},
): Promise<{ previous: number | undefined; holders: string[] }> {
  if (!Number.isInteger(totalSlots) || totalSlots < 0) {
    throw new AgentError("USAGE", `the number of slots must be a whole number ≥ 0, not ${totalSlots}`);
  }
  let first: { state: SemaphoreState | undefined } | undefined;
  let unreadable: SemaphoreState | undefined;
  if (options.repair) {
    try {
      first = { state: await readSemaphore(gateway, keys) };
    } catch (e) {
      if (!(e instanceof AgentError && e.code === "LOCK_PROTOCOL")) throw e;
      // Overwrite what is there, guarded by its version like any other write.
      const raw = (await gateway.range(keys.semaphore)).kvs[0];
      unreadable = raw ? { semaphore: freshSemaphore(totalSlots), kv: raw } : undefined;
      first = { state: unreadable };
    }
  }
  const { before } = await rewrite(
    gateway,
    keys,
    (current) =>
      current !== unreadable && current?.semaphore.totalSlots === totalSlots
        ? undefined
        : { totalSlots, holders: current === unreadable ? [] : (current?.semaphore.holders ?? []) },
    {},
    first,
  );
  if (before !== undefined && before === unreadable) return { previous: undefined, holders: [] };
  return { previous: before?.semaphore.totalSlots, holders: before?.semaphore.holders ?? [] };
}
