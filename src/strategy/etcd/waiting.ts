/**
 * Waiting for a slot without hammering etcd. A waiter puts a leased `waiters/<id>` key: its
 * create_revision is its place in line. Like etcd's own lock recipe, each waiter watches only the
 * waiter just ahead of it (through the gateway's `/v3/watch` stream) and wakes when that key is
 * deleted; only the first in line watches the semaphore itself. So a release wakes one or two
 * nodes, not the fleet, and waiting costs no requests.
 *
 * Usually a releasing holder hands its slot straight to the first waiter(s) (release.ts), deleting
 * their waiter keys in the same write. When a slot is simply freed instead (an Airlock node
 * released, an admin added slots), the first in line takes it with a compare-and-swap. A waiter
 * that dies stops renewing its lease, its key vanishes, and the one behind it moves up.
 */
import { toAgentError } from "../../errors.js";
import { ETCD_CONFLICT, ETCD_RECONNECT, nextBackoff } from "../lock/backoff.js";
import { remainingMs, type LockOutcome } from "../lock/index.js";
import { decideWhileWaiting, freeSlots, handOver, withHolder, type Semaphore } from "./semaphore.js";
import { evictIfFull, takeSlot, type AcquireScratch, type SlotContext } from "./slot.js";
import { ensureSemaphore, readSemaphore, semaphoreWhere, stateFromKv, type SemaphoreState } from "./store.js";
import { deleteOp, getOp, idsUnder, newestOp, oldestOp, putOp, waiterKey, type WatchMessage } from "./wire.js";

export interface LineTuning {
  /** Lease on a waiter's key: how long a dead waiter stays in line (and can be handed a slot). */
  waiterLeaseTtlSecs: number;
}

/** Waiters read along with a waiter's view, for the first in line to fill several free slots. */
const FILL_LOOKAHEAD = 32;

export const DEFAULT_LINE_TUNING: LineTuning = { waiterLeaseTtlSecs: 20 };

/** What a waiter key says (for `agentctl lock status`). */
function waiterValue(since: Date): string {
  return JSON.stringify({ since: since.toISOString() });
}

type Wake = { kind: "message"; message: IteratorResult<WatchMessage> } | { kind: "broken"; error: unknown } | { kind: "timer" };
const TIMER: Wake = { kind: "timer" };
/** A fixed abort reason: aborting without one allocates a DOMException each time. */
const STOPPED = new Error("stopped");

/** How a session ends: with a slot (and whether our waiter key is already gone), or by starting over. */
type SessionEnd = { kind: "acquired"; keyGone: boolean; alreadyHeld?: boolean } | { kind: "timeout" } | { kind: "reregister" } | { kind: "resnapshot" };

