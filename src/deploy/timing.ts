/**
 * Small time helpers for the deployment adapter: a deadline around any promise, an abortable sleep,
 * and the bounded backoff used while another client's transaction holds rpm-ostreed.
 */
import { AgentError } from "../errors.js";

/** Rejects with `onTimeout()` if `promise` has not settled within `ms`; the timer never outlives it. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export function cancelledError(where: string): AgentError {
  return new AgentError("DEPLOY_CANCELLED", "the operation was cancelled by the agent", { where });
}

/** Sleeps `ms`, or rejects with DEPLOY_CANCELLED as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal | undefined, where: string): Promise<void> {
  if (signal?.aborted) return Promise.reject(cancelledError(where));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(cancelledError(where));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export interface Backoff {
  /** First wait after a busy reply. */
  initialMs: number;
  /** Waits double up to this. */
  maxMs: number;
  /** Give up (DEPLOY_BUSY) once this much time has been spent waiting in total. */
  totalMs: number;
}

/** The waits (ms) to make before each retry: doubling, capped, and never more than `totalMs` in sum. */
export function backoffDelays(backoff: Backoff): number[] {
  const delays: number[] = [];
  let spent = 0;
  let next = Math.max(1, backoff.initialMs);
  while (spent < backoff.totalMs) {
    const delay = Math.min(next, backoff.maxMs, backoff.totalMs - spent);
    delays.push(delay);
    spent += delay;
    next *= 2;
  }
  return delays;
}
