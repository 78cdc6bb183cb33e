/**
 * Releasing a slot, with handover: the holder's write removes it from `holders` and puts the
 * first waiter(s) in its place, guarded by the waiter's key still existing (a waiter that gave up
 * revoked its lease, which deleted the key), and deletes their waiter keys in the same txn.
 */
import type { Clock } from "../../host/clock.js";
import { ETCD_CONFLICT, nextBackoff } from "../lock/backoff.js";
import type { EtcdGateway } from "./gateway.js";
import { decideRelease, serializeSemaphore } from "./semaphore.js";
import { lostTooManyRaces, MAX_CONFLICTS, semaphoreWhere, stateFromKv, unchangedState } from "./store.js";
import { dropExpiryOps } from "./ttl.js";
import { deleteOp, exists, getOp, idsUnder, locally, oldestOp, putOp, waiterKey, type GroupKeys, type TxnResult } from "./wire.js";

/** Waiters read per release: the slots one release frees, plus room for ones that went away. */
const HANDOVER_LOOKAHEAD = 4;

export interface ReleaseResult {
  wasHolder: boolean;
  handedTo: string[];
  /** Compare-and-swap races lost on the way (other holders releasing at the same moment). */
  conflicts: number;
}

export async function releaseSlot(
  gateway: EtcdGateway,
  keys: GroupKeys,
  id: string,
  deps: { clock: Clock; rand: () => number; signal?: AbortSignal | undefined },
): Promise<ReleaseResult> {
  const reads = [getOp(keys.semaphore), oldestOp(keys.waitersPrefix, HANDOVER_LOOKAHEAD)];
  let seen: TxnResult = await gateway.txn([], reads.map(locally), [], deps.signal);
  for (let conflicts = 0; conflicts < MAX_CONFLICTS; conflicts++) {
    const state = stateFromKv(seen.ranges[0]?.kvs[0], semaphoreWhere(gateway, keys));
    const front = idsUnder(seen.ranges[1]?.kvs, keys.waitersPrefix);
    const decision = state ? decideRelease(state.semaphore, id, front) : ({ kind: "not-held" } as const);
    if (decision.kind === "not-held") return { wasHolder: false, handedTo: [], conflicts };
    const waiterKeys = decision.handedTo.map((w) => waiterKey(keys, w));
    const result = await gateway.txn(
      [...unchangedState(keys, state), ...waiterKeys.map(exists)],
      [putOp(keys.semaphore, serializeSemaphore(decision.next)), ...waiterKeys.map(deleteOp), ...dropExpiryOps(keys, id)],
      reads,
      deps.signal,
    );
    if (result.succeeded) return { wasHolder: true, handedTo: decision.handedTo, conflicts };
    seen = result;
    await deps.clock.sleep(nextBackoff(conflicts, deps.rand, ETCD_CONFLICT), deps.signal);
  }
  throw lostTooManyRaces(semaphoreWhere(gateway, keys), "the group is very busy; the release is retried");
}
