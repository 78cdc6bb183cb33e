/**
 * Parses and validates an update-graph body (FCOS Cincinnati or OpenShift Cincinnati).
 *
 * What fails the whole graph (GRAPH_DECODE): a body that is not UTF-8 JSON, a top level that is not an
 * object, `nodes` or `edges` missing or not arrays, and any edge that is not a `[from, to]` pair of positions
 * inside `nodes`. Without a trustworthy node list and edge list no decision is possible.
 *
 * What only invalidates one node: a node that is not an object, lacks a non-empty `version` or `payload`,
 * has non-string metadata, an `age_index` that is not a decimal integer, or a scheme other than
 * `checksum`/`oci`. Zincati fails the whole check when one update target does not parse; we keep the
 * graph and let the decision skip that candidate with its reason, so one broken release cannot hold a
 * fleet back from a good one. The node keeps its position, so edges stay meaningful.
 *
 * Unknown keys are ignored at every level (OpenShift's `version` and `conditionalEdges` included).
 * Speed matters (10k-node graphs): one JSON.parse, then a hand-written pass without per-node schemas.
 */
import { AgentError } from "../errors.js";
import { METADATA, type Edge, type Graph, type GraphNode } from "./model.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

const OCI_PULLSPEC = /^[^@\s]+@sha256:[0-9a-f]{64}$/;
const DECIMAL_INTEGER = /^\+?[0-9]+$/; // Rust's u64::from_str, which accepts a leading '+'

export function parseGraph(body: string | Uint8Array, where: string): Graph {
  const root = decodeJson(body, where);
  if (typeof root !== "object" || root === null || Array.isArray(root)) {
    throw decodeError(where, `expected a JSON object with "nodes" and "edges", got ${describeValue(root)}`);
  }
  const { nodes: rawNodes, edges: rawEdges } = root as { nodes?: unknown; edges?: unknown };
  if (!Array.isArray(rawNodes)) throw decodeError(where, `nodes: expected an array, got ${describeValue(rawNodes)}`);
  if (!Array.isArray(rawEdges)) throw decodeError(where, `edges: expected an array, got ${describeValue(rawEdges)}`);

  const nodes: GraphNode[] = new Array<GraphNode>(rawNodes.length);
  for (let i = 0; i < rawNodes.length; i++) nodes[i] = parseNode(rawNodes[i], i);
  return { source: where, nodes, edges: checkEdges(rawEdges, nodes.length, where) };
}

function decodeJson(body: string | Uint8Array, where: string): unknown {
  let text: string;
  if (typeof body === "string") {
    text = body;
  } else {
    try {
      text = utf8.decode(body);
    } catch {
      throw decodeError(where, "the body is not valid UTF-8");
    }
  }
  if (text.trim() === "") throw decodeError(where, "the body is empty, expected a JSON graph");
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw decodeError(where, `not valid JSON: ${e instanceof Error ? e.message : String(e)}`, e);
  }
}

function checkEdges(rawEdges: unknown[], nodeCount: number, where: string): Edge[] {
  for (let i = 0; i < rawEdges.length; i++) {
    const edge = rawEdges[i];
    if (!Array.isArray(edge) || edge.length !== 2) {
      throw decodeError(where, `edges[${i}]: expected a [from, to] pair of node positions, got ${describeValue(edge)}`);
    }
    for (let end = 0; end < 2; end++) {
      const position: unknown = edge[end];
      // `>>> 0` keeps exactly the non-negative integers below 2^32 (strings and floats fail the ===).
      if (typeof position !== "number" || position >>> 0 !== position || position >= nodeCount) {
        throw decodeError(
          where,
          `edges[${i}][${end}]: ${describeValue(position)} is not a node position (the graph has ${nodeCount} nodes)`,
          undefined,
          // Zincati's metric kind for an edge to a missing node.
          typeof position === "number" && Number.isInteger(position) ? "client_failed_node_lookup" : undefined,
        );
      }
    }
  }
  return rawEdges as Edge[];
}

