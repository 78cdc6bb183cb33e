/** Retrying start-up steps with capped exponential backoff (Zincati: 1 s doubling to 256 s). */
import { systemClock } from "../host/clock.js";
import type { Logger } from "../host/log.js";
import { describeError } from "./errors.js";

const FIRST_DELAY_MS = 1_000;
const MAX_DELAY_MS = 256_000;

export interface BackoffOptions<T> {
  what: string;
  attempt: () => Promise<T>;
  /** Give up (rethrowing the last error) once this much time has passed. */
  totalMs: number;
  log: Pick<Logger, "warn">;
  /** The agent stopping: no more attempts, the last error is rethrown. */
  signal: AbortSignal;
  onFailure?: () => void;
}

export async function withBackoff<T>(o: BackoffOptions<T>): Promise<T> {
  const deadline = Date.now() + o.totalMs;
  let delay = FIRST_DELAY_MS;
  for (;;) {
    try {
      return await o.attempt();
    } catch (e) {
      o.onFailure?.();
      const message = describeError(e);
      if (o.signal.aborted || Date.now() + delay > deadline) throw e;
      o.log.warn(`failed to ${o.what}: ${message}; retrying in ${Math.round(delay / 1000)} s`);
      await systemClock.sleep(delay, o.signal).catch(() => undefined);
      if (o.signal.aborted) throw e;
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
  }
}
