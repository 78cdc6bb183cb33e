/**
 * The booted deployment of the captured rpm-ostree status (tests/fixtures/rpm-ostree/zincati-rpm-ostree-status.json)
 * as the parser reads it, and variations of it for tests that need a Deployment.
 */
import type { Deployment } from "../../src/deploy/deployment.js";

export const FCOS43_DIGEST = "sha256:ca99893c80a7b84dd84d4143bd27538207c2f38ab6647a58d9c8caa251f9a087";

export const FCOS43: Deployment = {
  id: "fedora-coreos-36ff46d732a070a1bf10f7157f764e316f99a836dcdbf56702798e5042411fe9.0",
  osname: "fedora-coreos",
  checksum: "36ff46d732a070a1bf10f7157f764e316f99a836dcdbf56702798e5042411fe9",
  baseRevision: FCOS43_DIGEST,
  version: "43.20251024.3.0",
  payload: `quay.io/fedora/fedora-coreos@${FCOS43_DIGEST}`,
  scheme: "oci",
  stream: "stable",
  containerImageReference: "ostree-image-signed:docker://quay.io/fedora/fedora-coreos:stable",
  booted: true,
  staged: false,
  finalizationLocked: false,
  pinned: false,
  timestamp: 1762837557,
};

/** FCOS43 with some fields changed. */
export function deployment(overrides: Partial<Deployment>): Deployment {
  return { ...FCOS43, ...overrides };
}
