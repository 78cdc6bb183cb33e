/**
 * Pure rules for staging a release with rpm-ostree (zincati-behaviour.md §8.2): which D-Bus call to
 * make for a target, and whether what got staged is what was asked for.
 *
 * - checksum payload → `Deploy("revision=<checksum>", {lock-finalization, skip-branch-check, allow-downgrade})`;
 * - OCI payload, same image name as booted → `Deploy("sha256:<digest>", {lock-finalization, allow-downgrade})`;
 * - OCI payload, another image name → `UpdateDeployment({set-refspec, set-revision}, …)`: a rebase that
 *   keeps the booted origin's signature-verification prefix, transport and tag;
 * - an OCI target on a host not booted from a container image, or a checksum target on one that is,
 *   is refused: switching schemes is an admin's decision, not an automatic update.
 */
import { Variant } from "@jellybrick/dbus-next";
import { AgentError } from "../errors.js";
import type { Release } from "../graph/release.js";
import type { Deployment, PayloadScheme } from "./deployment.js";
import { imageNameFromReference, parseOrigin } from "./status.js";

export interface StageCall {
  member: "Deploy" | "UpdateDeployment";
  signature: string;
  body: unknown[];
  /** For logs and errors: what we asked rpm-ostree to do, in its CLI words. */
  description: string;
}

const CHECKSUM = /^[0-9a-f]{64}$/;

function unsupported(message: string, hint: string): AgentError {
  return new AgentError("DEPLOY_UNSUPPORTED", message, { where: "org.projectatomic.rpmostree1.OS", hint });
}

function payloadScheme(release: Release): PayloadScheme | undefined {
  const declared = release.metadata["org.fedoraproject.coreos.scheme"];
  if (declared === "checksum" || declared === "oci") return declared;
  if (CHECKSUM.test(release.payload)) return "checksum";
  if (release.payload.includes("@sha256:")) return "oci";
  return undefined;
}

/** `quay.io/fedora/fedora-coreos@sha256:…` → its image name (normalised like status.ts) and digest. */
function splitPullspec(payload: string): { name: string; digest: string } | undefined {
  const at = payload.lastIndexOf("@");
  if (at <= 0) return undefined;
  const digest = payload.slice(at + 1);
  if (!digest.startsWith("sha256:")) return undefined;
  return { name: imageNameFromReference(payload.slice(0, at)), digest };
}

/**
 * The origin to rebase to: the booted reference with only the image name swapped, so the local
 * signature policy (`ostree-image-signed:`) and transport survive. A digest-pinned origin has no tag;
 * then the stream names the tag, as Zincati does.
 */
export function rebaseReference(bootedReference: string, imageName: string, stream: string | undefined): string {
  const origin = parseOrigin(bootedReference);
  const tag = origin.tag ?? stream;
  return `${origin.head}${imageName}${tag ? `:${tag}` : ""}`;
}

const bool = (value: boolean): Variant => new Variant("b", value);

export function planStage(target: Release, booted: Deployment, allowDowngrade: boolean): StageCall {
  const scheme = payloadScheme(target);
  if (scheme === undefined) {
    throw unsupported(`release ${target.version} has a payload that is neither a checksum nor an image digest: ${target.payload}`,
      "check the update graph server's payloads");
  }
  const bootedIsOci = booted.scheme === "oci" && booted.containerImageReference !== undefined;
  if (scheme === "checksum") {
    if (bootedIsOci) {
      throw unsupported(`release ${target.version} is an OSTree checksum, but this host boots a container image`,
        "point the agent at a graph that serves container (OCI) payloads for this stream");
    }
    const options = { "lock-finalization": bool(true), "skip-branch-check": bool(true), "allow-downgrade": bool(allowDowngrade) };
    return {
      member: "Deploy",
      signature: "sa{sv}",
      body: [`revision=${target.payload}`, options],
      description: `rpm-ostree deploy --lock-finalization --skip-branch-check revision=${target.payload}`,
    };
  }
  const pullspec = splitPullspec(target.payload);
  if (pullspec === undefined) {
    throw unsupported(`release ${target.version} has an OCI payload without a sha256 digest: ${target.payload}`,
      "check the update graph server's payloads");
  }
  if (!bootedIsOci || booted.containerImageReference === undefined) {
    throw unsupported(`release ${target.version} is a container image, but this host does not boot one`,
      "rebase the host to a container image first (rpm-ostree rebase ostree-image-signed:docker://…)");
  }
  const options = { "lock-finalization": bool(true), "allow-downgrade": bool(allowDowngrade) };
  if (imageNameFromReference(booted.containerImageReference) === pullspec.name) {
    return {
      member: "Deploy",
      signature: "sa{sv}",
      body: [pullspec.digest, options],
      description: `rpm-ostree deploy --lock-finalization ${pullspec.digest}`,
    };
  }
  const refspec = rebaseReference(booted.containerImageReference, pullspec.name, booted.stream);
  const modifiers = { "set-refspec": new Variant("s", refspec), "set-revision": new Variant("s", pullspec.digest) };
  return {
    member: "UpdateDeployment",
    signature: "a{sv}a{sv}",
    body: [modifiers, options],
    description: `rpm-ostree rebase --lock-finalization ${refspec} ${pullspec.digest}`,
  };
}

function samePayload(a: string, b: string): boolean {
  if (a === b) return true;
  const pa = splitPullspec(a);
  const pb = splitPullspec(b);
  return pa !== undefined && pb !== undefined && pa.name === pb.name && pa.digest === pb.digest;
}

/** Why `staged` is not the deployment we asked for, or undefined when it is. */
export function stagedMismatch(staged: Deployment | undefined, target: Release, expectedStream?: string): string | undefined {
  if (staged === undefined) return "nothing is staged";
  const problems: string[] = [];
  if (!samePayload(staged.payload, target.payload)) problems.push(`payload ${staged.payload} instead of ${target.payload}`);
  if (staged.version !== target.version) problems.push(`version ${staged.version} instead of ${target.version}`);
  if (expectedStream !== undefined && staged.stream !== undefined && staged.stream !== expectedStream) {
    problems.push(`stream ${staged.stream} instead of ${expectedStream}`);
  }
  if (!staged.finalizationLocked) problems.push("no finalization lock (a plain reboot would apply it)");
  return problems.length === 0 ? undefined : `the staged deployment ${staged.id} does not match: ${problems.join("; ")}`;
}
