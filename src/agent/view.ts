/**
 * What the agent shows people: the sd_notify STATUS text (also rpm-ostree's DriverState) and the status
 * document served over D-Bus and printed by `agentctl status`. Pure functions of the state.
 */
import type { AgentState, DenylistEntry, ReleaseRef, WaitReason } from "./state.js";

export interface Progress {
  percent: number | undefined;
  message: string;
}

export interface StatusView {
  /** `running` when read from the daemon, `not-running` when read from the state file. */
  daemon: "running" | "not-running";
  state: AgentState["phase"]["kind"];
  status_text: string;
  strategy: string;
  booted: { version: string; payload: string } | null;
  staged: { version: string; payload: string; finalization_locked: boolean } | null;
  target: ReleaseRef | null;
  progress: Progress | null;
  waiting: WaitReason | null;
  pending_reboot: boolean;
  last_check: NonNullable<AgentState["last_check"]> | null;
  last_error: NonNullable<AgentState["last_error"]> | null;
  paused_until: string | null;
  deadend_reason: string | null;
  denylist: DenylistEntry[];
  /** For `agentctl status`: when the state last changed kind. */
  last_state_change: string | null;
}

export interface LiveFacts {
  booted?: { version: string; payload: string } | undefined;
  staged?: { version: string; payload: string; finalizationLocked: boolean } | undefined;
  progress?: Progress | undefined;
  strategy: string;
}

/** `%a` in the C locale; a table, not Intl, so the idle agent never loads ICU's time-zone data (bench/agentd.bench.ts). */
const WEEKDAY_ABBREVIATIONS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"] as const;

function formatCheckTime(iso: string): string {
  // Zincati prints `%a %Y-%m-%d %H:%M:%S %Z` in UTC.
  const d = new Date(iso);
  const utc = d.toISOString();
  return `${WEEKDAY_ABBREVIATIONS[d.getUTCDay()]} ${utc.slice(0, 10)} ${utc.slice(11, 19)} UTC`;
}

export function targetOf(state: AgentState): ReleaseRef | null {
  const p = state.phase;
  return "target" in p ? p.target : null;
}

/** The STATUS= text, as informative as Zincati's (zincati-behaviour.md §10) and saying why a reboot waits. */
export function statusText(state: AgentState, progress?: Progress): string {
  const p = state.phase;
  const pausedNote = state.paused_until ? `; paused until ${state.paused_until}` : "";
  switch (p.kind) {
    case "disabled":
      return "initialization complete, auto-updates logic disabled by configuration";
    case "reporting-steady":
      return state.last_error ? `reporting steady state (last error: ${state.last_error.message})` : "initialization complete, auto-updates logic enabled";
    case "idle": {
      const checked = state.last_check ? ` (last checked ${formatCheckTime(state.last_check.at)})` : "";
      const deadend = state.deadend_reason !== undefined ? `; this release is a dead-end: ${state.deadend_reason}` : "";
      return `periodically polling for updates${checked}${deadend}${pausedNote}`;
    }
    case "staging": {
      const pct = progress?.percent !== undefined ? ` (${progress.percent}%)` : "";
      return p.attempts === 0
        ? `found update on remote: ${p.target.version}; staging${pct}`
        : `trying to stage ${p.target.version} (failed attempts: ${p.attempts})${pct}`;
    }
    case "staged":
      return p.wait ? `update staged: ${p.target.version}; reboot pending: ${p.wait.message}${pausedNote}` : `update staged: ${p.target.version}${pausedNote}`;
    case "finalizing":
      return `finalizing update: ${p.target.version}`;
    case "finalized":
      return `update applied, waiting for reboot: ${p.target.version}`;
    case "held":
      return `held: ${p.message}`;
  }
}

export function statusView(state: AgentState, facts: LiveFacts, daemon: StatusView["daemon"]): StatusView {
  const p = state.phase;
  return {
    daemon,
    state: p.kind,
    status_text: statusText(state, facts.progress),
    strategy: facts.strategy,
    booted: facts.booted ?? null,
    staged: facts.staged
      ? { version: facts.staged.version, payload: facts.staged.payload, finalization_locked: facts.staged.finalizationLocked }
      : null,
    target: targetOf(state),
    progress: p.kind === "staging" ? (facts.progress ?? null) : null,
    waiting: p.kind === "staged" ? (p.wait ?? null) : null,
    pending_reboot: p.kind === "staged" || p.kind === "finalizing" || p.kind === "finalized",
    last_check: state.last_check ?? null,
    last_error: state.last_error ?? null,
    paused_until: state.paused_until ?? null,
    deadend_reason: state.deadend_reason ?? null,
    denylist: state.denylist,
    last_state_change: state.last_state_change ?? null,
  };
}
