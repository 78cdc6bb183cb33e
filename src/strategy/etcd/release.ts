/**
 * Releasing a slot, with handover: the holder's write removes it from `holders` and puts the
 * first waiter(s) in its place, guarded by the waiter's key still existing (a waiter that gave up
 * revoked its lease, which deleted the key), and deletes their waiter keys in the same txn.
 */
import { AgentError } from "../../errors.js";
import type { Clock } from "../../host/clock.js";
import { ETCD_CONFLICT, nextBackoff } from "../lock/backoff.js";
import type { EtcdGateway } from "./gateway.js";
import { decideRelease, serializeSemaphore } from "./semaphore.js";
import { semaphoreWhere, stateFromKv, unchangedState } from "./store.js";
import { dropExpiryOps } from "./ttl.js";
import { deleteOp, exists, getOp, locally, oldestOp, putOp, type GroupKeys, type KeyValue, type TxnResult } from "./wire.js";

/** Waiters read per release: the slots one release frees, plus room for ones that went away. */
export const HANDOVER_LOOKAHEAD = 4;
/** Lost races tolerated: each one means another holder's write went through. */
const MAX_CONFLICTS = 32;

export interface ReleaseResult {
  wasHolder: boolean;
  handedTo: string[];
  /** Compare-and-swap races lost on the way (other holders releasing at the same moment). */
  conflicts: number;
}

/** The ids of the waiters in a range of waiter keys. */
export function waiterIds(kvs: readonly KeyValue[] | undefined, keys: GroupKeys): string[] {
  return (kvs ?? []).map((kv) => kv.key.slice(keys.waitersPrefix.length));
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
    const front = waiterIds(seen.ranges[1]?.kvs, keys);
    const decision = state ? decideRelease(state.semaphore, id, front) : ({ kind: "not-held" } as const);
    if (decision.kind === "not-held") return { wasHolder: false, handedTo: [], conflicts };
    const waiterKeys = decision.handedTo.map((w) => `${keys.waitersPrefix}${w}`);
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
  throw new AgentError("ETCD_CONFLICT", `lost ${MAX_CONFLICTS} compare-and-swap races on the semaphore in a row`, {
    where: semaphoreWhere(gateway, keys),
    hint: "the group is very busy; the release is retried",
  });
}
