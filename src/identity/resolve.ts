/** Puts the node's identity together from the booted deployment, the host and the configuration. */
import type { Deployment } from "../deploy/deployment.js";
import { AgentError } from "../errors.js";
import { readNodeUuid } from "./node-uuid.js";
import { basearchFor, readPlatform, validateGroup, validateRolloutWariness } from "./platform.js";
import type { NodeIdentity } from "./types.js";

export interface ResolveIdentityOptions {
  /** Filesystem root holding `etc/machine-id` and `proc/cmdline` (`/` in production). */
  root: string;
  booted: Deployment;
  group: string;
  /** Configured node UUID; overrides the one derived from the machine ID. */
  nodeUuid?: string | undefined;
  rolloutWariness?: number | undefined;
  /** Configured platform; overrides `ignition.platform.id`. */
  platform?: string | undefined;
  /** Node (`x64`) or basearch (`x86_64`) name; defaults to `process.arch`. */
  arch?: string | undefined;
}

function streamOf(booted: Deployment): string {
  if (booted.stream !== undefined) return booted.stream;
  throw new AgentError("IDENTITY_INVALID", `cannot determine the update stream of the booted deployment ${booted.id}`, {
    where: `rpm-ostree deployment ${booted.id}: base-commit-meta`,
    hint:
      'looked for the "com.coreos.stream" label in ostree.container.image-config, the "fedora-coreos.stream" ' +
      'annotation in ostree.manifest and the "fedora-coreos.stream" commit key; is this a Fedora CoreOS image?',
  });
}

export async function resolveIdentity(opts: ResolveIdentityOptions): Promise<NodeIdentity> {
  const group = validateGroup(opts.group);
  const rolloutWariness = validateRolloutWariness(opts.rolloutWariness);
  const stream = streamOf(opts.booted);
  const basearch = basearchFor(opts.arch);
  const [platform, nodeUuid] = await Promise.all([
    readPlatform(opts.root, opts.platform),
    readNodeUuid(opts.root, opts.nodeUuid),
  ]);
  return {
    basearch,
    stream,
    platform,
    group,
    nodeUuid,
    rolloutWariness,
    current: { version: opts.booted.version, payload: opts.booted.payload, scheme: opts.booted.scheme },
  };
}
