/**
 * The agent's decisions, as one pure function: (state, event, now, policy) → (next state, effects).
 * The shell (driver.ts) persists the next state *before* running its effects (write-ahead, so a crash
 * never repeats a stage or a finalize), runs each effect through the ports, and feeds the outcome back
 * as the next event. When no effect is pending it waits `nextDelayMs()` and sends a `tick`.
 */
import type { BootRecord } from "../health/record.js";
import type { AgentState, DenylistEntry, ErrorRecord, Phase, ReleaseRef, WaitReason } from "./state.js";

export interface Policy {
  maxDeployAttempts: number;
  steadyIntervalMs: number;
  /** Interactive-session grace, in postponement ticks (Zincati: 10 ticks of 60 s). */
  maxPostponements: number;
}

export type CheckResult =
  | { outcome: "update"; target: ReleaseRef; deadendReason?: string | undefined }
  | { outcome: "no-update"; deadendReason?: string | undefined }
  | { outcome: "not-in-graph" }
  | { outcome: "error"; error: ErrorRecord };

export type GateResult =
  | { allowed: true; slotHeld: boolean }
  | { allowed: false; wait: WaitReason; slotHeld: boolean; postponementsLeft?: number };

export type AgentEvent =
  | { type: "tick" }
  | { type: "steady-reported" }
  | { type: "steady-failed"; error: ErrorRecord }
  /** `fleetDenylist`: the group's shared denylist as read for this check (etcd strategy), merged into ours. */
  | { type: "checked"; result: CheckResult; fleetDenylist?: DenylistEntry[] | undefined }
  | { type: "staged"; target: ReleaseRef }
  | { type: "stage-failed"; error: ErrorRecord; /** the release itself is wrong (stream mismatch): no retry */ permanent: boolean }
  | { type: "cleaned-up" }
  | { type: "gate"; result: GateResult }
  | { type: "finalized" }
  | { type: "finalize-failed"; error: ErrorRecord }
  /** The staged deployment disappeared (someone ran `rpm-ostree cleanup -p`, or a reboot dropped it). */
  | { type: "staged-lost" }
  // control, from the D-Bus API
  | { type: "check-now" }
  | { type: "apply-now" }
  | { type: "pause"; until: string }
  | { type: "resume" }
  /** `updates.enabled` after a configuration reload (SIGHUP): stop or restart the update logic. */
  | { type: "updates-enabled"; enabled: boolean }
  // bookkeeping from the shell: the boot-verification record (written before finalizing, updated at boot)
  | { type: "boot-recorded"; record: BootRecord | undefined };

export type Effect =
  | { kind: "report-steady" }
  | { kind: "check-graph" }
  | { kind: "stage"; target: ReleaseRef }
  | { kind: "cleanup-staged" }
  | { kind: "evaluate-gate"; target: ReleaseRef; postponementsLeft: number; force: boolean }
  | { kind: "finalize"; target: ReleaseRef };

export interface Step {
  state: AgentState;
  effects: Effect[];
}

const stay = (state: AgentState): Step => ({ state, effects: [] });

/** `state` in `phase`; `last_state_change` moves only when the kind of phase does. */
export function withPhase(state: AgentState, phase: Phase, now: Date): AgentState {
  const changed = phase.kind !== state.phase.kind;
  return { ...state, phase, ...(changed ? { last_state_change: now.toISOString() } : {}) };
}

function isPaused(state: AgentState, now: Date): boolean {
  return state.paused_until !== undefined && Date.parse(state.paused_until) > now.getTime();
}

function denylisted(state: AgentState, payload: string): boolean {
  return state.denylist.some((e) => e.payload === payload);
}

/** `target` on this node's denylist (once: an entry already there is kept as it is). */
export function addToDenylist(state: AgentState, target: { version: string; payload: string }, reason: string, now: Date): AgentState {
  if (denylisted(state, target.payload)) return state;
  const entry: DenylistEntry = { payload: target.payload, version: target.version, reason, at: now.toISOString(), source: "local" };
  return { ...state, denylist: [...state.denylist, entry] };
}

/** `state` with its boot-verification record replaced (or removed). */
export function withBootRecord(state: AgentState, record: BootRecord | undefined): AgentState {
  const { boot: _old, ...rest } = state;
  return record ? { ...rest, boot: record } : rest;
}

