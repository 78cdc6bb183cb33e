/** Facts about the node that are not in rpm-ostree status: platform, architecture, group. */
import { join } from "node:path";
import { AgentError } from "../errors.js";
import { readHostFile } from "./read.js";

const KERNEL_CMDLINE_PATH = "proc/cmdline";

const PLATFORM_KEY = "ignition.platform.id=";
const PLATFORM_HINT = "set identity.platform to the Ignition platform id, e.g. metal or aws";

/** The first non-empty `ignition.platform.id=` value of a kernel command line. */
export function platformFromCmdline(cmdline: string): string | undefined {
  for (const arg of cmdline.split(/\s+/)) {
    if (!arg.startsWith(PLATFORM_KEY)) continue;
    const value = arg.slice(PLATFORM_KEY.length);
    if (value !== "") return value;
  }
  return undefined;
}

/** `ignition.platform.id` of the running kernel (`<root>/proc/cmdline`), unless configured. */
export async function readPlatform(root: string, override?: string): Promise<string> {
  if (override !== undefined) {
    const value = override.trim();
    if (value === "") {
      throw new AgentError("IDENTITY_INVALID", "the platform is empty", {
        where: "identity.platform",
        hint: PLATFORM_HINT,
      });
    }
    return value;
  }

  const file = join(root, KERNEL_CMDLINE_PATH);
  const cmdline = await readHostFile(file, "the kernel command line", PLATFORM_HINT);
  const platform = platformFromCmdline(cmdline);
  if (platform === undefined) {
    throw new AgentError("IDENTITY_INVALID", `no ${PLATFORM_KEY}<platform> on the kernel command line`, {
      where: file,
      hint: PLATFORM_HINT,
    });
  }
  return platform;
}

/** Node's `process.arch` → the Fedora basearch the graph server expects. */
const BASEARCH_BY_NODE_ARCH: Readonly<Record<string, string>> = {
  x64: "x86_64",
  arm64: "aarch64",
  ppc64: "ppc64le",
  s390x: "s390x",
};

const BASEARCHES = new Set(Object.values(BASEARCH_BY_NODE_ARCH));

/**
 * The basearch of this node. Accepts Node's names (`x64`) and, so a configured value can pass
 * through, basearch names themselves (`x86_64`).
 */
export function basearchFor(nodeArch: string = process.arch): string {
  const mapped = BASEARCH_BY_NODE_ARCH[nodeArch];
  if (mapped !== undefined) return mapped;
  if (BASEARCHES.has(nodeArch)) return nodeArch;
  throw new AgentError("IDENTITY_INVALID", `unsupported architecture "${nodeArch}"`, {
    where: "process.arch",
    hint: `Fedora CoreOS ships for ${[...BASEARCHES].join(", ")}`,
    details: { arch: nodeArch },
  });
}

const GROUP_PATTERN = /^[a-zA-Z0-9.-]+$/;

/** Update groups name a FleetLock/graph bucket, so they must be safe in URLs and keys. */
export function validateGroup(group: string, where = "identity.group"): string {
  if (!GROUP_PATTERN.test(group)) {
    throw new AgentError("IDENTITY_INVALID", `invalid group "${group}"`, {
      where,
      hint: "use only letters, digits, dots and dashes, e.g. default or workers-eu",
    });
  }
  return group;
}

/** `rollout_wariness` is a fraction: 0 takes updates first, 1 last. */
export function validateRolloutWariness(value: number | undefined, where = "identity.rollout_wariness"): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw new AgentError("IDENTITY_INVALID", `rollout wariness ${value} is outside 0.0 … 1.0`, {
      where,
      hint: "use a number from 0.0 (eager) to 1.0 (wary)",
    });
  }
  return value;
}
