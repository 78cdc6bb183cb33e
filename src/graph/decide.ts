/**
 * Which release to update to, as a pure function of the graph and the node's facts.
 *
 * Zincati's rules (cincinnati.md §8): the booted node is the first whose payload matches; candidates are
 * its direct edge targets (no path search); denylisted payloads are skipped; the newest by
 * (age_index, version, payload) wins; a winner that is not newer than the booted release is a downgrade,
 * taken only when allowed. Where we differ, on purpose:
 * - an invalid candidate is skipped with its reason instead of failing the whole check;
 * - a booted release missing from the graph is a Plan with `booted.found = false` (Zincati: a warning and
 *   no update), so the agent can report it without an error path; the CLI turns it into exit 2;
 * - a booted node that is itself invalid throws GRAPH_NODE_INVALID: without its age_index no candidate
 *   can be told apart from a downgrade;
 * - a candidate with the booted payload is never chosen, even with downgrades allowed;
 * - with `throttle`, the policy engine's rollout rule is applied per candidate (static graph files).
 * Like Zincati, edges are trusted as sent: the server already drops edges out of dead-ends, and a static
 * graph that keeps one means its author wants that move.
 */
import { AgentError } from "../errors.js";
import { deadendStatus, toRelease, type Graph, type GraphNode } from "./model.js";
import type { Release } from "./release.js";
import { rolloutServedAt, rolloutThrottling } from "./throttle.js";

export type Verdict = "chosen" | "older" | "downgrade" | "denylisted" | "throttled" | "invalid";

export interface Candidate {
  /** Position in `graph.nodes`. */
  position: number;
  version: string;
  payload: string;
  ageIndex: number | undefined;
  verdict: Verdict;
  /** Why, in words an admin understands. */
  reason: string;
  /** When throttling was evaluated and the node carries a rollout: its state at `now`. */
  rollout: { throttling: number; servedAt: number | undefined } | undefined;
}

export interface BootedRelease {
  found: boolean;
  position: number | undefined;
  /** From the graph when found, else what the caller gave. */
  version: string;
  payload: string;
  ageIndex: number | undefined;
  deadend: boolean;
  /** `(unknown reason)` when the server gave none; undefined when not a dead-end. */
  deadendReason: string | undefined;
}

export interface Plan {
  booted: BootedRelease;
  /** The release to move to, or undefined for "no update". */
  target: Release | undefined;
  /** Every direct edge target of the booted node, newest first, invalid ones last. */
  candidates: Candidate[];
  /** One line for logs and the CLI: the decision and why. */
  summary: string;
}

export interface DecideInput {
  graph: Graph;
  /** The agent passes the payload (Zincati matches payloads); the CLI may pass a version instead or too. */
  booted: { payload?: string | undefined; version?: string | undefined };
  /** Payloads never to pick. */
  denylist?: ReadonlySet<string> | undefined;
  allowDowngrade: boolean;
  /** Apply rollout throttling client-side (`now` in Unix seconds). */
  throttle?: { wariness: number; now: number } | undefined;
}

export function decideUpdate(input: DecideInput): Plan {
  const { graph } = input;
  const position = findBooted(graph, input.booted);
  if (position === undefined) {
    const named = input.booted.payload || input.booted.version || "(none given)";
    return {
      booted: { found: false, position: undefined, version: input.booted.version ?? "", payload: input.booted.payload ?? "", ageIndex: undefined, deadend: false, deadendReason: undefined },
      target: undefined,
      candidates: [],
      summary: `no update: booted release ${named} not found in the update graph`,
    };
  }
  const node = graph.nodes[position]!;
  const dead = deadendStatus(node.metadata);
  if (node.invalid !== undefined || node.ageIndex === undefined) {
    throw new AgentError("GRAPH_NODE_INVALID", `the booted release ${node.version || node.payload} is invalid in the graph: ${node.invalid ?? "no age_index"}`, {
      where: graph.source,
      hint: "the update server sent a broken node for this release; no update until it is fixed",
      details: { kind: "client_failed_node_parsing" },
    });
  }
  const booted: BootedRelease = {
    found: true,
    position,
    version: node.version,
    payload: node.payload,
    ageIndex: node.ageIndex,
    deadend: dead.deadend,
    deadendReason: dead.reason,
  };
  const candidates = targetsOf(graph, position).map((to) => judge(to, graph.nodes[to]!, node, input));
  const eligible = candidates.filter((c) => c.verdict === "chosen");
  eligible.sort((a, b) => compareNodes(graph.nodes[b.position]!, graph.nodes[a.position]!));
  const best = eligible[0];
  for (const other of eligible.slice(1)) {
    other.verdict = "older";
    other.reason = `older than ${best!.version} (age index ${best!.ageIndex})` + rolloutNote(other);
  }
  if (best !== undefined) {
    const downgrade = compareNodes(graph.nodes[best.position]!, node) <= 0;
    const base = eligible.length === 1 ? "the only eligible release" : `newest of ${eligible.length} eligible releases`;
    best.reason = base + (downgrade ? ", a downgrade (allowed by configuration)" : "") + rolloutNote(best);
  }
  candidates.sort(candidateOrder(graph));
  const targetNode = best === undefined ? undefined : graph.nodes[best.position]!;
  return {
    booted,
    target: targetNode === undefined ? undefined : toRelease(targetNode),
    candidates,
    summary: summarize(booted, candidates, targetNode),
  };
}

