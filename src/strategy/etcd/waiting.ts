/**
 * Waiting for a slot without hammering etcd. A waiter puts a leased `waiters/<id>` key (its
 * create_revision is its place in line), notes who queued before it, and watches the semaphore
 * key through the gateway's `/v3/watch` stream. Every change arrives as an event carrying the
 * new value, so waiting costs no requests; waiters ahead of us leave the line when they show up
 * as holders; only waiters whose place fits into the free slots try a compare-and-swap. A waiter
 * that dies stops renewing its lease and drops out of line by itself.
 */
import { toAgentError } from "../../errors.js";
import { ETCD_CONFLICT, ETCD_RECONNECT, nextBackoff } from "../lock/backoff.js";
import { remainingMs, type LockOutcome } from "../lock/index.js";
import { advanceQueue, decideWhileWaiting, freeSlots, type Semaphore } from "./semaphore.js";
import { evictIfFull, takeSlot, type AcquireScratch, type SlotContext } from "./slot.js";
import { ensureSemaphore, readGroup, stateFromKv, semaphoreWhere, type SemaphoreState } from "./store.js";
import { deleteOp, getOp, putOp, type GroupKeys, type WatchMessage } from "./wire.js";

export interface LineTuning {
  /** Lease on a waiter's key: how long a dead waiter can hold up the line. */
  waiterLeaseTtlSecs: number;
  /** Delay per place in line before a waiter tries, so several free slots are taken in turn. */
  staggerMs: number;
  /** With slots free but nobody ahead taking them for this long, re-read the line (someone left it). */
  stallRefreshMs: number;
}

export const DEFAULT_LINE_TUNING: LineTuning = { waiterLeaseTtlSecs: 30, staggerMs: 10, stallRefreshMs: 1_000 };

export function waiterKey(keys: GroupKeys, id: string): string {
  return `${keys.waitersPrefix}${id}`;
}

type Wake = { kind: "message"; message: IteratorResult<WatchMessage> } | { kind: "broken"; error: unknown } | { kind: "timer" };
const TIMER: Wake = { kind: "timer" };
/** A fixed abort reason: aborting without one allocates a DOMException each time. */
const REARMED = new Error("timer re-armed");

type SessionEnd = LockOutcome | "reregister" | "resnapshot";

