/**
 * `agentctl status`: the status document as rpm-ostree would print it, a short aligned `Key: value` block.
 * Pure: (view, boot record, last health, now, zone) → text, so every line is a table test.
 */
import type { StatusView } from "../../agent/view.js";
import type { DenylistEntry, WaitReason } from "../../agent/state.js";
import type { BootRecord } from "../../health/record.js";
import type { HealthReport } from "../../health/report.js";
import { describeBootRecord, healthVerdictLine } from "./health.js";
import { alignedBlock, localTime, plural, progressBar, relativeTime, release, timeInWords, type Row } from "./words.js";

/** The `--json` contract: the status document unchanged, plus a version so readers can check what they got. */
export const STATUS_FORMAT_VERSION = 1;

export function statusJson(view: StatusView): Record<string, unknown> {
  return { format_version: STATUS_FORMAT_VERSION, ...view };
}

export interface StatusRenderInput {
  view: StatusView;
  /** Boot verification and last health run, from the state file; the daemon's document does not carry them. */
  boot?: BootRecord | undefined;
  lastHealth?: HealthReport | undefined;
  now: Date;
  /** IANA zone of the node's wall clock. */
  zone: string;
  /** `-v`: payloads in full, the denylist entries, when the state last changed. */
  verbose: boolean;
}

/** What each wait kind is about, as the first words of the Waiting line. */
export const WAIT_LABELS: Record<WaitReason["kind"], string> = {
  window: "maintenance window",
  lock: "reboot lock",
  sessions: "logged-in users",
  inhibitor: "shutdown inhibitor",
  hook: "pre-reboot hook",
  paused: "paused",
  "finalize-failed": "finalization failed",
  strategy: "update strategy",
};

const CHECK_OUTCOMES: Record<NonNullable<StatusView["last_check"]>["outcome"], string> = {
  update: "update found",
  "no-update": "no update",
  error: "failed",
  "not-in-graph": "the booted release is not in the update graph",
  deadend: "no update; the booted release is a dead-end",
};

export function renderStatus(input: StatusRenderInput): string {
  const { view, now, zone, verbose } = input;
  const rows: Row[] = [];
  rows.push(["Daemon", view.daemon === "running" ? "running" : "not running (shown from the state file)"]);
  rows.push(["State", `${view.state}; ${view.status_text}`]);
  if (verbose && view.last_state_change) rows.push(["Since", timeInWords(view.last_state_change, now, zone)]);
  rows.push(["Strategy", view.strategy]);
  rows.push(["Booted", view.booted ? release(view.booted, verbose) : "unknown (only agentd asks rpm-ostree)"]);
  rows.push(...deploymentRows(input));
  if (view.progress) {
    const bar = view.progress.percent === undefined ? "" : `${progressBar(view.progress.percent)}  `;
    rows.push(["Progress", `${bar}${view.progress.message}`]);
  }
  const waiting = waitingRow(input);
  if (waiting) rows.push(waiting);
  if (view.last_check) rows.push(["Last check", `${timeInWords(view.last_check.at, now, zone)}: ${CHECK_OUTCOMES[view.last_check.outcome]}`]);
  if (view.last_error) {
    const e = view.last_error;
    rows.push(["Last error", `${e.code}: ${e.message}`, `(${timeInWords(e.at, now, zone)})`]);
  }
  if (view.paused_until) rows.push(["Paused until", pausedWords(view.paused_until, now, zone)]);
  if (view.deadend_reason !== null) {
    rows.push(["Dead-end", `WARNING: the booted release is a dead-end and gets no further updates: ${view.deadend_reason}`]);
  }
  rows.push(denylistRow(view.denylist, verbose, now, zone));
  if (input.boot) rows.push(["Boot check", describeBootRecord(input.boot, now, zone)]);
  if (input.lastHealth) {
    rows.push(["Health", `${healthVerdictLine(input.lastHealth)}, ${timeInWords(input.lastHealth.finishedAt, now, zone)}`]);
  }
  return alignedBlock(rows).join("\n") + "\n";
}

function deploymentRows({ view, verbose }: StatusRenderInput): Row[] {
  const rows: Row[] = [];
  if (view.staged) {
    const note = view.staged.finalization_locked
      ? verbose
        ? ", finalization locked (applied only when agentd reboots)"
        : ""
      : ", NOT locked: any reboot applies it";
    rows.push(["Staged", `${release(view.staged, verbose)}${note}`]);
  }
  // The target differs from what is staged while a newer release replaces it, and is all we know without agentd.
  if (view.target && view.target.payload !== view.staged?.payload) rows.push(["Target", release(view.target, verbose)]);
  return rows;
}

/** Why a staged update has not rebooted yet. A staged update always gets this line: "why not now?" is the question. */
function waitingRow({ view, now, zone }: StatusRenderInput): Row | undefined {
  if (view.waiting) {
    const w = view.waiting;
    const row: Row = ["Waiting", `${WAIT_LABELS[w.kind] ?? w.kind}: ${w.message}`];
    if (w.until) row.push(`${w.kind === "window" ? "opens" : "until"} ${timeInWords(w.until, now, zone)}`);
    return row;
  }
  if (view.state !== "staged") return undefined;
  if (view.paused_until && Date.parse(view.paused_until) > now.getTime()) {
    return ["Waiting", `paused: agentd does not reboot until ${timeInWords(view.paused_until, now, zone)}`];
  }
  return ["Waiting", "no reason recorded yet: agentd checks whether it may reboot at its next tick"];
}

function pausedWords(iso: string, now: Date, zone: string): string {
  const ms = Date.parse(iso);
  if (!Number.isNaN(ms) && ms <= now.getTime()) return `${localTime(iso, zone)} (${relativeTime(iso, now)}, over)`;
  return `${timeInWords(iso, now, zone)} (agentctl resume ends it early)`;
}

function denylistRow(entries: readonly DenylistEntry[], verbose: boolean, now: Date, zone: string): Row {
  if (entries.length === 0) return ["Denylist", "empty"];
  const row: Row = ["Denylist", `${plural(entries.length, "release")} never installed automatically (agentctl denylist)`];
  if (verbose) {
    for (const e of entries) row.push(`${release(e, true)}: ${e.reason} (${e.source}, ${localTime(e.at, zone)}, ${relativeTime(e.at, now)})`);
  }
  return row;
}
