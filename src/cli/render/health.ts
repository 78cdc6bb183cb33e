/**
 * `agentctl health` and the health lines of `agentctl status`: the boot-verification record and the last
 * health-check run, in words. Pure; the check table itself is src/health/render.ts's `formatHealthReport`.
 */
import { releaseLabel as label, type BootRecord } from "../../health/record.js";
import { formatHealthReport, passedSummary } from "../../health/render.js";
import { describeFailure, failedParts, type HealthReport } from "../../health/report.js";
import { plural, timeInWords } from "./words.js";

/** One line about the last update's boot verification, e.g. "41.2 verified Tue 2026-12-01 10:00 UTC, ...". */
export function describeBootRecord(record: BootRecord, now: Date, zone: string): string {
  switch (record.kind) {
    case "pending":
      return `verifying ${label(record.release)} (boot attempt ${record.attempt}; falls back to ${label(record.previous)})`;
    case "verified":
      return `${label(record.release)} verified ${timeInWords(record.at, now, zone)} (${plural(record.attempts, "boot")})`;
    case "rolling-back":
      return `ROLLING BACK from ${label(record.from)} to ${label(record.to)}: ${record.reason}`;
    case "rolled-back":
      return `ROLLED BACK from ${label(record.from)} to ${label(record.to)} ${timeInWords(record.at, now, zone)}: ${record.reason}; ${label(record.from)} is denylisted`;
    case "held":
      return `HELD on ${label(record.release)}: ${record.reason}; the reboot slot stays taken until an admin acts`;
  }
}

/** `HEALTHY (3 checks passed)`, `UNHEALTHY: 10-disk (exit 1)`, `DEGRADED: 50-web (timed out)`. */
export function healthVerdictLine(report: HealthReport): string {
  const failures = (parts: HealthReport["required"]) => failedParts(parts).map(describeFailure).join(", ");
  switch (report.verdict) {
    case "unhealthy":
      return `UNHEALTHY: required checks failed: ${failures(report.required)}`;
    case "degraded":
      return `DEGRADED: wanted checks failed: ${failures(report.wanted)}`;
    case "healthy":
      return `HEALTHY (${passedSummary(report)})`;
  }
}

export interface HealthPageInput {
  /** The last run recorded by agentd (or the one `--run` just did). */
  report: HealthReport | undefined;
  boot: BootRecord | undefined;
  now: Date;
  zone: string;
  verbose: boolean;
  /** `--run`: this report is not what agentd decided the boot on. */
  ranNow: boolean;
}

/** The whole `agentctl health` text. */
export function renderHealthPage(input: HealthPageInput): string {
  const lines: string[] = [];
  if (input.boot) lines.push(`Boot verification: ${describeBootRecord(input.boot, input.now, input.zone)}`);
  else lines.push("Boot verification: none recorded (no update has been applied by agentd yet)");
  if (!input.report) {
    lines.push("Health: no health-check run recorded yet; agentd runs the checks after every boot", "");
    lines.push("Run `agentctl health --run` (as root) to run them now.");
    return lines.join("\n") + "\n";
  }
  lines.push("");
  lines.push(formatHealthReport(input.report, { verbose: input.verbose }).trimEnd());
  if (input.ranNow) {
    lines.push("");
    lines.push("Note: this run is for you only. It does not change the boot verdict or the state file: agentd decides");
    lines.push("on the run it does itself after each boot.");
  }
  return lines.join("\n") + "\n";
}