function graphDue(state: AgentState, now: Date, policy: Policy): boolean {
  if (!state.last_check) return true;
  return now.getTime() - Date.parse(state.last_check.at) >= policy.steadyIntervalMs;
}

function mergeFleetDenylist(state: AgentState, fleet: DenylistEntry[] | undefined): AgentState {
  const known = new Set(state.denylist.map((e) => e.payload));
  const added = (fleet ?? []).filter((e) => !known.has(e.payload));
  return added.length === 0 ? state : { ...state, denylist: [...state.denylist, ...added.map((e) => ({ ...e, source: "fleet" as const }))] };
}

function recordCheck(state: AgentState, result: CheckResult, now: Date, fleet?: DenylistEntry[]): AgentState {
  state = mergeFleetDenylist(state, fleet);
  const at = now.toISOString();
  const deadend = result.outcome === "update" || result.outcome === "no-update" ? result.deadendReason : state.deadend_reason;
  const outcome = result.outcome === "no-update" && result.deadendReason !== undefined ? "deadend" : result.outcome;
  const next: AgentState = {
    ...state,
    last_check: { at, outcome },
    check_failures: result.outcome === "error" ? state.check_failures + 1 : 0,
    deadend_reason: deadend,
  };
  if (result.outcome === "error") next.last_error = result.error;
  return next;
}

function startStaging(state: AgentState, target: ReleaseRef, now: Date): Step {
  return { state: withPhase(state, { kind: "staging", target, attempts: 0 }, now), effects: [{ kind: "stage", target }] };
}

function gateEffect(target: ReleaseRef, postponementsLeft: number, force = false): Effect {
  return { kind: "evaluate-gate", target, postponementsLeft, force };
}

/** Control events that apply in every phase. */
function control(state: AgentState, event: AgentEvent, now: Date, policy: Policy): Step | undefined {
  switch (event.type) {
    case "pause":
      return stay({ ...state, paused_until: event.until });
    case "boot-recorded":
      return stay(withBootRecord(state, event.record));
    case "resume": {
      const { paused_until: _dropped, ...rest } = state;
      return transition(rest, { type: "tick" }, now, policy);
    }
    case "updates-enabled": {
      const kind = state.phase.kind;
      if (event.enabled) {
        return kind === "disabled" ? { state: withPhase(state, { kind: "reporting-steady" }, now), effects: [{ kind: "report-steady" }] } : stay(state);
      }
      // A finalized update reboots anyway, and a held node waits for a human either way.
      const stoppable = kind === "reporting-steady" || kind === "idle" || kind === "staging" || kind === "staged";
      return stoppable ? stay(withPhase(state, { kind: "disabled" }, now)) : stay(state);
    }
    default:
      return undefined;
  }
}

export const ZINCATI_POLICY: Policy = { maxDeployAttempts: 12, steadyIntervalMs: 300_000, maxPostponements: 10 };

