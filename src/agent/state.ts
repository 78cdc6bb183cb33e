/**
 * What the agent remembers across restarts and reboots. The phase names follow Zincati's states
 * (StartState/Initialized → `reporting-steady`, ReportedSteady/NoNewUpdate → `idle`,
 * UpdateAvailable → `staging`, UpdateStaged → `staged`, UpdateFinalized → `finalized`, EndState → `disabled`),
 * with `finalizing` added as a write-ahead record so a crash during FinalizeDeployment never finalizes twice.
 */
import * as z from "zod";
import { BootRecordSchema } from "../health/record.js";
import type { HealthReport } from "../health/report.js";

export const ReleaseRefSchema = z.object({
  version: z.string(),
  payload: z.string(),
  age_index: z.number().int().nonnegative(),
});
export type ReleaseRef = z.infer<typeof ReleaseRefSchema>;

/** Why a staged update has not rebooted yet: shown by `agentctl status`, one reason at a time. */
export const WaitReasonSchema = z.object({
  kind: z.enum(["window", "lock", "sessions", "inhibitor", "hook", "paused", "finalize-failed", "strategy"]),
  message: z.string(),
  /** ISO time when the wait can end by itself (next window opening, end of the session grace period). */
  until: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type WaitReason = z.infer<typeof WaitReasonSchema>;

export const PhaseSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("reporting-steady") }),
  z.object({ kind: z.literal("idle") }),
  z.object({ kind: z.literal("staging"), target: ReleaseRefSchema, attempts: z.number().int().nonnegative() }),
  z.object({
    kind: z.literal("staged"),
    target: ReleaseRefSchema,
    staged_at: z.string(),
    /** Ticks left in the interactive-session grace period (Zincati's postponements). */
    postponements_left: z.number().int().nonnegative(),
    wait: WaitReasonSchema.optional(),
    /** `agentctl apply-now` was asked for this update: windows and the session grace period no longer apply. */
    forced: z.boolean().optional(),
  }),
  z.object({ kind: z.literal("finalizing"), target: ReleaseRefSchema, started_at: z.string() }),
  z.object({ kind: z.literal("finalized"), target: ReleaseRefSchema, finalized_at: z.string() }),
  z.object({ kind: z.literal("disabled") }),
  /** Boot verification failed with on_failure = "hold" (or halt_on_failure): stay, keep the slot, wait for a human. */
  z.object({ kind: z.literal("held"), message: z.string() }),
]);
export type Phase = z.infer<typeof PhaseSchema>;
export type PhaseKind = Phase["kind"];

export const DenylistEntrySchema = z.object({
  payload: z.string(),
  version: z.string(),
  reason: z.string(),
  at: z.string(),
  /** `local` (this node), `fleet` (learned from the group's shared store), `boot` (finalized deployment history). */
  source: z.enum(["local", "fleet", "boot"]).default("local"),
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
  denylist: z.array(DenylistEntrySchema).default([]),
  /** Whether this node may hold a reboot slot (set before asking for one, cleared after it is given back). */
  slot_may_be_held: z.boolean().default(false),
  paused_until: z.string().optional(),
  last_check: z
    .object({ at: z.string(), outcome: z.enum(["update", "no-update", "error", "not-in-graph", "deadend"]) })
    .optional(),
  /** Consecutive failed graph checks, for backoff. */
  check_failures: z.number().int().nonnegative().default(0),
  last_error: ErrorRecordSchema.optional(),
  deadend_reason: z.string().optional(),
  last_state_change: z.string().optional(),
  /** Boot verification of the last finalized release (health checks, rollback): see src/health/verdict.ts. */
  boot: BootRecordSchema.optional(),
  /** The last health-check run, for `agentctl health` and status. Written by the agent, trusted as is. */
  last_health: z.custom<HealthReport>((v) => typeof v === "object" && v !== null).optional(),
});
export type AgentState = z.infer<typeof AgentStateSchema>;

export const STATE_SCHEMA_VERSION = 1;

export function initialAgentState(): AgentState {
  return { phase: { kind: "reporting-steady" }, denylist: [], slot_may_be_held: false, check_failures: 0 };
}
