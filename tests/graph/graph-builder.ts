/**
 * A test-only re-implementation of fedora-coreos-cincinnati's graph builder (cincinnati.md §5), so the
 * upstream samples (release index + updates metadata) become graphs the client can be tested against,
 * and the worked example's edge list can be checked.
 */
import { METADATA } from "../../src/graph/model.js";

export interface ReleaseIndex {
  releases: Array<{
    version: string;
    commits?: Array<{ architecture: string; checksum: string }>;
    "oci-images"?: Array<{ architecture: string; image: string; "digest-ref": string }>;
  }>;
}

export interface UpdatesMetadata {
  releases: Array<{
    version: string;
    metadata: {
      barrier?: { reason?: string };
      deadend?: { reason?: string };
      rollout?: { start_epoch?: number; start_percentage?: number; duration_minutes?: number };
    };
  }>;
}

export interface RawGraph {
  nodes: Array<{ version: string; metadata: Record<string, string>; payload: string }>;
  edges: Array<[number, number]>;
}

export function buildGraph(index: ReleaseIndex, updates: UpdatesMetadata, basearch: string, oci = false): RawGraph {
  const byVersion = new Map(updates.releases.map((r) => [r.version, r.metadata]));
  const nodes: RawGraph["nodes"] = [];
  index.releases.forEach((release, ageIndex) => {
    let payload: string | undefined;
    if (oci) {
      payload = release["oci-images"]?.find((i) => i.architecture === basearch && i["digest-ref"] !== "")?.["digest-ref"];
    } else {
      for (const c of release.commits ?? []) if (c.architecture === basearch && c.checksum !== "") payload = c.checksum; // last match wins
    }
    if (payload === undefined) return; // skipped, but age_index keeps counting
    const metadata: Record<string, string> = {
      [METADATA.ageIndex]: String(ageIndex),
      [METADATA.scheme]: oci ? "oci" : "checksum",
    };
    const extra = byVersion.get(release.version);
    if (extra?.deadend) {
      metadata[METADATA.deadend] = "true";
      metadata[METADATA.deadendReason] = extra.deadend.reason || "generic";
    }
    if (extra?.barrier) {
      metadata[METADATA.barrier] = "true";
      metadata["org.fedoraproject.coreos.updates.barrier_reason"] = extra.barrier.reason || "generic";
    }
    if (extra?.rollout) {
      metadata[METADATA.rollout] = "true";
      const { start_epoch, start_percentage, duration_minutes } = extra.rollout;
      if (start_epoch !== undefined) metadata[METADATA.startEpoch] = String(start_epoch);
      // Rust's f64 Display: 0.0 → "0", 1.0 → "1", 0.3 → "0.3" (String() agrees for these values).
      if (start_percentage !== undefined) metadata[METADATA.startValue] = String(start_percentage);
      if (duration_minutes !== undefined) metadata[METADATA.durationMinutes] = String(duration_minutes);
    }
    nodes.push({ version: release.version, metadata, payload });
  });
  const has = (i: number, key: string) => nodes[i]!.metadata[key] !== undefined;
  const positions = nodes.map((_n, i) => i);
  const rollouts = positions.filter((i) => has(i, METADATA.rollout));
  const barriers = positions.filter((i) => has(i, METADATA.barrier));
  const edges: Array<[number, number]> = [];
  for (const target of [...rollouts].reverse()) {
    const previousBarrier = barriers.filter((b) => b < target).pop() ?? 0;
    for (let i = previousBarrier; i < target; i++) edges.push([i, target]);
  }
  let start = 0;
  for (const barrier of barriers) {
    if (!rollouts.includes(barrier)) for (let i = start; i < barrier; i++) edges.push([i, barrier]);
    start = barrier;
  }
  const deadends = new Set(positions.filter((i) => nodes[i]!.metadata[METADATA.deadend] === "true"));
  return { nodes, edges: edges.filter(([from]) => !deadends.has(from)) };
}
