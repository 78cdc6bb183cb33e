/**
 * When the next tick runs. Zincati's constants are the defaults (zincati-behaviour.md §5); every one is
 * configurable under agent.timing. Randomness is passed in so the schedule is a table test.
 */
import type { AgentState } from "./state.js";

export interface Timing {
  steadyIntervalSecs: number;
  retryIntervalSecs: number;
  endIntervalSecs: number;
  postponementIntervalSecs: number;
  jitterPercent: number;
}

export const ZINCATI_TIMING: Timing = {
  steadyIntervalSecs: 300,
  retryIntervalSecs: 300,
  endIntervalSecs: 10_800,
  postponementIntervalSecs: 60,
  jitterPercent: 10,
};

/** Longest wait between graph checks while the server keeps failing: 8 steady intervals. */
const MAX_CHECK_BACKOFF_FACTOR = 8;

/**
 * Zincati's jitter generalised: `secs + max(secs/100, 1) × randInt(0..=jitterPercent)`.
 * `rand` returns a float in [0, 1).
 */
export function withJitter(secs: number, jitterPercent: number, rand: () => number): number {
  const step = Math.max(secs / 100, 1);
  return secs + step * Math.floor(rand() * (jitterPercent + 1));
}

/** Milliseconds until the next tick, given the state the last step left. */
export function nextDelayMs(state: AgentState, now: Date, t: Timing, rand: () => number): number {
  const jittered = (secs: number) => Math.round(withJitter(secs, t.jitterPercent, rand) * 1000);
  const phase = state.phase;
  if (state.paused_until !== undefined) {
    const left = Date.parse(state.paused_until) - now.getTime();
    if (left > 0) return Math.min(left, t.steadyIntervalSecs * 1000);
  }
  switch (phase.kind) {
    case "idle": {
      const factor = Math.min(2 ** Math.max(state.check_failures - 1, 0), MAX_CHECK_BACKOFF_FACTOR);
      return jittered(t.steadyIntervalSecs * factor);
    }
    case "staged": {
      const wait = phase.wait;
      if (wait?.kind === "sessions" || wait?.kind === "inhibitor") return t.postponementIntervalSecs * 1000;
      if (wait?.until !== undefined) {
        // Wake when the window opens, but keep polling the graph meanwhile (a newer release may replace ours).
        const untilMs = Date.parse(wait.until) - now.getTime();
        return Math.max(1000, Math.min(untilMs, t.steadyIntervalSecs * 1000));
      }
      return jittered(wait ? t.retryIntervalSecs : t.steadyIntervalSecs);
    }
    case "finalizing":
    case "finalized":
    case "disabled":
    case "held":
      return jittered(t.endIntervalSecs);
    case "reporting-steady":
    case "staging":
      return jittered(t.retryIntervalSecs);
  }
}
