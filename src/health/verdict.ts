/**
 * Boot verification: what the agent does on start, given what it recorded before the last reboot, what booted,
 * and (once run) the health checks. Pure; the agent persists `record` first, then executes `effects` in order.
 *
 * The agent calls this twice per start: with `health: "not-run-yet"` (the answer contains `run-checks` unless
 * nothing needs checking), then again with the report. Both calls are safe to repeat after a crash.
 */
import { failedParts, failingRequiredNames, type HealthReport } from "./report.js";
import { releaseLabel as label, sameRelease, type BootRecord, type Held, type PendingVerification, type RollingBack, type VerifiedRelease } from "./record.js";

export interface BootFacts {
  booted: VerifiedRelease;
  /** The staged deployment, if any. */
  staged: VerifiedRelease | undefined;
  /** What `Rollback` would boot; undefined when there is no rollback deployment. */
  rollback: VerifiedRelease | undefined;
  /** The current boot ID, when known (compared with the one in a pending record). */
  bootId?: string | undefined;
  /**
   * The deployment the next plain reboot boots (the first non-staged one in boot order), when known. After a
   * Rollback whose reboot was blocked it is no longer the booted one, and calling Rollback again would undo it.
   */
  nextBoot?: VerifiedRelease | undefined;
}

export interface VerificationConfig {
  /** `health.max_boot_attempts`: boots into a failing release before rolling back (greenboot's default: 3). */
  maxBootAttempts: number;
  /** `health.on_failure`. */
  onFailure: "rollback" | "hold";
}

export type HealthInput = HealthReport | "not-run-yet";

export interface BootInput {
  record: BootRecord | null;
  facts: BootFacts;
  health: HealthInput;
  config: VerificationConfig;
  now: Date;
}

export type BootEffect =
  | { kind: "run-checks" }
  | { kind: "record-good"; release: VerifiedRelease }
  | { kind: "run-green" }
  | { kind: "run-red" }
  | { kind: "run-post-boot-hooks" }
  | { kind: "release-slot" }
  /** `Cleanup(["pending-deploy"])`: a staged deployment would be finalized by the next reboot, and blocks Rollback. */
  | { kind: "cleanup-staged" }
  | { kind: "reboot-again"; release: VerifiedRelease; attempt: number }
  | { kind: "rollback"; from: VerifiedRelease; to: VerifiedRelease }
  /** A plain reboot: the rollback already reordered the deployments but its reboot did not happen. */
  | { kind: "reboot"; into: VerifiedRelease }
  | { kind: "denylist"; release: VerifiedRelease; reason: string }
  /** Stay on this release and keep the reboot slot: say so loudly (journal error, MOTD, status). */
  | { kind: "hold"; message: string };

export interface BootDecision {
  /** The record to persist (null: none). */
  record: BootRecord | null;
  effects: BootEffect[];
  /** One line for the journal. */
  message: string;
  severity: "info" | "warning" | "error";
}

export function decideBoot(input: BootInput): BootDecision {
  const { record } = input;
  switch (record?.kind) {
    case "pending":
      return decidePending(record, input);
    case "rolling-back":
      return decideRollingBack(record, input);
    case "held":
      return decideHeld(record, input);
    default:
      return decideOrdinaryBoot(input);
  }
}

