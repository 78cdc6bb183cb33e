/**
 * The reboot-slot lock the agent loop composes, whatever coordinates it: a FleetLock server
 * (`fleet_lock`) or etcd directly (`etcd_lock`). Both are counting semaphores with owned, recursive
 * slots: acquiring a slot we already hold succeeds, releasing one we do not hold succeeds.
 */
import type { AgentError } from "../../errors.js";

export type LockOutcome =
  | { kind: "acquired" }
  | { kind: "released" }
  /** Every slot is taken. Not an error: try again later (or wait with `waitMs`). */
  | { kind: "busy"; reason: string; holders?: string[]; slots?: number }
  | { kind: "error"; error: AgentError };

export interface LockWaitOptions {
  /**
   * How long to keep trying while the group is full or the coordinator is unreachable, in ms.
   * 0 (the default) means one attempt (with a few quick retries of transient failures).
   */
  waitMs?: number;
  /** Stops waiting early; the call then resolves to its last outcome (busy or error). */
  signal?: AbortSignal;
}

export interface RebootLock {
  /** Takes a reboot slot for this node (FleetLock `pre-reboot`). */
  acquire(options?: LockWaitOptions): Promise<LockOutcome>;
  /** Gives this node's slot back (FleetLock `steady-state`). */
  release(options?: LockWaitOptions): Promise<LockOutcome>;
  /** One line for logs and `agentctl`: strategy, where, group, id. */
  describe(): string;
}

/** Which coordinator call an observation is about (metrics labels). */
export type LockApi = "pre-reboot" | "steady-state" | "etcd";

/**
 * Called once per request sent to the coordinator. `outcome` is `ok`, or a short stable kind such
 * as `failed_lock`, `lock_held`, `generic_http_503`, `client_failed_request`, `conflict`,
 * `unavailable`, `auth` (bounded cardinality, usable as a metrics label).
 */
export type LockObserver = (api: LockApi, outcome: string) => void;

export type LockLogLevel = "debug" | "info" | "notice" | "warn" | "error";
export type LockLogger = (level: LockLogLevel, msg: string, fields?: Record<string, unknown>) => void;

/** What every lock implementation accepts for observability; both are optional. */
export interface LockObservability {
  observe?: LockObserver | undefined;
  log?: LockLogger | undefined;
}

export const noLog: LockLogger = () => {};
export const noObserve: LockObserver = () => {};

/** The remaining wait budget in ms at `nowMs`, never negative. */
export function remainingMs(deadlineMs: number, nowMs: number): number {
  return Math.max(0, deadlineMs - nowMs);
}

export { nextBackoff, type BackoffPolicy } from "./backoff.js";
