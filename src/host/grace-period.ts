/**
 * Whether a staged update may be finalized (and the node rebooted) while people are logged in.
 * Zincati's rule, with the grace period and the pause between checks configurable: the first time
 * sessions are seen everyone is warned and the countdown starts, the last minute gets a final warning,
 * and when the grace period is over the reboot goes ahead anyway.
 * The grace period is wall-clock time: `grace_period_minutes` is counted in checks of
 * `postponement_interval_secs` each (Zincati's 10 checks of 60 s), so a shorter pause between checks
 * means more checks, not a shorter grace period, and the warnings say how long is really left.
 * Pure: the caller keeps `postponementsLeft` in its state, broadcasts and logs.
 */
import { formatDuration } from "./broadcast.js";

/** How often the agent re-checks while it waits for sessions to end (Zincati's; `agent.timing.postponement_interval_secs`). */
export const POSTPONEMENT_INTERVAL_SECS = 60;
/** The final warning goes out when this much of the grace period is left (Zincati: the last check). */
const FINAL_WARNING_SECS = 60;

export interface FinalizationFacts {
  /** Interactive sessions right now. */
  activeSessions: number;
  /** An admin override (a file) says: reboot regardless of sessions. */
  overrideFileExists: boolean;
  /** Checks left before the reboot goes ahead regardless; starts at `postponementsFor(grace)`. */
  postponementsLeft: number;
  gracePeriodMinutes: number;
  /** Seconds between two checks (default 60, Zincati's). */
  postponementIntervalSecs?: number;
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
      /** The value to keep for the next check, one interval later. */
      postponementsLeft: number;
      /** When set, broadcast to every session that the reboot comes in at most this long. */
      broadcastSecs?: number;
      warning?: string;
    };

/** Checks (one per `intervalSecs`) that make up the grace period; never shorter than configured. */
export function postponementsFor(gracePeriodMinutes: number, intervalSecs = POSTPONEMENT_INTERVAL_SECS): number {
  const minutes = Math.max(0, Math.floor(gracePeriodMinutes));
  return Math.ceil((minutes * 60) / intervalOf(intervalSecs));
}

function intervalOf(secs: number | undefined): number {
  return secs !== undefined && Number.isFinite(secs) && secs >= 1 ? Math.floor(secs) : POSTPONEMENT_INTERVAL_SECS;
}

/** Seconds until the reboot goes ahead regardless, after a check that left `postponementsLeft`. */
export function secondsLeft(postponementsLeft: number, intervalSecs = POSTPONEMENT_INTERVAL_SECS): number {
  return (Math.max(0, postponementsLeft) + 1) * intervalOf(intervalSecs);
}

export function decideFinalization(facts: FinalizationFacts): FinalizationDecision {
  if (facts.activeSessions <= 0) return { action: "allow", reason: "no-sessions" };
  if (facts.overrideFileExists) return { action: "allow", reason: "override" };
  const interval = intervalOf(facts.postponementIntervalSecs);
  const max = postponementsFor(facts.gracePeriodMinutes, interval);
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
    const graceSecs = max * interval;
    return {
      action: "block",
      postponementsLeft: left - 1,
      broadcastSecs: graceSecs,
      warning: `interactive sessions detected, entering grace period (maximum ${formatDuration(graceSecs)})`,
    };
  }
  // The check that starts the last minute (with 60 s checks, the last one) warns everyone again.
  const finalWarningAt = Math.max(1, Math.ceil(FINAL_WARNING_SECS / interval));
  if (left === finalWarningAt) {
    return {
      action: "block",
      postponementsLeft: left - 1,
      broadcastSecs: left * interval,
      warning: left === 1 ? "last attempt to wait for the end of all interactive sessions" : `grace period for interactive sessions ends in ${formatDuration(left * interval)}`,
    };
  }
  if (left === 1) return { action: "block", postponementsLeft: 0, warning: "last attempt to wait for the end of all interactive sessions" };
  return { action: "block", postponementsLeft: left - 1 };
}
