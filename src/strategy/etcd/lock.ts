/**
 * `strategy = "etcd_lock"`: reboot slots straight from etcd, in Airlock's semaphore, so nodes with
 * Zincati+Airlock and nodes with update-agent share one set of slots without a FleetLock server.
 */
import { toAgentError } from "../../errors.js";
import { systemClock, type Clock } from "../../host/clock.js";
import { ETCD_CONFLICT, ETCD_RECONNECT, nextBackoff } from "../lock/backoff.js";
import { noLog, remainingMs, type LockObservability, type LockOutcome, type LockWaitOptions, type RebootLock } from "../lock/index.js";
import type { EtcdGateway } from "./gateway.js";
import { decideAcquire } from "./semaphore.js";
import { releaseSlot } from "./release.js";
import { dropScratch, evictIfFull, takeSlot, type AcquireScratch, type SlotContext } from "./slot.js";
import { ensureSemaphore, lostTooManyRaces, MAX_CONFLICTS, readGroup } from "./store.js";
import { expiringHolderOps, recordedLease } from "./ttl.js";
import { waitInLine, DEFAULT_LINE_TUNING, type LineTuning } from "./waiting.js";
import { AIRLOCK_DEFAULT_SLOTS, AIRLOCK_KEY_PREFIX, deleteOp, groupKeys, waiterKey, type GroupKeys } from "./wire.js";

export interface EtcdLockOptions extends LockObservability {
  gateway: EtcdGateway;
  /** This node's holder id (the node UUID, as Zincati sends to Airlock). */
  id: string;
  group: string;
  /** `updates.etcd_lock.key_prefix`; Airlock's `com.coreos.airlock` to share slots with Airlock. */
  keyPrefix?: string | undefined;
  /** total_slots when this agent creates the semaphore (default: Airlock's default_slots, 1). */
  initialSlots?: number | undefined;
  /** `updates.etcd_lock.ttl_secs`: 0 (default) = a slot never expires. See ttl.ts. */
  ttlSecs?: number | undefined;
  clock?: Clock | undefined;
  rand?: (() => number) | undefined;
  line?: Partial<LineTuning> | undefined;
}

export interface EtcdRebootLock extends RebootLock {
  readonly keys: GroupKeys;
}

/** Transient failures retried within a call that does not wait. */
const QUICK_ATTEMPTS = 3;

