/**
 * Whether a staged update may be finalized (and the node rebooted) while people are logged in.
 * Zincati's rule, with the grace period configurable: asked once a minute after the strategy has
 * said yes; the first time sessions are seen everyone is warned and the countdown starts, the last
 * minute gets a final warning, and when the grace period is over the reboot goes ahead anyway.
 * Pure: the caller keeps `postponementsLeft` in its state, broadcasts and logs.
 */
import { formatDuration } from "./broadcast.js";

/** How often the agent re-checks while it waits for sessions to end. */
export const POSTPONEMENT_INTERVAL_SECS = 60;
export const DEFAULT_GRACE_PERIOD_MINUTES = 10;

export interface FinalizationFacts {
  /** Interactive sessions right now. */
  activeSessions: number;
  /** An admin override (a file) says: reboot regardless of sessions. */
  overrideFileExists: boolean;
  /** Checks left before the reboot goes ahead regardless; starts at `postponementsFor(grace)`. */
  postponementsLeft: number;
  gracePeriodMinutes: number;
}

export type FinalizationDecision =
  | {
      action: "allow";
      reason: "no-sessions" | "override" | "no-grace-period" | "grace-period-over";
      /** WARN-level line to log, if any. */
      warning?: string;
    }
  | {
      action: "block";
      /** The value to keep for the next check, one minute later. */
      postponementsLeft: number;
      /** When set, broadcast to every session that the reboot comes in at most this long. */
      broadcastSecs?: number;
      warning?: string;
    };

/** One postponement per check, one check per minute. */
export function postponementsFor(gracePeriodMinutes: number): number {
  return Math.max(0, Math.floor(gracePeriodMinutes));
}

export function decideFinalization(facts: FinalizationFacts): FinalizationDecision {
  if (facts.activeSessions <= 0) return { action: "allow", reason: "no-sessions" };
  if (facts.overrideFileExists) return { action: "allow", reason: "override" };
  const max = postponementsFor(facts.gracePeriodMinutes);
  if (max === 0) {
    return {
      action: "allow",
      reason: "no-grace-period",
      warning: "interactive sessions detected, but the grace period is 0 minutes; proceeding",
    };
  }
  const left = Math.min(max, Math.max(0, Math.floor(facts.postponementsLeft)));
  if (left === 0) {
    return {
      action: "allow",
      reason: "grace-period-over",
      warning: "reached end of grace period while waiting for interactive sessions",
    };
  }
  if (left === max) {
    const graceSecs = max * POSTPONEMENT_INTERVAL_SECS;
    return {
      action: "block",
      postponementsLeft: left - 1,
      broadcastSecs: graceSecs,
      warning: `interactive sessions detected, entering grace period (maximum ${formatDuration(graceSecs)})`,
    };
  }
  if (left === 1) {
    return {
      action: "block",
      postponementsLeft: 0,
      broadcastSecs: POSTPONEMENT_INTERVAL_SECS,
      warning: "last attempt to wait for the end of all interactive sessions",
    };
  }
  return { action: "block", postponementsLeft: left - 1 };
}