/** Waits in line until this node holds a slot or `deadlineMs` passes (then: busy). */
export async function waitInLine(
  ctx: SlotContext,
  scratch: AcquireScratch,
  deadlineMs: number,
  tuning: LineTuning = DEFAULT_LINE_TUNING,
): Promise<LockOutcome | { kind: "acquired"; alreadyHeld: true }> {
  const { gateway, keys, id, clock } = ctx;
  const myKey = waiterKey(keys, id);
  const now = () => clock.now().getTime();
  const keepaliveEveryMs = (tuning.waiterLeaseTtlSecs * 1000) / 3;
  let lease: string | undefined;
  let place: number | undefined; // create_revision of our waiter key
  let nextKeepalive = Infinity;
  let last: Semaphore | undefined;

  /** What one read tells a waiter: the semaphore, whether we are still in line, who is just ahead. */
  interface View {
    state: SemaphoreState | undefined;
    inLine: boolean;
    predecessor: string | undefined;
    revision: number;
    /** The oldest waiters, when the read included them. */
    front?: string[];
    /** Read as we got in line (a slot held then was held before this call). */
    fresh?: boolean;
    /** How many waiters are ahead of us (Infinity: more than we read). */
    ahead: number;
  }

  /** Gets in line and looks around in the same txn (etcd ranges see the txn's own put). */
  async function lineUp(): Promise<View> {
    lease = await gateway.leaseGrant(tuning.waiterLeaseTtlSecs, ctx.signal);
    nextKeepalive = now() + keepaliveEveryMs;
    const result = await gateway.txn(
      [],
      [
        putOp(myKey, waiterValue(clock.now()), lease),
        getOp(keys.semaphore),
        getOp(myKey),
        newestOp(keys.waitersPrefix, undefined, 2),
        oldestOp(keys.waitersPrefix, FILL_LOOKAHEAD),
      ],
      [],
      ctx.signal,
    );
    const [, semaphoreRange, mine, newest, oldest] = result.ranges;
    place = mine?.kvs[0]?.createRevision;
    const [first, second] = newest?.kvs ?? [];
    // A fresh key is the newest one, and the one before it is ours to watch. An old key of ours
    // (a restart while it was still alive) sits further up the line: look it up properly.
    if (place === undefined || first?.key !== myKey) return look();
    return {
      state: stateFromKv(semaphoreRange?.kvs[0], semaphoreWhere(gateway, keys)),
      inLine: true,
      predecessor: second?.key,
      revision: result.revision,
      front: idsUnder(oldest?.kvs, keys.waitersPrefix),
      fresh: true,
      ahead: Math.max(0, (newest?.count ?? 1) - 1), // the range's count is of every waiter, us included
    };
  }

  async function look(): Promise<View> {
    const result = await gateway.txn(
      [],
      // The front of the line comes along: if we are first, we may fill several free slots at once.
      [getOp(keys.semaphore), getOp(myKey), newestOp(keys.waitersPrefix, Math.max(1, place! - 1)), oldestOp(keys.waitersPrefix, FILL_LOOKAHEAD)],
      [],
      ctx.signal,
    );
    const [semaphoreRange, mine, before, oldest] = result.ranges;
    const front = idsUnder(oldest?.kvs, keys.waitersPrefix);
    const index = front.indexOf(id);
    return {
      state: stateFromKv(semaphoreRange?.kvs[0], semaphoreWhere(gateway, keys)),
      inLine: mine?.kvs[0] !== undefined,
      predecessor: before?.kvs[0]?.key,
      revision: result.revision,
      front,
      ahead: index >= 0 ? index : Infinity,
    };
  }

  /** Watches `key` from `fromRevision`; `onEvents` decides on each batch, timers run in between. */
  async function watchUntil(
    key: string,
    fromRevision: number,
    onEvents: (events: Extract<WatchMessage, { kind: "events" }>["events"]) => Promise<SessionEnd | undefined>,
    onTick: () => Promise<SessionEnd | undefined>,
  ): Promise<SessionEnd> {
    const stop = new AbortController();
    const onAbort = () => stop.abort(STOPPED);
    ctx.signal?.addEventListener("abort", onAbort, { once: true });
    const events = gateway.watch(key, fromRevision, stop.signal)[Symbol.asyncIterator]();
    const nextWake = (): Promise<Wake> => events.next().then((message) => ({ kind: "message", message }), (error: unknown) => ({ kind: "broken", error }));
    let pending = nextWake();
    let timer = { at: NaN, cancel: new AbortController(), fired: new Promise<Wake>(() => {}) };
    try {
      while (true) {
        const wakeAt = Math.min(deadlineMs, nextKeepalive);
        if (wakeAt !== timer.at) {
          timer.cancel.abort(STOPPED);
          const cancel = new AbortController();
          timer = { at: wakeAt, cancel, fired: clock.sleep(Math.max(0, wakeAt - now()), cancel.signal).then(() => TIMER, () => TIMER) };
        }
        const wake = await Promise.race([pending, timer.fired]);
        if (wake.kind === "timer") timer = { ...timer, at: NaN };
        if (ctx.signal?.aborted || now() >= deadlineMs) return { kind: "timeout" };
        if (wake.kind === "broken") throw wake.error;
        if (wake.kind === "message") {
          pending = nextWake();
          if (wake.message.done || wake.message.value.kind === "canceled") return { kind: "resnapshot" };
          if (wake.message.value.kind === "events") {
            const end = await onEvents(wake.message.value.events);
            if (end) return end;
          }
        }
        // Checked after events too, so a busy stream cannot starve the keepalive.
        if (now() >= nextKeepalive) {
          nextKeepalive = now() + keepaliveEveryMs;
          if ((await gateway.leaseKeepAlive(lease!, ctx.signal)) <= 0) return { kind: "reregister" };
          const end = await onTick();
          if (end) return end;
        }
      }
    } finally {
      ctx.signal?.removeEventListener("abort", onAbort);
      timer.cancel.abort(STOPPED);
      stop.abort(STOPPED);
    }
  }

  /**
   * Takes a slot and, when several are free (the fleet just started, an admin added slots), fills
   * the others with the next waiters in the same write instead of waking them one after the other.
   * `front` may be a little old: the write checks that each waiter it hands a slot to is still there.
   */
  async function takeAndFill(state: SemaphoreState, front: string[] | undefined) {
    let handTo: string[] = [];
    if (freeSlots(state.semaphore) > 1) {
      if (!front) {
        const read = await gateway.txn([], [oldestOp(keys.waitersPrefix, freeSlots(state.semaphore) + 1)], [], ctx.signal);
        front = idsUnder(read.ranges[0]?.kvs, keys.waitersPrefix);
      }
      handTo = handOver(withHolder(state.semaphore, id), front, id).handedTo;
    }
    return takeSlot(ctx, scratch, state, [deleteOp(myKey)], handTo);
  }

  /** First in line: watch the semaphore, take a slot the moment one is free. */
  async function atTheFront(initial: SemaphoreState, revision: number, known?: string[]): Promise<SessionEnd> {
    let state = initial;
    let front = known;
    const act = async (): Promise<SessionEnd | undefined> => {
      for (let conflicts = 0; ; conflicts++) {
        last = state.semaphore;
        const decision = decideWhileWaiting(state.semaphore, id);
        // Only a handover (which deletes our waiter key in the same txn) makes us a holder here.
        if (decision === "held") return { kind: "acquired", keyGone: true };
        if (decision === "wait") return undefined;
        if (now() >= deadlineMs) return { kind: "timeout" };
        if (conflicts > 0) await clock.sleep(nextBackoff(conflicts - 1, ctx.rand, ETCD_CONFLICT), ctx.signal);
        const result = await takeAndFill(state, front);
        front = undefined;
        if (result.ok) return { kind: "acquired", keyGone: true };
        if (!result.current) return { kind: "resnapshot" };
        state = result.current;
      }
    };
    const first = await act();
    if (first) return first;
    return watchUntil(
      keys.semaphore,
      revision + 1,
      async (events) => {
        for (const event of events) {
          const next = event.type === "PUT" ? stateFromKv(event.kv, semaphoreWhere(gateway, keys)) : undefined;
          if (!next) return { kind: "resnapshot" }; // deleted by an admin: re-create and start over
          state = next;
        }
        return act();
      },
      async () => {
        if (freeSlots(state.semaphore) > 0) return undefined;
        const after = await evictIfFull(ctx, state); // holder expiry, when configured
        if (!after) return { kind: "resnapshot" };
        state = after;
        return act();
      },
    );
  }

  async function session(): Promise<SessionEnd> {
    const view = lease === undefined || place === undefined ? await lineUp() : await look();
    if (view.state) last = view.state.semaphore;
    if (view.state?.semaphore.holders.includes(id)) return { kind: "acquired", keyGone: !view.inLine, alreadyHeld: view.fresh === true };
    if (!view.inLine) return { kind: "reregister" }; // our lease ran out while etcd was away
    if (!view.state) {
      await ensureSemaphore(gateway, keys, ctx.initialSlots, ctx.signal);
      return { kind: "resnapshot" };
    }
    if (view.predecessor === undefined) return atTheFront(view.state, view.revision, view.front);
    // Enough free slots for everyone ahead of us and for us: no need to wait for them to move.
    if (freeSlots(view.state.semaphore) > view.ahead) {
      const result = await takeAndFill(view.state, view.front);
      if (result.ok) return { kind: "acquired", keyGone: true };
      // Lost a race; perhaps to someone who filled our slot for us. Look again.
      return { kind: "resnapshot" };
    }
    // Someone is ahead: wake when its key goes (it got a slot, gave up, or died).
    return watchUntil(
      view.predecessor,
      view.revision + 1,
      async (events) => (events.some((e) => e.type === "DELETE") ? { kind: "resnapshot" } : undefined),
      async () => undefined,
    );
  }

  /** Leaves the line; a holder may have handed us a slot just before, and then we hold it. */
  async function leave(): Promise<LockOutcome> {
    if (lease) await gateway.leaseRevoke(lease).catch(() => {});
    lease = undefined;
    const current = await readSemaphore(gateway, keys).catch(() => undefined);
    if (current?.semaphore.holders.includes(id)) return { kind: "acquired" };
    const semaphore = current?.semaphore ?? last;
    return {
      kind: "busy",
      reason: semaphore ? `all ${semaphore.totalSlots} semaphore slots currently locked` : "waiting for a reboot slot",
      ...(semaphore ? { holders: semaphore.holders, slots: semaphore.totalSlots } : {}),
    };
  }

  try {
    for (let failures = 0; ; ) {
      if (ctx.signal?.aborted || remainingMs(deadlineMs, now()) <= 0) return await leave();
      try {
        const end = await session();
        if (end.kind === "acquired") {
          // Our waiter key went with the write that made us a holder; otherwise drop it now.
          if (!end.keyGone && lease) await gateway.leaseRevoke(lease).catch(() => {});
          lease = undefined;
          return { kind: "acquired", ...(end.alreadyHeld ? { alreadyHeld: true } : {}) };
        }
        if (end.kind === "timeout") return await leave();
        if (end.kind === "reregister") {
          lease = undefined;
          place = undefined;
        }
        failures = 0;
      } catch (e) {
        const error = toAgentError(e, "ETCD_UNAVAILABLE");
        if (error.code !== "ETCD_UNAVAILABLE" && error.code !== "ETCD_CONFLICT") throw error;
        if (ctx.signal?.aborted) return await leave();
        ctx.log("warn", `etcd: waiting for a slot: ${error.describe()}; retrying`, { id, attempt: failures + 1 });
        const delay = Math.min(nextBackoff(failures++, ctx.rand, ETCD_RECONNECT), remainingMs(deadlineMs, now()));
        await clock.sleep(delay, ctx.signal).catch(() => {});
      }
    }
  } finally {
    if (lease) await gateway.leaseRevoke(lease).catch(() => {}); // leaving on an error
  }
}
