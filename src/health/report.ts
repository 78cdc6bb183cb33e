/** The result of one health-check run, and the pure rules that turn check results into a verdict. */
import type { PartResult } from "../host/run-parts.js";

/**
 * `healthy`: every required and wanted check passed. `degraded`: required checks passed, a wanted one failed
 * (reported, never a reason to roll back). `unhealthy`: a required check failed, timed out or could not start.
 */
export type HealthVerdict = "healthy" | "degraded" | "unhealthy";

/** JSON-friendly: written to the state file and returned by `agentctl health --json`. */
export interface HealthReport {
  verdict: HealthVerdict;
  required: PartResult[];
  wanted: PartResult[];
  /** ISO 8601. */
  startedAt: string;
  finishedAt: string;
  /** Things the admin should know that are not check failures (a disabled check that does not exist, ...). */
  warnings: string[];
}

/** Parts that ran (or tried to) and did not succeed; skipped files never count as failures. */
export function failedParts(parts: readonly PartResult[]): PartResult[] {
  return parts.filter((p) => p.skipped === null && !p.ok);
}

export function healthVerdict(required: readonly PartResult[], wanted: readonly PartResult[]): HealthVerdict {
  if (failedParts(required).length > 0) return "unhealthy";
  if (failedParts(wanted).length > 0) return "degraded";
  return "healthy";
}

/** `name (exit 1)`, `name (timed out)`, `name (killed by SIGKILL)`, `name (cannot start: ...)`. */
export function describeFailure(part: PartResult): string {
  return `${part.name} (${failureCause(part)})`;
}

export function failureCause(part: PartResult): string {
  if (part.timedOut) return "timed out";
  if (part.error !== null) return part.error;
  if (part.signal !== null) return `killed by ${part.signal}`;
  return `exit ${part.exitCode ?? "?"}`;
}

/** Names of the failing required checks, for denylist reasons and the MOTD. */
export function failingRequiredNames(report: HealthReport): string[] {
  return failedParts(report.required).map((p) => p.name);
}
