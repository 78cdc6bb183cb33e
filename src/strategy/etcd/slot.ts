/**
 * Taking a slot: the one write that adds this node to `holders`, shared by the first attempt and
 * by the waiting line, with the optional expiry keys and the waiter key changed in the same txn.
 */
import type { Clock } from "../../host/clock.js";
import type { LockLogger } from "../lock/index.js";
import type { EtcdGateway } from "./gateway.js";
import { freeSlots, withHolder } from "./semaphore.js";
import { casSemaphore, type CasResult, type SemaphoreState } from "./store.js";
import { dropExpiryOps, evictExpiredHolders, expiringHolderOps } from "./ttl.js";
import { deleteOp, exists, waiterKey, type GroupKeys, type Op } from "./wire.js";

export interface SlotContext {
  gateway: EtcdGateway;
  keys: GroupKeys;
  id: string;
  clock: Clock;
  rand: () => number;
  log: LockLogger;
  /** total_slots for a semaphore this agent creates (Airlock's default_slots). */
  initialSlots: number;
  /** Holder expiry in seconds; 0 = never (the default). */
  ttlSecs: number;
  signal?: AbortSignal | undefined;
}

/** Per acquire call: the expiry lease granted for this attempt, reused across lost races. */
export interface AcquireScratch {
  expiryLease?: string | undefined;
}

/**
 * Adds us to `holders` if the key is still as `state.kv` says, plus `extra` ops in the same txn;
 * `handTo` also puts those waiters in (their keys must still exist, and are deleted).
 */
export async function takeSlot(ctx: SlotContext, scratch: AcquireScratch, state: SemaphoreState, extra: Op[] = [], handTo: string[] = []): Promise<CasResult> {
  let expiry: Op[];
  if (ctx.ttlSecs > 0) {
    scratch.expiryLease ??= await ctx.gateway.leaseGrant(ctx.ttlSecs, ctx.signal);
    expiry = expiringHolderOps(ctx.keys, ctx.id, scratch.expiryLease, ctx.ttlSecs, ctx.clock.now());
  } else {
    expiry = dropExpiryOps(ctx.keys, ctx.id); // an old marker must not make a non-expiring slot expire
  }
  const handedKeys = handTo.map((w) => waiterKey(ctx.keys, w));
  const next = handTo.reduce(withHolder, withHolder(state.semaphore, ctx.id));
  const result = await casSemaphore(
    ctx.gateway,
    ctx.keys,
    state.kv,
    next,
    { success: [...expiry, ...extra, ...handedKeys.map(deleteOp)], compare: handedKeys.map(exists) },
    ctx.signal,
  );
  if (result.ok) {
    scratch.expiryLease = undefined; // now owned by the slot
    ctx.log("info", "etcd: reboot slot acquired", {
      id: ctx.id,
      key: ctx.keys.semaphore,
      holders: result.state.semaphore.holders.length,
      total_slots: result.state.semaphore.totalSlots,
      ...(handTo.length ? { handed_to: handTo } : {}),
    });
  }
  return result;
}

/** When the group is full and we expire holders ourselves, frees the slots of expired holders. */
export async function evictIfFull(ctx: SlotContext, state: SemaphoreState): Promise<SemaphoreState | undefined> {
  if (ctx.ttlSecs <= 0 || freeSlots(state.semaphore) > 0 || state.semaphore.holders.includes(ctx.id)) return state;
  const { state: after, evicted } = await evictExpiredHolders(ctx.gateway, ctx.keys, state, ctx.signal);
  for (const holder of evicted) {
    ctx.log("notice", "etcd: removed a holder whose slot expired", { holder, key: ctx.keys.semaphore, ttl_secs: ctx.ttlSecs });
  }
  return after;
}

/** Gives back an expiry lease that no slot ended up using. */
export async function dropScratch(ctx: SlotContext, scratch: AcquireScratch): Promise<void> {
  const lease = scratch.expiryLease;
  scratch.expiryLease = undefined;
  if (lease) await ctx.gateway.leaseRevoke(lease).catch(() => {}); // it expires on its own anyway
}
