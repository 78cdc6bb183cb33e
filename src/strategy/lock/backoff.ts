/**
 * Jittered exponential backoff as a pure function, so every retry schedule in the lock code is a
 * table test. The jitter keeps a fleet that failed at the same moment (a coordinator restart, a
 * burst of releases) from coming back at the same moment.
 */
export interface BackoffPolicy {
  /** Delay before the first retry (attempt 0), before jitter, in ms. */
  baseMs: number;
  /** Upper bound of the un-jittered delay, in ms. */
  maxMs: number;
  /** Share of the delay that is random: 0.5 gives a delay in [d/2, d]. Between 0 and 1. */
  jitter: number;
}

/** Transient HTTP failures talking to a FleetLock server within one call: 1 s, 2 s, 4 s ... 30 s. */
export const FLEETLOCK_RETRY: BackoffPolicy = { baseMs: 1_000, maxMs: 30_000, jitter: 0.5 };
/** Polling a full FleetLock group while waiting: 10 s doubling up to Zincati's 5 min cadence. */
export const FLEETLOCK_BUSY_POLL: BackoffPolicy = { baseMs: 10_000, maxMs: 300_000, jitter: 0.1 };
/**
 * A lost compare-and-swap race on the semaphore key. Short and capped low: the winner is already
 * done, and a long cap makes an unlucky writer lose again and again to fresh writers that start
 * with short delays (a burst of holders releasing together).
 */
export const ETCD_CONFLICT: BackoffPolicy = { baseMs: 4, maxMs: 64, jitter: 1 };
/** etcd unreachable or a watch broke: 200 ms doubling up to 10 s. */
export const ETCD_RECONNECT: BackoffPolicy = { baseMs: 200, maxMs: 10_000, jitter: 0.5 };

/**
 * The delay before retry number `attempt` (0-based): `min(maxMs, baseMs * 2^attempt)`, of which the
 * `jitter` share is scaled by `rand()` (a number in [0, 1)). Whole milliseconds, never negative.
 */
export function nextBackoff(attempt: number, rand: () => number, policy: BackoffPolicy = FLEETLOCK_RETRY): number {
  const exponent = Math.max(0, Math.min(Math.floor(attempt), 30));
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  const r = Math.min(1, Math.max(0, rand()));
  return Math.max(0, Math.round(ceiling * (1 - jitter + jitter * r)));
}
