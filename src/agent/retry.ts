/** Retrying start-up steps with capped exponential backoff (Zincati: 1 s doubling to 256 s). */
import { isAgentError } from "../errors.js";
import type { Logger } from "../host/log.js";

const FIRST_DELAY_MS = 1_000;
const MAX_DELAY_MS = 256_000;

export interface BackoffOptions<T> {
  what: string;
  attempt: () => Promise<T>;
  /** Give up (rethrowing the last error) once this much time has passed. */
  totalMs: number;
  log: Pick<Logger, "warn">;
  stopped: () => boolean;
  onFailure?: () => void;
}

export function sleepUnlessStopped(ms: number, stopped: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const step = Math.min(ms, 250);
    let left = ms;
    const timer = setInterval(() => {
      left -= step;
      if (left <= 0 || stopped()) {
        clearInterval(timer);
        resolve();
      }
    }, step);
    timer.unref();
  });
}

export async function withBackoff<T>(o: BackoffOptions<T>): Promise<T> {
  const deadline = Date.now() + o.totalMs;
  let delay = FIRST_DELAY_MS;
  for (;;) {
    try {
      return await o.attempt();
    } catch (e) {
      o.onFailure?.();
      const message = isAgentError(e) ? e.describe() : e instanceof Error ? e.message : String(e);
      if (o.stopped() || Date.now() + delay > deadline) throw e;
      o.log.warn(`failed to ${o.what}: ${message}; retrying in ${Math.round(delay / 1000)} s`);
      await sleepUnlessStopped(delay, o.stopped);
      if (o.stopped()) throw e;
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
  }
}