function parseNode(raw: unknown, index: number): GraphNode {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return brokenNode(`nodes[${index}]: expected an object, got ${describeValue(raw)}`);
  }
  const { version, payload, metadata: rawMetadata } = raw as { version?: unknown; payload?: unknown; metadata?: unknown };
  const problems: string[] = [];
  if (typeof version !== "string" || version === "") problems.push(`nodes[${index}].version: expected a non-empty string, got ${describeValue(version)}`);
  if (typeof payload !== "string" || payload === "") problems.push(`nodes[${index}].payload: expected a non-empty string, got ${describeValue(payload)}`);

  let metadata: Record<string, string>;
  const hasMetadata = typeof rawMetadata === "object" && rawMetadata !== null && !Array.isArray(rawMetadata);
  if (!hasMetadata) {
    problems.push(`nodes[${index}].metadata: expected an object of strings, got ${describeValue(rawMetadata)}`);
    metadata = {};
  } else {
    metadata = stringEntries(rawMetadata as Record<string, unknown>, index, problems);
  }

  let ageIndex: number | undefined;
  const rawAge = metadata[METADATA.ageIndex];
  if (rawAge === undefined) {
    if (hasMetadata && !Object.hasOwn(rawMetadata, METADATA.ageIndex)) problems.push(`${metadataPath(index, METADATA.ageIndex)}: missing`);
  } else if (!DECIMAL_INTEGER.test(rawAge)) {
    problems.push(`${metadataPath(index, METADATA.ageIndex)}: expected a decimal integer, got ${describeValue(rawAge)}`);
  } else {
    const value = Number(rawAge);
    if (Number.isSafeInteger(value)) ageIndex = value;
    else problems.push(`${metadataPath(index, METADATA.ageIndex)}: ${rawAge} is too large`);
  }

  const scheme = metadata[METADATA.scheme];
  if (scheme === undefined) {
    if (hasMetadata && !Object.hasOwn(rawMetadata, METADATA.scheme)) problems.push(`${metadataPath(index, METADATA.scheme)}: missing`);
  } else if (scheme === "oci") {
    if (typeof payload === "string" && payload !== "" && !OCI_PULLSPEC.test(payload)) {
      problems.push(`nodes[${index}].payload: expected registry/repo@sha256:<64 hex digits> for scheme oci, got ${describeValue(payload)}`);
    }
  } else if (scheme !== "checksum") {
    problems.push(`${metadataPath(index, METADATA.scheme)}: expected "checksum" or "oci", got ${describeValue(scheme)}`);
  }

  return {
    version: typeof version === "string" ? version : "",
    payload: typeof payload === "string" ? payload : "",
    metadata,
    ageIndex,
    invalid: problems.length === 0 ? undefined : problems.join("; "),
  };
}

/** The metadata object itself when every value is a string (the common case: no copy), else a filtered copy. */
function stringEntries(raw: Record<string, unknown>, index: number, problems: string[]): Record<string, string> {
  let allStrings = true;
  for (const key in raw) {
    if (typeof raw[key] !== "string") {
      allStrings = false;
      problems.push(`${metadataPath(index, key)}: expected a string, got ${describeValue(raw[key])}`);
    }
  }
  if (allStrings) return raw as Record<string, string>;
  // fromEntries defines own properties, so a "__proto__" key stays data, never a prototype.
  return Object.fromEntries(Object.entries(raw).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
}

function brokenNode(reason: string): GraphNode {
  return { version: "", payload: "", metadata: {}, ageIndex: undefined, invalid: reason };
}

const PLAIN_KEY = /^[A-Za-z0-9_.-]+$/;

/** `nodes[3].metadata.org.fedoraproject.coreos.releases.age_index`, quoting keys that would be ambiguous. */
function metadataPath(index: number, key: string): string {
  return `nodes[${index}].metadata${PLAIN_KEY.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`}`;
}

/** A short, printable rendering of a bad value for error messages. */
function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return value.length <= 4 ? truncate(JSON.stringify(value)) : `an array of ${value.length} items`;
  if (typeof value === "object" && value !== null) return "an object";
  return truncate(JSON.stringify(value) ?? String(value));
}

function truncate(text: string): string {
  return text.length <= 60 ? text : `${text.slice(0, 57)}...`;
}

function decodeError(where: string, message: string, cause?: unknown, kind?: string): AgentError {
  return new AgentError("GRAPH_DECODE", message, {
    where,
    cause,
    hint: `not an update graph as Cincinnati defines it ({"nodes": [...], "edges": [...]}); check the URL or file, or the server's health`,
    details: kind === undefined ? undefined : { kind },
  });
}