function decidePending(rec: PendingVerification, input: BootInput): BootDecision {
  const { facts, health, config, now } = input;
  const max = Math.max(1, config.maxBootAttempts);
  const x = label(rec.release);

  if (sameRelease(facts.booted, rec.release)) {
    if (rec.rebootRequestedIn !== undefined && facts.bootId !== undefined && rec.rebootRequestedIn === facts.bootId) {
      return {
        record: rec,
        effects: [{ kind: "cleanup-staged" }, { kind: "reboot-again", release: rec.release, attempt: rec.attempt }],
        message: `the reboot into ${x} for boot attempt ${rec.attempt} of ${max} did not happen; asking for it again`,
        severity: "warning",
      };
    }
    if (health === "not-run-yet") {
      return { record: rec, effects: [{ kind: "run-checks" }], message: `booted ${x} (boot attempt ${rec.attempt} of ${max}); running health checks`, severity: "info" };
    }
    if (health.verdict !== "unhealthy") return markGood(rec.release, rec.attempt, health, now);

    const failing = failingRequiredNames(health);
    const allFailing = [...new Set([...rec.failedChecks, ...failing])];
    if (config.onFailure === "hold") {
      return hold(rec.release, rec.previous, `${x} failed required health checks (${failing.join(", ")}) and on_failure is "hold"`, now);
    }
    if (rec.attempt < max) {
      return {
        record: { ...rec, attempt: rec.attempt + 1, failedChecks: allFailing, ...(facts.bootId !== undefined ? { rebootRequestedIn: facts.bootId } : {}) },
        effects: [{ kind: "run-red" }, { kind: "cleanup-staged" }, { kind: "reboot-again", release: rec.release, attempt: rec.attempt + 1 }],
        message: `${x} failed required health checks on boot attempt ${rec.attempt} of ${max} (${failing.join(", ")}); rebooting into it again`,
        severity: "error",
      };
    }
    const reason = `failed required health checks on ${rec.attempt} boot${rec.attempt === 1 ? "" : "s"} (${allFailing.join(", ")})`;
    return rollBack(rec.release, rec.previous, reason, facts, now, [{ kind: "run-red" }]);
  }

  const sameBoot = rec.bootId !== undefined && facts.bootId !== undefined && rec.bootId === facts.bootId;
  if (sameBoot && sameRelease(facts.staged, rec.release)) {
    // The agent restarted between finalizing and the reboot: the reboot may still be under way, so keep the
    // record (and the slot) for the boot that follows.
    return { record: rec, effects: [], message: `agent restarted after finalizing ${x}, before the reboot; nothing to verify yet`, severity: "info" };
  }
  if (sameBoot || sameRelease(facts.staged, rec.release)) {
    // No reboot since finalizing, or the release is still staged (the finalize call failed, so the reboot did
    // not boot it): it was never tried. Not its fault: forget the record and let the update logic carry on.
    const rest = decideOrdinaryBoot({ ...input, record: null });
    return {
      ...rest,
      record: null,
      message: `${x} was finalized but the node never booted it (booted ${label(facts.booted)}); not counting that against it. ${rest.message}`,
      severity: "warning",
    };
  }

  const where = sameRelease(facts.booted, rec.previous)
    ? `the node came back on the previous release ${label(rec.previous)} (bootloader fallback, manual rollback or power loss)`
    : `the node booted ${label(facts.booted)} instead`;
  const earlier = rec.failedChecks.length > 0 ? ` after failing required health checks (${rec.failedChecks.join(", ")})` : "";
  const reason = `did not boot${earlier}: ${where}`;
  const leaving: RollingBack = { kind: "rolling-back", from: rec.release, to: facts.booted, reason, at: now.toISOString() };
  const rest = decideAfterRollback(leaving, input);
  return { ...rest, message: `${x} ${reason}; it will not be retried automatically. ${rest.message}`, severity: "error" };
}

function decideRollingBack(rec: RollingBack, input: BootInput): BootDecision {
  if (!sameRelease(input.facts.booted, rec.from)) return decideAfterRollback(rec, input);
  // Still on the release we were leaving: the agent stopped, or the reboot was blocked, between deciding and
  // rebooting. Finish the job; the denylist entry is repeated because it is idempotent and might be missing.
  const { nextBoot } = input.facts;
  if (nextBoot !== undefined && !sameRelease(nextBoot, rec.from)) {
    return {
      record: rec,
      effects: [{ kind: "denylist", release: rec.from, reason: rec.reason }, { kind: "cleanup-staged" }, { kind: "reboot", into: nextBoot }],
      message: `the rollback from ${label(rec.from)} is done but its reboot did not happen; rebooting into ${label(nextBoot)}`,
      severity: "error",
    };
  }
  return rollBack(rec.from, rec.to, rec.reason, input.facts, input.now, []);
}

function decideHeld(rec: Held, input: BootInput): BootDecision {
  const { facts, health, config, now } = input;
  const x = label(rec.release);
  if (!sameRelease(facts.booted, rec.release)) {
    const reason = `${rec.reason}; then the node booted ${label(facts.booted)}`;
    const leaving: RollingBack = { kind: "rolling-back", from: rec.release, to: facts.booted, reason, at: now.toISOString() };
    const rest = decideAfterRollback(leaving, input);
    return { ...rest, message: `left held release ${x}. ${rest.message}` };
  }
  if (health === "not-run-yet") {
    return { record: rec, effects: [{ kind: "run-checks" }], message: `still on held release ${x}; running health checks`, severity: "warning" };
  }
  if (health.verdict !== "unhealthy") return markGood(rec.release, 1, health, now);
  const failing = failingRequiredNames(health);
  if (config.onFailure === "rollback") {
    // The admin switched on_failure from hold to rollback: do what the configuration now says.
    const reason = `failed required health checks (${failing.join(", ")}) while held`;
    return rollBack(rec.release, rec.previous, reason, facts, now, [{ kind: "run-red" }]);
  }
  return hold(rec.release, rec.previous, `${x} still fails required health checks (${failing.join(", ")}) and on_failure is "hold"`, now);
}