export function transition(state: AgentState, event: AgentEvent, now: Date, p: Policy = ZINCATI_POLICY): Step {
  const handled = control(state, event, now, p);
  if (handled) return handled;
  const phase = state.phase;
  const paused = isPaused(state, now);

  switch (phase.kind) {
    case "disabled":
      return stay(state);

    case "reporting-steady":
      if (event.type === "tick" || event.type === "check-now" || event.type === "apply-now") {
        return { state, effects: [{ kind: "report-steady" }] };
      }
      if (event.type === "steady-reported") {
        const next = withPhase({ ...state, slot_may_be_held: false }, { kind: "idle" }, now);
        return paused ? stay(next) : { state: next, effects: [{ kind: "check-graph" }] };
      }
      if (event.type === "steady-failed") return stay({ ...state, last_error: event.error });
      return stay(state);

    case "idle":
      if (event.type === "tick" || event.type === "check-now" || event.type === "apply-now") {
        if (paused && event.type === "tick") return stay(state);
        return { state, effects: [{ kind: "check-graph" }] };
      }
      if (event.type === "checked") {
        const next = recordCheck(state, event.result, now, event.fleetDenylist);
        if (event.result.outcome === "update" && !denylisted(next, event.result.target.payload)) {
          return startStaging(next, event.result.target, now);
        }
        return stay(next);
      }
      return stay(state);

    case "staging":
      if (event.type === "tick" || event.type === "check-now" || event.type === "apply-now") {
        if (paused && event.type === "tick") return stay(state);
        return { state, effects: [{ kind: "stage", target: phase.target }] };
      }
      if (event.type === "staged") {
        const staged: Phase = { kind: "staged", target: phase.target, staged_at: now.toISOString(), postponements_left: p.maxPostponements };
        const next = withPhase(state, staged, now);
        return paused ? stay(next) : { state: next, effects: [gateEffect(phase.target, p.maxPostponements)] };
      }
      if (event.type === "stage-failed") {
        const attempts = phase.attempts + 1;
        const failed = { ...state, last_error: event.error };
        if (event.permanent || attempts >= p.maxDeployAttempts) {
          const reason = event.permanent
            ? `abandoned: ${event.error.message}`
            : `deploy failed ${attempts} times, last: ${event.error.message}`;
          const next = withPhase(addToDenylist(failed, phase.target, reason, now), { kind: "idle" }, now);
          return { state: next, effects: [{ kind: "cleanup-staged" }] };
        }
        return stay({ ...failed, phase: { ...phase, attempts } });
      }
      return stay(state);

    case "staged": {
      if (event.type === "tick" || event.type === "check-now") {
        if (paused && event.type === "tick") return stay(state);
        if (event.type === "check-now" || graphDue(state, now, p)) return { state, effects: [{ kind: "check-graph" }] };
        return { state, effects: [gateEffect(phase.target, phase.postponements_left, phase.forced === true)] };
      }
      if (event.type === "apply-now") {
        // Remembered for this staged update: a busy slot must not send it back to waiting for the window.
        const forced = { ...state, phase: { ...phase, forced: true } };
        return { state: forced, effects: [gateEffect(phase.target, phase.postponements_left, true)] };
      }
      if (event.type === "checked") {
        const next = recordCheck(state, event.result, now, event.fleetDenylist);
        const result = event.result;
        // Denylisted while it waited (another node of the group failed on it): drop it, never finalize it.
        if (denylisted(next, phase.target.payload)) {
          return { state: withPhase(next, { kind: "idle" }, now), effects: [{ kind: "cleanup-staged" }] };
        }
        // A newer release replaces the stale staged one (Zincati cannot: coreos/zincati#928).
        if (result.outcome === "update" && result.target.age_index > phase.target.age_index && !denylisted(next, result.target.payload)) {
          const restaged = withPhase(next, { kind: "staging", target: result.target, attempts: 0 }, now);
          return { state: restaged, effects: [{ kind: "cleanup-staged" }, { kind: "stage", target: result.target }] };
        }
        if (paused) return stay(next);
        return { state: next, effects: [gateEffect(phase.target, phase.postponements_left, phase.forced === true)] };
      }
      if (event.type === "gate") {
        const r = event.result;
        const held = { ...state, slot_may_be_held: r.slotHeld || state.slot_may_be_held };
        if (r.allowed) {
          const finalizing = withPhase(held, { kind: "finalizing", target: phase.target, started_at: now.toISOString() }, now);
          return { state: { ...finalizing, slot_may_be_held: true }, effects: [{ kind: "finalize", target: phase.target }] };
        }
        const postponements = r.postponementsLeft ?? (r.wait.kind === "sessions" ? phase.postponements_left : p.maxPostponements);
        return stay({ ...held, slot_may_be_held: r.slotHeld, phase: { ...phase, postponements_left: postponements, wait: r.wait } });
      }
      return stay(state);
    }

    case "finalizing":
      if (event.type === "staged-lost") return startStaging(state, phase.target, now);
      if (event.type === "finalized") {
        return stay(withPhase(state, { kind: "finalized", target: phase.target, finalized_at: now.toISOString() }, now));
      }
      if (event.type === "finalize-failed") {
        const wait: WaitReason = { kind: "finalize-failed", message: `finalization failed: ${event.error.message}` };
        const staged: Phase = { kind: "staged", target: phase.target, staged_at: now.toISOString(), postponements_left: 0, wait };
        return stay(withPhase({ ...state, last_error: event.error }, staged, now));
      }
      return stay(state);

    case "finalized":
    case "held":
      return stay(state);
  }
}
