import type { PayloadScheme } from "../deploy/deployment.js";

/** Who this node is, as sent to the update graph and to lock servers. Computed at start and on reload. */
export interface NodeIdentity {
  /** `x86_64`, `aarch64`, `ppc64le`, `s390x`. */
  basearch: string;
  stream: string;
  /** `ignition.platform.id` from the kernel command line. */
  platform: string;
  group: string;
  /** 32 lower-case hex characters, no dashes. */
  nodeUuid: string;
  /** Only when configured: sent to the graph server as `rollout_wariness`. */
  rolloutWariness: number | undefined;
  /** The booted release. */
  current: { version: string; payload: string; scheme: PayloadScheme };
}
