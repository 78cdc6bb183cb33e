/**
 * Pure parsers for rpm-ostree's deployment dictionary. The same dictionary arrives from
 * `rpm-ostree status --json` (`deployments[]`) and from the D-Bus `Sysroot.Deployments` aa{sv}
 * property once the adapter has unwrapped the variants, so nothing here depends on where it came from.
 */
import { AgentError } from "../errors.js";
import type { Deployment, DeploymentStatus, PayloadScheme, UpdateDriver } from "./deployment.js";

const STATUS_WHERE = "rpm-ostree status --json";
const DEPLOYMENT_WHERE = "rpm-ostree deployment";

/** Prefixes of an ostree container origin (ostree-ext `OstreeImageReference`). */
const SIGVERIFY_PREFIXES = ["ostree-image-signed:", "ostree-unverified-image:", "ostree-remote-image:"] as const;
/** Forms whose remainder is a bare registry name with no transport. */
const REGISTRY_PREFIXES = ["ostree-unverified-registry:", "ostree-remote-registry:"] as const;
/** Container transports (containers-transports(5)); `docker://` and `registry:` both mean a registry. */
const TRANSPORT_PATTERN = /^(?:docker:\/\/|registry:|oci:|oci-archive:|containers-storage:|dir:|docker-archive:)/;

type Raw = Record<string, unknown>;

function isRecord(value: unknown): value is Raw {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function optionalString(raw: Raw, key: string): string | undefined {
  return nonEmptyString(raw[key]);
}

/** rpm-ostree omits `booted`/`staged` on some entries of older daemons: missing means false. */
function flag(raw: Raw, key: string): boolean {
  return raw[key] === true;
}

/** `t` arrives as a number from JSON, a bigint from an unconverted D-Bus value. */
function optionalInteger(raw: Raw, key: string): number | undefined {
  const value = raw[key];
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "number" && Number.isFinite(value)) return value;
  return undefined;
}

function parseJsonObject(text: unknown): Raw | undefined {
  if (typeof text !== "string") return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    // A damaged metadata blob only costs us the stream hint; callers report a missing stream clearly.
    return undefined;
  }
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * The update stream recorded in the deployment's base commit, in Zincati's order: the OCI image
 * config label `com.coreos.stream`, then the manifest annotation `fedora-coreos.stream`. Unlike Zincati
 * (since v0.0.31) we also accept the legacy commit key `fedora-coreos.stream`, so checksum-based
 * hosts keep working.
 */
export function streamFromCommitMeta(meta: unknown): string | undefined {
  if (!isRecord(meta)) return undefined;
  const imageConfig = parseJsonObject(meta["ostree.container.image-config"]);
  const config = imageConfig?.config;
  const labels = isRecord(config) ? config.Labels : undefined;
  const fromLabel = isRecord(labels) ? nonEmptyString(labels["com.coreos.stream"]) : undefined;
  if (fromLabel) return fromLabel;

  const manifest = parseJsonObject(meta["ostree.manifest"]);
  const annotations = manifest?.annotations;
  const fromAnnotation = isRecord(annotations) ? nonEmptyString(annotations["fedora-coreos.stream"]) : undefined;
  if (fromAnnotation) return fromAnnotation;

  return nonEmptyString(meta["fedora-coreos.stream"]);
}

/** Docker's rule: the first path component is a registry host only if it looks like one. */
function looksLikeRegistryHost(component: string): boolean {
  return component.includes(".") || component.includes(":") || component === "localhost";
}

export interface OriginParts {
  /** What says how to fetch the image: sigverify prefix (with its ostree remote) and transport, as written. */
  head: string;
  /** The image name as written, without tag or digest. */
  name: string;
  /** The tag, when the origin names one. */
  tag: string | undefined;
}

/** `ostree-image-signed:docker://quay.io/fedora/fedora-coreos:stable` → its head, image name and tag. */
export function parseOrigin(reference: string): OriginParts {
  let rest = reference;
  let bareRegistryName = false;
  for (const prefix of [...SIGVERIFY_PREFIXES, ...REGISTRY_PREFIXES]) {
    if (!rest.startsWith(prefix)) continue;
    rest = rest.slice(prefix.length);
    // ostree-remote-* carry the name of the ostree remote holding the signing keys before the image.
    if (prefix.startsWith("ostree-remote-")) rest = rest.slice(rest.indexOf(":") + 1);
    bareRegistryName = (REGISTRY_PREFIXES as readonly string[]).includes(prefix);
    break;
  }
  if (!bareRegistryName) rest = rest.replace(TRANSPORT_PATTERN, "");
  const head = reference.slice(0, reference.length - rest.length);

  const at = rest.indexOf("@");
  if (at >= 0) rest = rest.slice(0, at);
  const lastSlash = rest.lastIndexOf("/");
  const tagColon = rest.indexOf(":", lastSlash + 1);
  return tagColon >= 0 ? { head, name: rest.slice(0, tagColon), tag: rest.slice(tagColon + 1) } : { head, name: rest, tag: undefined };
}

