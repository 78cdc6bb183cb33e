/**
 * Ready-made remotes and booted deployments for simulator-based tests: one Fedora CoreOS-like stream
 * served as container images (OCI) and one served as OSTree checksums, plus the graph-side `Release`
 * for each, so tests can hand the agent exactly what the update graph would.
 */
import type { Release } from "../../src/graph/release.js";
import type { SimDeploymentSpec, SimRelease } from "./harness.js";

const digest = (n: number): string => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const checksum = (c: string): string => c.repeat(64).slice(0, 64);

export const FCOS_IMAGE = "quay.io/fedora/fedora-coreos";

/** Three stable releases as container images, oldest first. */
export const OCI_RELEASES: SimRelease[] = [
  { version: "43.20251024.3.0", payload: `${FCOS_IMAGE}@${digest(1)}`, stream: "stable" },
  { version: "43.20251110.3.1", payload: `${FCOS_IMAGE}@${digest(2)}`, stream: "stable" },
  { version: "43.20251124.3.0", payload: `${FCOS_IMAGE}@${digest(3)}`, stream: "stable" },
];

/** The same versions under another image name, for rebase tests. */
export const OTHER_IMAGE = "registry.example.com/mirror/fedora-coreos";
export const OCI_MIRROR_RELEASES: SimRelease[] = [
  { version: "43.20251201.3.0", payload: `${OTHER_IMAGE}@${digest(4)}`, stream: "stable" },
];

/** Three stable releases as OSTree commits, oldest first. */
export const CHECKSUM_RELEASES: SimRelease[] = [
  { version: "32.20200517.3.0", payload: checksum("a"), stream: "stable" },
  { version: "32.20200601.3.0", payload: checksum("b"), stream: "stable" },
  { version: "32.20200615.3.0", payload: checksum("c"), stream: "stable" },
];

export function bootedFrom(release: SimRelease, scheme: "oci" | "checksum"): SimDeploymentSpec {
  return { version: release.version, payload: release.payload, stream: release.stream, scheme };
}

/** The graph's view of a simulated release. */
export function asGraphRelease(release: SimRelease, ageIndex = 0): Release {
  const scheme = release.payload.includes("@sha256:") ? "oci" : "checksum";
  return {
    version: release.version,
    payload: release.payload,
    ageIndex,
    metadata: { "org.fedoraproject.coreos.scheme": scheme, "org.fedoraproject.coreos.releases.age_index": String(ageIndex) },
  };
}

export function at<T>(list: T[], index: number): T {
  const item = list[index];
  if (item === undefined) throw new Error(`no item ${index}`);
  return item;
}