function findBooted(graph: Graph, booted: DecideInput["booted"]): number | undefined {
  const { payload, version } = booted;
  if (payload !== undefined && payload !== "") {
    const index = graph.nodes.findIndex((n) => n.payload === payload);
    if (index >= 0) return index;
  }
  if (version !== undefined && version !== "") {
    const index = graph.nodes.findIndex((n) => n.version === version);
    if (index >= 0) return index;
  }
  return undefined;
}

/** Direct edge targets of `from`, each once, in edge order. */
function targetsOf(graph: Graph, from: number): number[] {
  const seen = new Set<number>();
  for (const [source, to] of graph.edges) if (source === from) seen.add(to);
  return [...seen];
}

function judge(position: number, node: GraphNode, booted: GraphNode, input: DecideInput): Candidate {
  const candidate: Candidate = { position, version: node.version, payload: node.payload, ageIndex: node.ageIndex, verdict: "chosen", reason: "", rollout: undefined };
  const verdict = (v: Verdict, reason: string): Candidate => Object.assign(candidate, { verdict: v, reason });
  if (node.invalid !== undefined) return verdict("invalid", `skipped, the graph's node is invalid: ${node.invalid}`);
  if (input.denylist?.has(node.payload)) return verdict("denylisted", "its payload is in the denylist");
  if (input.throttle !== undefined) {
    const { wariness, now } = input.throttle;
    const throttling = rolloutThrottling(node.metadata, now);
    if (throttling !== undefined) {
      candidate.rollout = { throttling, servedAt: rolloutServedAt(node.metadata, wariness, now) };
      if (wariness > throttling) {
        const servedAt = candidate.rollout.servedAt;
        const when = servedAt === undefined ? "never at the current rollout settings" : `from ${formatEpoch(servedAt)}`;
        return verdict("throttled", `held back by its rollout: ${formatFraction(throttling)} of the fleet served now, wariness ${formatFraction(wariness)} served ${when}`);
      }
    }
  }
  if (node.payload === booted.payload) return verdict("downgrade", "this is the booted release");
  if (compareNodes(node, booted) <= 0 && !input.allowDowngrade) {
    return verdict("downgrade", `not newer than the booted release (age index ${node.ageIndex} ≤ ${booted.ageIndex}); downgrades are not allowed`);
  }
  return candidate; // eligible; the reason is written once the winner is known
}

function rolloutNote(candidate: Candidate): string {
  return candidate.rollout === undefined ? "" : `; its rollout serves ${formatFraction(candidate.rollout.throttling)} of the fleet`;
}

/** Zincati's release order: age_index, then version, then payload (byte-wise, like Rust's String Ord). */
function compareNodes(a: Pick<GraphNode, "ageIndex" | "version" | "payload">, b: Pick<GraphNode, "ageIndex" | "version" | "payload">): number {
  const ageA = a.ageIndex ?? -1;
  const ageB = b.ageIndex ?? -1;
  if (ageA !== ageB) return ageA < ageB ? -1 : 1;
  return compareCodePoints(a.version, b.version) || compareCodePoints(a.payload, b.payload);
}

/** Code-point order equals UTF-8 byte order; plain `<` compares UTF-16 units and differs above U+FFFF. */
function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const left = [...a];
  const right = [...b];
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const diff = left[i]!.codePointAt(0)! - right[i]!.codePointAt(0)!;
    if (diff !== 0) return diff < 0 ? -1 : 1;
  }
  return left.length < right.length ? -1 : left.length > right.length ? 1 : 0;
}

/** Newest first; invalid nodes (no age index to sort by) last, in graph order. */
function candidateOrder(graph: Graph): (a: Candidate, b: Candidate) => number {
  return (a, b) => {
    const aValid = a.verdict !== "invalid";
    const bValid = b.verdict !== "invalid";
    if (aValid !== bValid) return aValid ? -1 : 1;
    if (!aValid) return a.position - b.position;
    return compareNodes(graph.nodes[b.position]!, graph.nodes[a.position]!);
  };
}

function summarize(booted: BootedRelease, candidates: Candidate[], target: GraphNode | undefined): string {
  if (target !== undefined) return `update to ${target.version} (age index ${target.ageIndex})`;
  if (candidates.length === 0) {
    return booted.deadend
      ? `no update: the booted release is a dead-end (${booted.deadendReason})`
      : "no update: the graph offers no release to move to from the booted one";
  }
  if (candidates.length === 1) {
    const only = candidates[0]!;
    return `no update: the only candidate, ${only.version || `nodes[${only.position}]`}, is ${VERDICT_PHRASE[only.verdict]}`;
  }
  const counts = new Map<Verdict, number>();
  for (const c of candidates) counts.set(c.verdict, (counts.get(c.verdict) ?? 0) + 1);
  const parts = [...counts].map(([verdict, n]) => `${n} ${verdict}`);
  return `no update: none of ${candidates.length} candidates is eligible (${parts.join(", ")})`;
}

const VERDICT_PHRASE: Record<Verdict, string> = {
  chosen: "chosen",
  older: "older",
  downgrade: "a downgrade",
  denylisted: "denylisted",
  throttled: "held back by its rollout",
  invalid: "invalid",
};

/** Up to 6 decimals when that is exact, else every digit, so 0.6499999999999999 never prints as 0.65. */
export function formatFraction(value: number): string {
  const short = value.toFixed(6).replace(/\.?0+$/, "");
  return Number(short) === value ? short : String(value);
}

/** ISO 8601 in UTC, or `@<seconds>` for instants a Date cannot hold. */
export function formatEpoch(seconds: number): string {
  const ms = seconds * 1000;
  return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString().replace(".000Z", "Z") : `@${seconds}`;
}
