/**
 * Airlock's semaphore value and the decisions made on it, as pure functions. The value is exactly
 * Airlock's (`{"total_slots":N,"holders":[...]}`, holders sorted byte-wise) so Zincati+Airlock nodes
 * and update-agent nodes count against the same slots: Airlock binary-searches `holders`, so an
 * unsorted list would make it miss a holder.
 */
import { AgentError } from "../../errors.js";

export interface Semaphore {
  totalSlots: number;
  /** Sorted byte-wise (Go's `sort.Strings`). */
  holders: string[];
}

const ASCII = /^[ -~]*$/; // printable ASCII; anything else takes the byte-wise path

/** Byte-wise order of the UTF-8 encodings, like Go; JS's default order differs beyond ASCII. */
export function compareBytes(a: string, b: string): number {
  // Node ids are hex: for ASCII, UTF-16 order is byte order, and this runs on every watch event.
  if (ASCII.test(a) && ASCII.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function sortedUnique(list: string[]): string[] {
  let inOrder = true;
  for (let i = 1; i < list.length && inOrder; i++) inOrder = compareBytes(list[i - 1]!, list[i]!) < 0;
  return inOrder ? list : [...new Set(list)].sort(compareBytes);
}

export function parseSemaphore(text: string, where: string): Semaphore {
  const broken = (what: string) =>
    new AgentError("LOCK_PROTOCOL", `the reboot semaphore is not Airlock's format: ${what}`, {
      where,
      hint: `expected {"total_slots":N,"holders":[...]}; fix it with \`agentctl lock set-slots N --force\` (which empties the holder list) or etcdctl put`,
      details: { value: text.slice(0, 300) },
    });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw broken("not JSON");
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw broken("not a JSON object");
  const { total_slots: totalSlots, holders } = parsed as Record<string, unknown>;
  if (typeof totalSlots !== "number" || !Number.isInteger(totalSlots) || totalSlots < 0) {
    throw broken("total_slots is not a non-negative integer");
  }
  // Airlock writes [] for a fresh value but Go would also accept null; read both.
  if (holders !== null && holders !== undefined && !Array.isArray(holders)) throw broken("holders is not a list");
  const list = (holders ?? []) as unknown[];
  if (!list.every((h): h is string => typeof h === "string")) throw broken("a holder is not a string");
  return { totalSlots, holders: sortedUnique(list) };
}

/** Compact JSON with Airlock's field order, as Go's encoding/json writes it. */
export function serializeSemaphore(semaphore: Semaphore): string {
  return JSON.stringify({ total_slots: semaphore.totalSlots, holders: semaphore.holders });
}

export function freshSemaphore(totalSlots: number): Semaphore {
  return { totalSlots, holders: [] };
}

export function freeSlots(semaphore: Semaphore): number {
  return Math.max(0, semaphore.totalSlots - semaphore.holders.length);
}

export function withHolder(semaphore: Semaphore, id: string): Semaphore {
  if (semaphore.holders.includes(id)) return semaphore;
  return { ...semaphore, holders: [...semaphore.holders, id].sort(compareBytes) };
}

export function withoutHolder(semaphore: Semaphore, id: string): Semaphore {
  return { ...semaphore, holders: semaphore.holders.filter((h) => h !== id) };
}

export type AcquireDecision =
  | { kind: "held" }
  | { kind: "full"; reason: string }
  | { kind: "take"; next: Semaphore };

/** Airlock's RecursiveLock: already a holder → done; full → refuse; otherwise insert sorted. */
export function decideAcquire(semaphore: Semaphore, id: string): AcquireDecision {
  if (semaphore.holders.includes(id)) return { kind: "held" };
  if (freeSlots(semaphore) === 0) {
    return { kind: "full", reason: `all ${semaphore.totalSlots} semaphore slots currently locked` };
  }
  return { kind: "take", next: withHolder(semaphore, id) };
}

/** The first in line: already handed a slot, a slot to take, or nothing to do but wait. */
export function decideWhileWaiting(semaphore: Semaphore, id: string): "held" | "take" | "wait" {
  if (semaphore.holders.includes(id)) return "held";
  return freeSlots(semaphore) > 0 ? "take" : "wait";
}

export type ReleaseDecision = { kind: "not-held" } | { kind: "release"; next: Semaphore; handedTo: string[] };

/**
 * Fills the free slots of `semaphore` with the first waiters (ids, oldest first), skipping `skip`
 * and stale waiter keys of nodes that already hold a slot.
 */
export function handOver(semaphore: Semaphore, front: readonly string[], skip: string): { next: Semaphore; handedTo: string[] } {
  let next = semaphore;
  const handedTo: string[] = [];
  for (const waiter of front) {
    if (freeSlots(next) === 0) break;
    if (waiter === skip || next.holders.includes(waiter)) continue;
    next = withHolder(next, waiter);
    handedTo.push(waiter);
  }
  return { next, handedTo };
}

/**
 * Releasing hands the freed slot straight to the first waiter(s) in the same write: the slot is
 * never idle, and the waiters do not race each other (or the releasers) for it.
 */
export function decideRelease(semaphore: Semaphore, id: string, front: readonly string[]): ReleaseDecision {
  if (!semaphore.holders.includes(id)) return { kind: "not-held" };
  return { kind: "release", ...handOver(withoutHolder(semaphore, id), front, id) };
}
