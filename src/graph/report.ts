/** How a Plan is shown: the `agentctl plan` text and its stable `--json` form. Pure, so both are table-tested. */
import type { Graph } from "./model.js";
import { formatEpoch, formatFraction, type Candidate, type Plan } from "./decide.js";

export const PLAN_JSON_VERSION = 1;

export interface ThrottleReport {
  wariness: number;
  /** `option`: given by the admin; `anonymous`: the server's wariness for a client without node_uuid. */
  warinessSource: "option" | "anonymous";
  now: number;
}

export interface PlanReport {
  graph: Graph;
  plan: Plan;
  /** Undefined when throttling was not evaluated. */
  throttle: ThrottleReport | undefined;
}

export function planJson({ graph, plan, throttle }: PlanReport): Record<string, unknown> {
  return {
    format_version: PLAN_JSON_VERSION,
    graph: { source: graph.source, nodes: graph.nodes.length, edges: graph.edges.length },
    booted: {
      version: plan.booted.version,
      payload: plan.booted.payload,
      age_index: plan.booted.ageIndex ?? null,
      deadend: plan.booted.deadend,
      deadend_reason: plan.booted.deadendReason ?? null,
    },
    throttling:
      throttle === undefined
        ? null
        : { wariness: throttle.wariness, wariness_source: throttle.warinessSource, now: throttle.now, now_iso: formatEpoch(throttle.now) },
    target: plan.target === undefined ? null : { version: plan.target.version, payload: plan.target.payload, age_index: plan.target.ageIndex },
    summary: plan.summary,
    candidates: plan.candidates.map((c) => ({
      version: c.version,
      payload: c.payload,
      age_index: c.ageIndex ?? null,
      verdict: c.verdict,
      reason: c.reason,
      rollout: c.rollout === undefined ? null : { throttling: c.rollout.throttling, served_at: c.rollout.servedAt ?? null },
    })),
  };
}

export function renderPlan({ graph, plan, throttle }: PlanReport, rolloutCandidates: number): string {
  const lines: string[] = [];
  const field = (name: string, value: string) => lines.push(`${`${name}:`.padEnd(10)}${value}`);
  field("Graph", `${graph.source} (${plural(graph.nodes.length, "release")}, ${plural(graph.edges.length, "edge")})`);
  field("Booted", `${plan.booted.version} (age index ${plan.booted.ageIndex ?? "?"}, payload ${plan.booted.payload})`);
  if (plan.booted.deadend) {
    field("Warning", `this release is a dead-end and will not further auto-update: ${plan.booted.deadendReason}`);
  }
  if (throttle !== undefined) {
    const source = throttle.warinessSource === "anonymous" ? " (no --wariness given: the public server's wariness for a client without node_uuid)" : "";
    const scope = rolloutCandidates === 0 ? "; no candidate carries rollout metadata" : "";
    field("Rollout", `evaluated at ${formatEpoch(throttle.now)} for wariness ${formatFraction(throttle.wariness)}${source}${scope}`);
  } else if (rolloutCandidates > 0) {
    field("Rollout", `not evaluated: ${plural(rolloutCandidates, "candidate")} ${rolloutCandidates === 1 ? "carries" : "carry"} rollout metadata; give --wariness or --now to apply it as the server would`);
  }
  field("Decision", plan.summary);
  if (plan.candidates.length > 0) {
    lines.push("", ...table(plan.candidates));
  }
  return `${lines.join("\n")}\n`;
}

function table(candidates: Candidate[]): string[] {
  const rows = [["VERDICT", "VERSION", "AGE", "PAYLOAD", "REASON"], ...candidates.map((c) => [c.verdict, c.version || "-", c.ageIndex === undefined ? "-" : String(c.ageIndex), shortPayload(c.payload), c.reason])];
  const widths = [0, 1, 2, 3].map((column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) =>
    `  ${row
      .map((cell, column) => (column === 4 ? cell : column === 2 ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
      .join("  ")}`.trimEnd(),
  );
}

/** Enough of a payload to tell releases apart in a table; `--json` has the full value. */
export function shortPayload(payload: string): string {
  if (payload === "") return "-";
  const digest = /@(sha256:[0-9a-f]{12})[0-9a-f]*$/.exec(payload);
  if (digest) return digest[1]!;
  return payload.length > 12 ? payload.slice(0, 12) : payload;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