/**
 * The first boot after leaving a release (by our rollback, a bootloader fallback or an admin): the release left
 * behind is denylisted (again: idempotent, and the agent may have stopped before doing it), the booted one is
 * checked for status but never held responsible.
 */
function decideAfterRollback(rec: RollingBack, input: BootInput): BootDecision {
  const { facts, health } = input;
  const denylist: BootEffect = { kind: "denylist", release: rec.from, reason: rec.reason };
  // A bootloader fallback leaves the release that failed first in boot order: the next plain reboot (an admin's,
  // a power cut) would try it again. Drop it, as greenboot's fallback check does with `rpm-ostree rollback`.
  const forget: BootEffect[] = sameRelease(facts.nextBoot, rec.from) && !sameRelease(facts.booted, rec.from) ? [{ kind: "cleanup-staged" }] : [];
  const settled: BootRecord = { kind: "rolled-back", from: rec.from, to: facts.booted, reason: rec.reason, at: rec.at };
  const summary = `rolled back from ${label(rec.from)} to ${label(facts.booted)}: ${rec.reason}`;
  if (health === "not-run-yet") {
    return { record: rec, effects: [denylist, { kind: "run-checks" }], message: `${summary}; running health checks`, severity: "warning" };
  }
  if (health.verdict !== "unhealthy") {
    return {
      record: settled,
      effects: [denylist, ...forget, { kind: "run-green" }, { kind: "run-post-boot-hooks" }, { kind: "release-slot" }],
      message: `${summary}; ${label(facts.booted)} passed its health checks`,
      severity: "warning",
    };
  }
  const failing = failingRequiredNames(health);
  const message =
    `${summary}; ${label(facts.booted)} also fails required health checks (${failing.join(", ")}). ` +
    `Not rolling back further: an admin needs to look at this node`;
  return { record: settled, effects: [denylist, ...forget, { kind: "run-red" }, { kind: "hold", message }], message, severity: "error" };
}

/** No update to verify (none recorded, or verified / rolled back earlier): checks only inform status. */
function decideOrdinaryBoot(input: BootInput): BootDecision {
  const { record, health } = input;
  if (health === "not-run-yet") {
    return { record, effects: [{ kind: "run-checks" }], message: "no update to verify; running health checks", severity: "info" };
  }
  if (health.verdict === "unhealthy") {
    return {
      record,
      effects: [{ kind: "run-red" }],
      message: `required health checks failed (${failingRequiredNames(health).join(", ")}); no update is being verified, so nothing is rolled back`,
      severity: "error",
    };
  }
  return { record, effects: [{ kind: "run-green" }, { kind: "release-slot" }], message: `health checks passed${degradedNote(health)}`, severity: health.verdict === "degraded" ? "warning" : "info" };
}

function markGood(release: VerifiedRelease, attempts: number, health: HealthReport, now: Date): BootDecision {
  return {
    record: { kind: "verified", release, attempts, at: now.toISOString() },
    effects: [{ kind: "record-good", release }, { kind: "run-green" }, { kind: "run-post-boot-hooks" }, { kind: "release-slot" }],
    message: `${label(release)} passed its health checks${degradedNote(health)}; update complete`,
    severity: health.verdict === "degraded" ? "warning" : "info",
  };
}

function hold(release: VerifiedRelease, previous: VerifiedRelease, why: string, now: Date): BootDecision {
  const message = `${why}: HOLDING on ${label(release)} and keeping the reboot slot. Fix the node, or run \`rpm-ostree rollback -r\` to leave it`;
  return {
    record: { kind: "held", release, previous, reason: why, at: now.toISOString() },
    effects: [{ kind: "run-red" }, { kind: "hold", message }],
    message,
    severity: "error",
  };
}

function rollBack(
  from: VerifiedRelease,
  previous: VerifiedRelease,
  reason: string,
  facts: BootFacts,
  now: Date,
  before: BootEffect[],
): BootDecision {
  if (facts.rollback === undefined) {
    return hold(from, previous, `${label(from)} ${reason}, but there is no rollback deployment to go back to`, now);
  }
  return {
    record: { kind: "rolling-back", from, to: facts.rollback, reason, at: now.toISOString() },
    effects: [
      ...before,
      { kind: "denylist", release: from, reason },
      { kind: "cleanup-staged" },
      { kind: "rollback", from, to: facts.rollback },
    ],
    message: `${label(from)} ${reason}; rolling back to ${label(facts.rollback)}`,
    severity: "error",
  };
}

function degradedNote(health: HealthReport): string {
  const wanted = failedParts(health.wanted).map((p) => p.name);
  return wanted.length > 0 ? ` (degraded: wanted checks failed: ${wanted.join(", ")})` : "";
}