/** Waits in line until this node holds a slot or `deadlineMs` passes (then: busy). */
export async function waitInLine(ctx: SlotContext, scratch: AcquireScratch, deadlineMs: number, tuning: LineTuning): Promise<LockOutcome> {
  const { gateway, keys, id, clock } = ctx;
  const myKey = waiterKey(keys, id);
  let lease: string | undefined;
  let place: number | undefined; // create_revision of our waiter key
  let last: Semaphore | undefined;
  let leftLine = false;
  const now = () => clock.now().getTime();
  const busy = (): LockOutcome => ({
    kind: "busy",
    reason: last ? `all ${last.totalSlots} semaphore slots currently locked` : "waiting for a reboot slot",
    ...(last ? { holders: last.holders, slots: last.totalSlots } : {}),
  });

  async function lineUp(): Promise<void> {
    lease = await gateway.leaseGrant(tuning.waiterLeaseTtlSecs, ctx.signal);
    const value = JSON.stringify({ since: clock.now().toISOString() });
    const result = await gateway.txn([], [putOp(myKey, value, lease), getOp(myKey)], [], ctx.signal);
    place = result.ranges[1]?.kvs[0]?.createRevision;
    ctx.log("info", "etcd: all reboot slots taken; waiting in line", { id, key: keys.semaphore });
  }

  async function session(): Promise<SessionEnd> {
    if (lease === undefined || place === undefined) await lineUp();
    const snapshot = await readGroup(gateway, keys, ctx.signal, place);
    if (!snapshot.waiters.has(id)) return "reregister"; // our lease ran out while etcd was away
    if (!snapshot.state) {
      await ensureSemaphore(gateway, keys, ctx.initialSlots, ctx.signal);
      return "resnapshot";
    }
    let state: SemaphoreState = snapshot.state;
    let ahead: ReadonlySet<string> = advanceQueue(new Set([...snapshot.waiters].filter(([w, rev]) => w !== id && rev < place!).map(([w]) => w)), state.semaphore);
    let lastChange = now();
    let nextKeepalive = now() + (tuning.waiterLeaseTtlSecs * 1000) / 3;
    let attemptAt: number | undefined;
    let conflicts = 0;

    const stop = new AbortController();
    const onAbort = () => stop.abort();
    ctx.signal?.addEventListener("abort", onAbort, { once: true });
    const events = gateway.watch(keys.semaphore, snapshot.revision + 1, stop.signal)[Symbol.asyncIterator]();
    const nextWake = (): Promise<Wake> =>
      events.next().then(
        (message) => ({ kind: "message", message }),
        (error: unknown) => ({ kind: "broken", error }),
      );
    let pending = nextWake();
    let timer: { at: number; cancel: AbortController; fired: Promise<Wake> } = { at: NaN, cancel: new AbortController(), fired: new Promise(() => {}) };
    try {
      while (true) {
        last = state.semaphore;
        const decision = decideWhileWaiting(state.semaphore, ahead, id, tuning.staggerMs);
        if (decision.kind === "held") return { kind: "acquired" };
        if (decision.kind === "attempt") {
          const jitter = conflicts > 0 ? nextBackoff(conflicts - 1, ctx.rand, ETCD_CONFLICT) : 0;
          attemptAt = Math.min(attemptAt ?? Infinity, now() + decision.delayMs + jitter);
          if (attemptAt <= now()) {
            attemptAt = undefined;
            const result = await takeSlot(ctx, scratch, state, [deleteOp(myKey)]);
            if (result.ok) {
              leftLine = true; // the same txn deleted our waiter key
              return { kind: "acquired" };
            }
            if (!result.current) return "resnapshot";
            conflicts++;
            state = result.current;
            ahead = advanceQueue(ahead, state.semaphore);
            lastChange = now();
            continue;
          }
        } else {
          attemptAt = undefined;
        }
        const stalled = decision.kind === "wait" && decision.free > 0 ? lastChange + tuning.stallRefreshMs : Infinity;
        const wakeAt = Math.min(deadlineMs, nextKeepalive, attemptAt ?? Infinity, stalled);
        if (wakeAt !== timer.at) {
          // Re-armed only when the wake-up time moves: events stream in far more often than that.
          timer.cancel.abort(REARMED);
          const cancel = new AbortController();
          timer = { at: wakeAt, cancel, fired: clock.sleep(Math.max(0, wakeAt - now()), cancel.signal).then(() => TIMER, () => TIMER) };
        }
        const wake = await Promise.race([pending, timer.fired]);
        if (wake.kind === "timer") timer = { ...timer, at: NaN };
        if (ctx.signal?.aborted || now() >= deadlineMs) return busy();
        if (wake.kind === "broken") throw wake.error;
        if (wake.kind === "message") {
          pending = nextWake();
          if (wake.message.done) return "resnapshot";
          const message = wake.message.value;
          if (message.kind === "canceled") return "resnapshot"; // compacted past our revision
          if (message.kind === "events") {
            for (const event of message.events) {
              const next = event.type === "PUT" ? stateFromKv(event.kv, semaphoreWhere(gateway, keys)) : undefined;
              if (!next) return "resnapshot"; // deleted by an admin: re-create and start over
              state = next;
            }
            ahead = advanceQueue(ahead, state.semaphore);
            lastChange = now();
          }
        }
        // Timers are checked after events too, so a busy stream cannot starve the keepalive.
        if (now() >= nextKeepalive) {
          nextKeepalive = now() + (tuning.waiterLeaseTtlSecs * 1000) / 3;
          if ((await gateway.leaseKeepAlive(lease!, ctx.signal)) <= 0) return "reregister";
          if (freeSlots(state.semaphore) === 0) {
            const after = await evictIfFull(ctx, state);
            if (!after) return "resnapshot";
            state = after;
          }
        }
        if (now() >= stalled && wake.kind === "timer") {
          // Someone ahead gave up or died without being seen: count the line again.
          const fresh = await readGroup(gateway, keys, ctx.signal, place);
          if (!fresh.waiters.has(id)) return "reregister";
          ahead = advanceQueue(new Set([...fresh.waiters.keys()].filter((w) => w !== id)), state.semaphore);
          lastChange = now();
        }
      }
    } finally {
      ctx.signal?.removeEventListener("abort", onAbort);
      timer.cancel.abort(REARMED);
      stop.abort();
    }
  }

  try {
    for (let failures = 0; ; ) {
      if (ctx.signal?.aborted || remainingMs(deadlineMs, now()) <= 0) return busy();
      try {
        const end = await session();
        if (end === "reregister") {
          lease = undefined;
          place = undefined;
        } else if (end !== "resnapshot") {
          return end;
        }
        failures = 0;
      } catch (e) {
        const error = toAgentError(e, "ETCD_UNAVAILABLE");
        if (error.code !== "ETCD_UNAVAILABLE" && error.code !== "ETCD_CONFLICT") throw error;
        if (ctx.signal?.aborted) return busy();
        ctx.log("warn", `etcd: waiting for a slot: ${error.describe()}; retrying`, { id, attempt: failures + 1 });
        const delay = Math.min(nextBackoff(failures++, ctx.rand, ETCD_RECONNECT), remainingMs(deadlineMs, now()));
        await clock.sleep(delay, ctx.signal).catch(() => {});
      }
    }
  } finally {
    // When our own txn took the slot, it deleted our waiter key and the lease just runs out.
    // Otherwise leave the line now rather than in waiterLeaseTtlSecs, so those behind us move up.
    if (!leftLine && lease) await gateway.leaseRevoke(lease).catch(() => {});
  }
}
