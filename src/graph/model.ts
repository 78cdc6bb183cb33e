/**
 * The update graph as the agent holds it after parsing: every node keeps its position (edges point at
 * positions), and a node that cannot be an update target carries the reason instead of failing the graph.
 */
import type { Release } from "./release.js";

/** Metadata keys the client reads (fedora-coreos-cincinnati `commons/src/metadata.rs`). */
export const METADATA = {
  ageIndex: "org.fedoraproject.coreos.releases.age_index",
  scheme: "org.fedoraproject.coreos.scheme",
  deadend: "org.fedoraproject.coreos.updates.deadend",
  deadendReason: "org.fedoraproject.coreos.updates.deadend_reason",
  barrier: "org.fedoraproject.coreos.updates.barrier",
  rollout: "org.fedoraproject.coreos.updates.rollout",
  startEpoch: "org.fedoraproject.coreos.updates.start_epoch",
  startValue: "org.fedoraproject.coreos.updates.start_value",
  durationMinutes: "org.fedoraproject.coreos.updates.duration_minutes",
} as const;

export interface GraphNode {
  /** `""` when the server sent none (the node is then invalid). */
  version: string;
  /** `""` when the server sent none (the node is then invalid). */
  payload: string;
  /** Only the string-valued entries; a non-string value makes the node invalid. */
  metadata: Record<string, string>;
  /** Parsed `age_index`, or undefined when missing or malformed. */
  ageIndex: number | undefined;
  /**
   * Why this node cannot be an update target, starting with its JSON path
   * (`nodes[3].metadata.org.fedoraproject.coreos.releases.age_index: expected a decimal integer`),
   * or undefined for a usable node.
   */
  invalid: string | undefined;
}

export type Edge = readonly [from: number, to: number];

export interface Graph {
  /** Where the graph came from (URL or file), for error messages. */
  source: string;
  nodes: GraphNode[];
  /** `[from, to]` positions in `nodes`, all in range (checked by the parser). */
  edges: Edge[];
}

/** A usable node as a `Release`, or undefined when the node is invalid. */
export function toRelease(node: GraphNode): Release | undefined {
  if (node.invalid !== undefined || node.ageIndex === undefined) return undefined;
  return { version: node.version, payload: node.payload, ageIndex: node.ageIndex, metadata: node.metadata };
}

export interface DeadendStatus {
  deadend: boolean;
  /** The server's reason, `(unknown reason)` when it sent none; undefined when not a dead-end. */
  reason: string | undefined;
}

/** Zincati's rule: a dead-end is exactly `deadend == "true"`; an empty reason reads `(unknown reason)`. */
export function deadendStatus(metadata: Record<string, string>): DeadendStatus {
  if (metadata[METADATA.deadend] !== "true") return { deadend: false, reason: undefined };
  const reason = metadata[METADATA.deadendReason];
  return { deadend: true, reason: reason === undefined || reason === "" ? "(unknown reason)" : reason };
}
