/**
 * What the agent remembers across restarts and reboots. The phase names follow Zincati's states
 * (StartState/Initialized → `reporting-steady`, ReportedSteady/NoNewUpdate → `idle`,
 * UpdateAvailable → `staging`, UpdateStaged → `staged`, UpdateFinalized → `finalized`, EndState → `disabled`),
 * with `finalizing` added as a write-ahead record so a crash during FinalizeDeployment never finalizes twice.
 */
import * as z from "zod/mini";
import { BootRecordSchema } from "../health/record.js";
import type { HealthReport } from "../health/report.js";

/** A count that starts at 0. */
const count = z.number().check(z.int(), z.nonnegative());

export const ReleaseRefSchema = z.object({
  version: z.string(),
  payload: z.string(),
  age_index: count,
});
export type ReleaseRef = z.infer<typeof ReleaseRefSchema>;

/** Why a staged update has not rebooted yet: shown by `agentctl status`, one reason at a time. */
export const WaitReasonSchema = z.object({
  kind: z.enum(["window", "lock", "sessions", "inhibitor", "hook", "paused", "finalize-failed", "strategy"]),
  message: z.string(),
  /** ISO time when the wait can end by itself (next window opening, end of the session grace period). */
  until: z.optional(z.string()),
  details: z.optional(z.record(z.string(), z.unknown())),
});
export type WaitReason = z.infer<typeof WaitReasonSchema>;

export const PhaseSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("reporting-steady") }),
  z.object({ kind: z.literal("idle") }),
  z.object({ kind: z.literal("staging"), target: ReleaseRefSchema, attempts: count }),
  z.object({
    kind: z.literal("staged"),
    target: ReleaseRefSchema,
    staged_at: z.string(),
    /** Ticks left in the interactive-session grace period (Zincati's postponements). */
    postponements_left: count,
    wait: z.optional(WaitReasonSchema),
    /** `agentctl apply-now` was asked for this update: windows and the session grace period no longer apply. */
    forced: z.optional(z.boolean()),
  }),
  z.object({ kind: z.literal("finalizing"), target: ReleaseRefSchema, started_at: z.string() }),
  z.object({ kind: z.literal("finalized"), target: ReleaseRefSchema, finalized_at: z.string() }),
  z.object({ kind: z.literal("disabled") }),
  /** Boot verification failed with on_failure = "hold" (or halt_on_failure): stay, keep the slot, wait for a human. */
  z.object({ kind: z.literal("held"), message: z.string() }),
]);
export type Phase = z.infer<typeof PhaseSchema>;

export const DenylistEntrySchema = z.object({
  payload: z.string(),
  version: z.string(),
  reason: z.string(),
  at: z.string(),
  /** `local` (this node), `fleet` (learned from the group's shared store), `boot` (finalized deployment history). */
  source: z._default(z.enum(["local", "fleet", "boot"]), "local"),
});
export type DenylistEntry = z.infer<typeof DenylistEntrySchema>;

export const ErrorRecordSchema = z.object({
  code: z.string(),
  message: z.string(),
  at: z.string(),
});
export type ErrorRecord = z.infer<typeof ErrorRecordSchema>;

export const AgentStateSchema = z.object({
  phase: PhaseSchema,
  denylist: z._default(z.array(DenylistEntrySchema), []),
  /** Whether this node may hold a reboot slot (set before asking for one, cleared after it is given back). */
  slot_may_be_held: z._default(z.boolean(), false),
  paused_until: z.optional(z.string()),
  last_check: z.optional(
    z.object({ at: z.string(), outcome: z.enum(["update", "no-update", "error", "not-in-graph", "deadend"]) }),
  ),
  /** Consecutive failed graph checks, for backoff. */
  check_failures: z._default(count, 0),
  last_error: z.optional(ErrorRecordSchema),
  deadend_reason: z.optional(z.string()),
  last_state_change: z.optional(z.string()),
  /** Boot verification of the last finalized release (health checks, rollback): see src/health/verdict.ts. */
  boot: z.optional(BootRecordSchema),
  /** The last health-check run, for `agentctl health` and status. Written by the agent, trusted as is. */
  last_health: z.optional(z.custom<HealthReport>((v) => typeof v === "object" && v !== null)),
});
export type AgentState = z.infer<typeof AgentStateSchema>;

export const STATE_SCHEMA_VERSION = 1;

export function initialAgentState(): AgentState {
  return { phase: { kind: "reporting-steady" }, denylist: [], slot_may_be_held: false, check_failures: 0 };
}
