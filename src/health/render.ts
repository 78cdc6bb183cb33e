/** What people see: the MOTD fragment written at boot and the `agentctl health` text. Pure. */
import type { PartResult } from "../host/run-parts.js";
import { releaseLabel as label, type BootRecord } from "./record.js";
import { describeFailure, failedParts, failureCause, type HealthReport } from "./report.js";

/**
 * A MOTD fragment in the spirit of greenboot's `boot-status` (INDETERMINATE / GREEN / RED), naming the failing
 * checks and what the agent is doing about them, so whoever logs in first sees why the node rebooted or rolled back.
 */
export function bootStatusMotd(report: HealthReport | "not-run-yet", verification: BootRecord | null): string {
  const lines = [headline(report)];
  const note = verification ? verificationNote(verification, report) : undefined;
  if (note) lines.push(note);
  if (report !== "not-run-yet" && report.verdict !== "healthy") lines.push("Run `agentctl health` for details.");
  return lines.join("\n") + "\n";
}

function headline(report: HealthReport | "not-run-yet"): string {
  if (report === "not-run-yet") return "update-agent: health checks have not run yet. Boot status is INDETERMINATE.";
  switch (report.verdict) {
    case "healthy":
      return "update-agent: health checks passed. Boot status is GREEN.";
    case "degraded":
      return `update-agent: required health checks passed, wanted checks failed: ${failedParts(report.wanted).map(describeFailure).join(", ")}. Boot status is GREEN (degraded).`;
    case "unhealthy":
      return `update-agent: required health checks FAILED: ${failedParts(report.required).map(describeFailure).join(", ")}. Boot status is RED.`;
  }
}

function verificationNote(record: BootRecord, report: HealthReport | "not-run-yet"): string | undefined {
  switch (record.kind) {
    case "pending":
      return report !== "not-run-yet" && report.verdict === "unhealthy"
        ? `Rebooting into ${label(record.release)} again (boot attempt ${record.attempt}).`
        : `Verifying the update to ${label(record.release)} (boot attempt ${record.attempt}).`;
    case "verified":
      return `The update to ${label(record.release)} was verified at ${record.at}.`;
    case "rolling-back":
      return `ROLLING BACK from ${label(record.from)} to ${label(record.to)}: ${record.reason}.`;
    case "rolled-back":
      return `ROLLED BACK from ${label(record.from)} to ${label(record.to)}: ${record.reason}. ${label(record.from)} will not be installed again automatically.`;
    case "held":
      return `HELD on ${label(record.release)}: ${record.reason}. The reboot slot stays taken until an admin acts.`;
  }
}

export interface FormatOptions {
  /** Show the output tail of passing checks too (failing ones always show it). */
  verbose?: boolean;
}

/** `agentctl health`: the verdict, then one line per check with its output tail when it failed. */
export function formatHealthReport(report: HealthReport, opts: FormatOptions = {}): string {
  const all = [...report.required, ...report.wanted];
  const nameWidth = Math.max(4, ...all.map((p) => p.name.length));
  const lines = [
    `Health: ${report.verdict.toUpperCase()} (${verdictSummary(report)})`,
    `Checked ${report.startedAt}, took ${formatDuration(Date.parse(report.finishedAt) - Date.parse(report.startedAt))}`,
    "",
  ];
  const section = (title: string, parts: PartResult[]) => {
    lines.push(`${title}:`);
    if (parts.length === 0) lines.push("  (none)");
    for (const part of parts) lines.push(...formatPart(part, nameWidth, opts.verbose ?? false));
  };
  section("Required checks", report.required);
  section("Wanted checks", report.wanted);
  if (report.warnings.length > 0) {
    lines.push("Warnings:");
    for (const w of report.warnings) lines.push(`  ${w}`);
  }
  return lines.join("\n") + "\n";
}

function verdictSummary(report: HealthReport): string {
  const names = (parts: PartResult[]) => failedParts(parts).map((p) => p.name).join(", ");
  if (report.verdict === "unhealthy") return `required checks failed: ${names(report.required)}`;
  if (report.verdict === "degraded") return `wanted checks failed: ${names(report.wanted)}`;
  return passedSummary(report);
}

/** A healthy run in words: `3 checks passed`, or `no health checks installed` when every file was skipped. */
export function passedSummary(report: HealthReport): string {
  const ran = [...report.required, ...report.wanted].filter((p) => p.skipped === null).length;
  return ran === 0 ? "no health checks installed" : `${ran} check${ran === 1 ? "" : "s"} passed`;
}

function formatPart(part: PartResult, nameWidth: number, verbose: boolean): string[] {
  const name = part.name.padEnd(nameWidth);
  if (part.skipped !== null) return [`  skip  ${name}  skipped: ${part.skipped}`];
  const status = part.ok ? "ok  " : "FAIL";
  const cause = part.ok ? "exit 0" : failureCause(part);
  const out = [`  ${status}  ${name}  ${cause.padEnd(9)}  ${formatDuration(part.durationMs).padStart(7)}  ${part.path}`];
  if ((verbose || !part.ok) && part.outputTail !== "") {
    for (const line of part.outputTail.split("\n")) out.push(`        | ${line}`);
  }
  return out;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "?";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}