export function createEtcdLock(options: EtcdLockOptions): EtcdRebootLock {
  const keys = groupKeys(options.keyPrefix ?? AIRLOCK_KEY_PREFIX, options.group);
  const tuning: LineTuning = { ...DEFAULT_LINE_TUNING, ...options.line };
  const base: SlotContext = {
    gateway: options.gateway,
    keys,
    id: options.id,
    clock: options.clock ?? systemClock,
    rand: options.rand ?? Math.random,
    log: options.log ?? noLog,
    initialSlots: options.initialSlots ?? AIRLOCK_DEFAULT_SLOTS,
    ttlSecs: Math.max(0, options.ttlSecs ?? 0),
  };

  /** One try without waiting, as Airlock's RecursiveLock, except that it does not jump the line. */
  async function tryOnce(ctx: SlotContext, scratch: AcquireScratch): Promise<LockOutcome> {
    const snapshot = await readGroup(ctx.gateway, keys, ctx.signal);
    let state = snapshot.state ?? (await ensureSemaphore(ctx.gateway, keys, ctx.initialSlots, ctx.signal));
    const waiting = [...snapshot.waiters.keys()].filter((w) => w !== ctx.id).length;
    for (let conflicts = 0; ; conflicts++) {
      state = (await evictIfFull(ctx, state)) ?? (await ensureSemaphore(ctx.gateway, keys, ctx.initialSlots, ctx.signal));
      const decision = decideAcquire(state.semaphore, ctx.id);
      if (decision.kind === "held") {
        await alreadyHeld(ctx);
        return { kind: "acquired" };
      }
      const busy = (reason: string): LockOutcome => {
        ctx.log("info", `etcd: reboot slot busy: ${reason}`, { id: ctx.id, key: keys.semaphore });
        return { kind: "busy", reason, holders: state.semaphore.holders, slots: state.semaphore.totalSlots };
      };
      if (decision.kind === "full") return busy(decision.reason);
      // A free slot with nodes in line is about to be handed to the first of them.
      if (waiting > 0) return busy(`${waiting} node(s) already waiting in line for a slot`);
      const result = await takeSlot(ctx, scratch, state, [deleteOp(waiterKey(keys, ctx.id))]);
      if (result.ok) return { kind: "acquired" };
      if (conflicts + 1 >= MAX_CONFLICTS) {
        throw lostTooManyRaces(keys.semaphore);
      }
      state = result.current ?? (await ensureSemaphore(ctx.gateway, keys, ctx.initialSlots, ctx.signal));
      await ctx.clock.sleep(nextBackoff(conflicts, ctx.rand, ETCD_CONFLICT), ctx.signal);
    }
  }

  async function alreadyHeld(ctx: SlotContext): Promise<void> {
    ctx.log("debug", "etcd: this node already holds a reboot slot", { id: ctx.id, key: keys.semaphore });
    if (ctx.ttlSecs > 0) await renewExpiry(ctx);
  }

  /**
   * Makes a slot we hold expire ttl_secs from now: a holder calling acquire again pushes its expiry
   * back (as Zincati re-calls pre-reboot while it waits), and a slot handed over to us while we
   * waited gets its expiry keys here. Writing them is harmless even if we lost the slot meanwhile:
   * only holders with a marker are ever evicted, and taking a slot rewrites or drops them.
   */
  async function renewExpiry(ctx: SlotContext): Promise<void> {
    const lease = await recordedLease(ctx.gateway, keys, ctx.id, ctx.signal);
    if (lease && (await ctx.gateway.leaseKeepAlive(lease, ctx.signal)) > 0) return;
    const fresh = await ctx.gateway.leaseGrant(ctx.ttlSecs, ctx.signal);
    await ctx.gateway.txn([], expiringHolderOps(keys, ctx.id, fresh, ctx.ttlSecs, ctx.clock.now()), [], ctx.signal);
  }

  /** Runs `step` until it yields an outcome, retrying transient failures with backoff until the deadline. */
  async function withRetries(wait: LockWaitOptions, what: string, step: (ctx: SlotContext, deadline: number) => Promise<LockOutcome>): Promise<LockOutcome> {
    const ctx: SlotContext = { ...base, signal: wait.signal };
    const deadline = ctx.clock.now().getTime() + Math.max(0, wait.waitMs ?? 0);
    for (let failures = 0; ; ) {
      try {
        return await step(ctx, deadline);
      } catch (e) {
        const error = toAgentError(e, "ETCD_UNAVAILABLE");
        const transient = error.code === "ETCD_UNAVAILABLE" || error.code === "ETCD_CONFLICT";
        failures++;
        ctx.log(transient ? "warn" : "error", `etcd: ${what} failed: ${error.describe()}`, { id: ctx.id, key: keys.semaphore, attempt: failures });
        const budget = remainingMs(deadline, ctx.clock.now().getTime());
        if (!transient || wait.signal?.aborted || (budget <= 0 && failures >= QUICK_ATTEMPTS)) return { kind: "error", error };
        const delay = nextBackoff(failures - 1, ctx.rand, ETCD_RECONNECT);
        try {
          await ctx.clock.sleep(budget > 0 ? Math.min(delay, budget) : delay, wait.signal);
        } catch {
          return { kind: "error", error };
        }
      }
    }
  }

  return {
    keys,
    describe: () => `etcd_lock at ${options.gateway.describe()} (key ${keys.semaphore}, id ${options.id})`,

    async acquire(wait = {}) {
      const scratch: AcquireScratch = {};
      try {
        return await withRetries(wait, "acquiring a reboot slot", async (ctx, deadline) => {
          if ((wait.waitMs ?? 0) <= 0) return tryOnce(ctx, scratch);
          // Waiting callers always get in line (it costs the same as a try when slots are free),
          // so a crowd arriving at once is served in order instead of colliding on the semaphore.
          const outcome = await waitInLine(ctx, scratch, deadline, tuning);
          if (outcome.kind !== "acquired") return outcome;
          if ("alreadyHeld" in outcome) await alreadyHeld(ctx);
          else if (ctx.ttlSecs > 0) await renewExpiry(ctx); // handed over: no expiry keys yet
          return { kind: "acquired" };
        });
      } finally {
        await dropScratch(base, scratch);
      }
    },

    async release(wait = {}) {
      return withRetries(wait, "releasing the reboot slot", async (ctx) => {
        const lease = ctx.ttlSecs > 0 ? await recordedLease(ctx.gateway, keys, ctx.id, ctx.signal) : undefined;
        const result = await releaseSlot(ctx.gateway, keys, ctx.id, ctx);
        if (!result.wasHolder) {
          ctx.log("debug", "etcd: this node holds no reboot slot", { id: ctx.id, key: keys.semaphore });
          return { kind: "released" };
        }
        ctx.log("info", "etcd: reboot slot released", {
          id: ctx.id,
          key: keys.semaphore,
          ...(result.handedTo.length ? { handed_to: result.handedTo } : {}),
          ...(result.conflicts ? { conflicts: result.conflicts } : {}),
        });
        if (lease) await ctx.gateway.leaseRevoke(lease).catch(() => {});
        return { kind: "released" };
      });
    },
  };
}