/**
 * The image name of a container origin, without sigverify prefix, transport, tag or digest, with
 * docker.io defaults filled in the way container tooling (and so Zincati) names images.
 * `ostree-image-signed:docker://quay.io/fedora/fedora-coreos:stable` → `quay.io/fedora/fedora-coreos`.
 */
export function imageNameFromReference(reference: string): string {
  const { name } = parseOrigin(reference);
  const components = name.split("/");
  if (components.length === 1) return `docker.io/library/${name}`;
  if (!looksLikeRegistryHost(components[0] ?? "")) return `docker.io/${name}`;
  return name;
}

/** How the update graph names an OCI release: the image name with its tag replaced by the digest. */
export function ociPullspec(reference: string, digest: string): string {
  return `${imageNameFromReference(reference)}@${digest}`;
}

function missingKey(id: string, key: string, where: string): AgentError {
  return new AgentError("STATUS_INVALID", `deployment ${id} has no "${key}"`, {
    where: `${where}.${key}`,
    hint: "rpm-ostree reported an incomplete deployment; check `rpm-ostree status --json`",
    details: { deployment: id, key },
  });
}

export function parseDeployment(raw: unknown, where: string = DEPLOYMENT_WHERE): Deployment {
  if (!isRecord(raw)) {
    throw new AgentError("STATUS_INVALID", "a deployment is not a dictionary", { where });
  }
  const id = optionalString(raw, "id");
  if (id === undefined) throw missingKey("(unnamed)", "id", where);
  const required = (key: string): string => {
    const value = optionalString(raw, key);
    if (value === undefined) throw missingKey(id, key, where);
    return value;
  };
  const checksum = required("checksum");
  const version = required("version");
  const osname = required("osname");

  const containerImageReference = optionalString(raw, "container-image-reference");
  const digest = optionalString(raw, "container-image-reference-digest");
  const baseChecksum = optionalString(raw, "base-checksum");
  const checksumRevision = baseChecksum ?? checksum;
  const scheme: PayloadScheme = containerImageReference !== undefined ? "oci" : "checksum";
  const payload =
    containerImageReference !== undefined && digest !== undefined
      ? ociPullspec(containerImageReference, digest)
      : checksumRevision;

  return {
    id,
    osname,
    checksum,
    baseRevision: containerImageReference !== undefined && digest !== undefined ? digest : checksumRevision,
    version,
    payload,
    scheme,
    stream: streamFromCommitMeta(raw["base-commit-meta"]),
    containerImageReference,
    booted: flag(raw, "booted"),
    staged: flag(raw, "staged"),
    finalizationLocked: flag(raw, "finalization-locked"),
    pinned: flag(raw, "pinned"),
    timestamp: optionalInteger(raw, "timestamp"),
  };
}

export interface StatusExtras {
  driver?: UpdateDriver | undefined;
  activeTransaction?: string | undefined;
}

export function statusFromDeployments(
  deployments: Deployment[],
  extras: StatusExtras = {},
  where: string = STATUS_WHERE,
): DeploymentStatus {
  const bootedIndex = deployments.findIndex((d) => d.booted);
  const booted = deployments[bootedIndex];
  if (booted === undefined) {
    throw new AgentError("STATUS_INVALID", "no deployment is marked as booted", {
      where,
      hint: "is this host booted into an OSTree deployment? check `rpm-ostree status`",
    });
  }
  return {
    deployments,
    booted,
    staged: deployments.find((d) => d.staged),
    rollback: deployments[bootedIndex + 1],
    driver: extras.driver,
    activeTransaction: extras.activeTransaction === "" ? undefined : extras.activeTransaction,
  };
}

/** `{"driver-name","driver-sd-unit"}` or null. */
function parseDriver(raw: unknown): UpdateDriver | undefined {
  if (!isRecord(raw)) return undefined;
  const name = optionalString(raw, "driver-name");
  if (name === undefined) return undefined;
  return { name, unit: optionalString(raw, "driver-sd-unit") ?? "" };
}

/** `[method, sender, path]` from `status --json`, `("","","")` from D-Bus when idle, or null. */
export function parseActiveTransaction(raw: unknown): string | undefined {
  if (!Array.isArray(raw)) return undefined;
  return nonEmptyString(raw[0]);
}

export function parseStatus(json: unknown, where: string = STATUS_WHERE): DeploymentStatus {
  if (!isRecord(json)) {
    throw new AgentError("STATUS_INVALID", "status is not a JSON object", { where });
  }
  const list = json.deployments;
  if (!Array.isArray(list)) {
    throw new AgentError("STATUS_INVALID", 'status has no "deployments" list', { where: `${where}: deployments` });
  }
  const deployments = list.map((entry: unknown, index) => parseDeployment(entry, `${where}: deployments[${index}]`));
  return statusFromDeployments(
    deployments,
    { driver: parseDriver(json["update-driver"]), activeTransaction: parseActiveTransaction(json.transaction) },
    where,
  );
}
