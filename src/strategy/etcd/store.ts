/**
 * Reading and compare-and-swapping Airlock's semaphore key. Every write is a txn guarded by the
 * version (as Airlock does) and mod_revision of the value we decided on, and asks for the current
 * value on failure, so a lost race costs one request and hands us what to decide on next.
 */
import { AgentError } from "../../errors.js";
import type { EtcdGateway } from "./gateway.js";
import { freshSemaphore, parseSemaphore, serializeSemaphore, type Semaphore } from "./semaphore.js";
import { getOp, prefixOp, putOp, unchangedSince, type Compare, type KeyValue, type Op, type RangeResult } from "./wire.js";
import type { GroupKeys } from "./wire.js";

export interface SemaphoreState {
  semaphore: Semaphore;
  /** The key as read; its version and mod_revision guard the next write. */
  kv: KeyValue;
}

export function stateFromKv(kv: KeyValue | undefined, where: string): SemaphoreState | undefined {
  if (!kv || kv.version === 0) return undefined;
  return { semaphore: parseSemaphore(kv.value, where), kv };
}

/** `where` for an error about one key: the key and the endpoint it was read from. */
export function keyWhere(gateway: EtcdGateway, key: string): string {
  return `etcd key ${key} (${gateway.endpoint})`;
}

export function semaphoreWhere(gateway: EtcdGateway, keys: GroupKeys): string {
  return keyWhere(gateway, keys.semaphore);
}

/** The semaphore as it is now, or undefined when nobody created it yet. Never writes. */
export async function readSemaphore(gateway: EtcdGateway, keys: GroupKeys, signal?: AbortSignal): Promise<SemaphoreState | undefined> {
  const range = await gateway.range(keys.semaphore, signal);
  return stateFromKv(range.kvs[0], semaphoreWhere(gateway, keys));
}

export interface GroupSnapshot {
  state: SemaphoreState | undefined;
  /** Waiters in line: id → create_revision of their key. */
  waiters: Map<string, number>;
  revision: number;
}

/** The semaphore and the waiting line at one revision (one read-only txn). */
export async function readGroup(gateway: EtcdGateway, keys: GroupKeys, signal?: AbortSignal): Promise<GroupSnapshot> {
  const waiters = prefixOp(keys.waitersPrefix, { keysOnly: true });
  const result = await gateway.txn([], [getOp(keys.semaphore), waiters], [], signal);
  const [semaphoreRange, waiterRange] = result.ranges;
  return {
    state: stateFromKv(semaphoreRange?.kvs[0], semaphoreWhere(gateway, keys)),
    waiters: waitersOf(waiterRange, keys),
    revision: result.revision,
  };
}

function waitersOf(range: RangeResult | undefined, keys: GroupKeys): Map<string, number> {
  const waiters = new Map<string, number>();
  for (const kv of range?.kvs ?? []) waiters.set(kv.key.slice(keys.waitersPrefix.length), kv.createRevision);
  return waiters;
}

/**
 * Creates the semaphore with `totalSlots` if it does not exist (Airlock's `ensureInit`: it only ever
 * creates), and returns it as it is after that.
 */
export async function ensureSemaphore(gateway: EtcdGateway, keys: GroupKeys, totalSlots: number, signal?: AbortSignal): Promise<SemaphoreState> {
  const value = serializeSemaphore(freshSemaphore(totalSlots));
  const result = await gateway.txn(unchangedSince(keys.semaphore, undefined), [putOp(keys.semaphore, value)], [getOp(keys.semaphore)], signal);
  if (result.succeeded) {
    return {
      semaphore: freshSemaphore(totalSlots),
      kv: { key: keys.semaphore, value, version: 1, createRevision: result.revision, modRevision: result.revision, lease: "0" },
    };
  }
  const existing = stateFromKv(result.ranges[0]?.kvs[0], semaphoreWhere(gateway, keys));
  // Deleted again between the two steps: only a racing admin does that; creating once more is fine.
  return existing ?? ensureSemaphore(gateway, keys, totalSlots, signal);
}

/** The guard for a write decided on `state` (undefined: the key was missing). */
export function unchangedState(keys: GroupKeys, state: SemaphoreState | undefined): Compare[] {
  return unchangedSince(keys.semaphore, state?.kv);
}

/**
 * Lost compare-and-swap races tolerated in one call. Every lost race means someone else's write went
 * through, so even a burst of holders releasing together gets through well within this.
 */
export const MAX_CONFLICTS = 32;

export function lostTooManyRaces(where: string, hint?: string): AgentError {
  return new AgentError("ETCD_CONFLICT", `lost ${MAX_CONFLICTS} compare-and-swap races on the semaphore in a row`, { where, hint });
}

export type CasResult = { ok: true; state: SemaphoreState } | { ok: false; current: SemaphoreState | undefined };

/**
 * Writes `next` if the key is still as `seen` (undefined: still missing), together with `extra` ops
 * on other keys (waiter, TTL keys) so they change atomically with the slot.
 */
export async function casSemaphore(
  gateway: EtcdGateway,
  keys: GroupKeys,
  seen: KeyValue | undefined,
  next: Semaphore,
  extra: { success?: Op[]; compare?: Compare[] } = {},
  signal?: AbortSignal,
): Promise<CasResult> {
  const value = serializeSemaphore(next);
  const compare = [...unchangedSince(keys.semaphore, seen), ...(extra.compare ?? [])];
  const result = await gateway.txn(compare, [putOp(keys.semaphore, value), ...(extra.success ?? [])], [getOp(keys.semaphore)], signal);
  if (result.succeeded) {
    const kv: KeyValue = {
      key: keys.semaphore,
      value,
      version: (seen?.version ?? 0) + 1,
      createRevision: seen?.createRevision ?? result.revision,
      modRevision: result.revision,
      lease: "0",
    };
    return { ok: true, state: { semaphore: next, kv } };
  }
  return { ok: false, current: stateFromKv(result.ranges[0]?.kvs[0], semaphoreWhere(gateway, keys)) };
}
