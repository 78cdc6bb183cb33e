/**
 * The boot-verification record the agent keeps in its state file. It is written before every step that
 * reboots (finalize, reboot-again, rollback), so whatever boots next can tell what was expected of it.
 *
 * Lifecycle: `pending` (written before FinalizeDeployment) → `verified` when the release passes its checks;
 * → `pending` with attempt+1 on a failed boot with attempts left; → `rolling-back` when attempts run out or the
 * release never booted → `rolled-back` once the previous release has booted and been checked. `held` is the
 * end state of a failure under `on_failure = "hold"`. `verified` and `rolled-back` only inform status.
 */
import * as z from "zod/mini";

/** A release as the verification record names it; matched by payload. */
export const VerifiedReleaseSchema = z.object({ version: z.string(), payload: z.string().check(z.minLength(1)) });
export type VerifiedRelease = z.infer<typeof VerifiedReleaseSchema>;

const timestamp = z.string().check(z.minLength(1));
/** A 1-based count of boot attempts. */
const attempts = z.number().check(z.int(), z.positive());

export const PendingVerificationSchema = z.object({
  kind: z.literal("pending"),
  /** The release being verified: the one just finalized. */
  release: VerifiedReleaseSchema,
  /** Boot attempt into `release`: 1 on the first boot, +1 for every reboot-again after failed checks. */
  attempt: attempts,
  finalizedAt: timestamp,
  /** The release that was booted when `release` was finalized: where a fallback or rollback lands. */
  previous: VerifiedReleaseSchema,
  /** Required checks that failed on earlier attempts, for the final denylist reason. */
  failedChecks: z._default(z.array(z.string()), []),
  /**
   * `/proc/sys/kernel/random/boot_id` when the record was written: if the agent starts again in the same boot,
   * no reboot has happened, so the release cannot have failed to boot.
   */
  bootId: z.optional(z.string()),
  /**
   * The boot in which the agent asked for the reboot into attempt `attempt`. Starting again in that same boot means
   * the reboot never happened (refused, or the agent was restarted first): ask for it again, count nothing.
   */
  rebootRequestedIn: z.optional(z.string()),
});
export type PendingVerification = z.infer<typeof PendingVerificationSchema>;

export const BootRecordSchema = z.discriminatedUnion("kind", [
  PendingVerificationSchema,
  z.object({ kind: z.literal("verified"), release: VerifiedReleaseSchema, attempts, at: timestamp }),
  z.object({
    kind: z.literal("rolling-back"),
    from: VerifiedReleaseSchema,
    /** The deployment the rollback boots (normally `previous`). */
    to: VerifiedReleaseSchema,
    reason: z.string(),
    at: timestamp,
  }),
  z.object({
    kind: z.literal("rolled-back"),
    from: VerifiedReleaseSchema,
    /** What actually booted after leaving `from`. */
    to: VerifiedReleaseSchema,
    reason: z.string(),
    at: timestamp,
  }),
  z.object({ kind: z.literal("held"), release: VerifiedReleaseSchema, previous: VerifiedReleaseSchema, reason: z.string(), at: timestamp }),
]);
export type BootRecord = z.infer<typeof BootRecordSchema>;
export type RollingBack = Extract<BootRecord, { kind: "rolling-back" }>;
export type Held = Extract<BootRecord, { kind: "held" }>;

/** The record to persist before calling FinalizeDeployment for `release`. */
export function startVerification(
  release: VerifiedRelease,
  previous: VerifiedRelease,
  now: Date,
  bootId?: string,
): PendingVerification {
  return {
    kind: "pending",
    release: { version: release.version, payload: release.payload },
    attempt: 1,
    finalizedAt: now.toISOString(),
    previous: { version: previous.version, payload: previous.payload },
    failedChecks: [],
    ...(bootId !== undefined ? { bootId } : {}),
  };
}

/** How messages name a release: its version, or its payload when it has none. */
export function releaseLabel(release: VerifiedRelease): string {
  return release.version !== "" ? release.version : release.payload;
}

export function sameRelease(a: VerifiedRelease | undefined, b: VerifiedRelease | undefined): boolean {
  return a !== undefined && b !== undefined && a.payload === b.payload;
}
