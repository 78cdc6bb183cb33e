/**
 * The node's stable identifier as sent to the update graph and to lock servers. By default it is
 * systemd's app-specific machine ID under Zincati's app ID, so a node keeps the same identity
 * (rollout wariness bucket, FleetLock holder id) when it migrates from Zincati.
 */
import { createHmac } from "node:crypto";
import { join } from "node:path";
import { AgentError } from "../errors.js";
import { readHostFile } from "./read.js";

/** Zincati's application ID: `systemd-id128 machine-id -a de35106b6ec24688b63afddaa156679b`. */
export const ZINCATI_APP_ID = "de35106b6ec24688b63afddaa156679b";

const MACHINE_ID_PATH = "etc/machine-id";

const ID128 = /^[0-9a-f]{32}$/;
const HYPHENATED_ID128 = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * `sd_id128_get_machine_app_specific()`: HMAC-SHA256 keyed by the machine ID over the app ID,
 * truncated to 128 bits and shaped as a UUID v4, printed as 32 lower-case hex characters.
 */
export function appSpecificMachineId(machineIdHex: string, appIdHex: string): string {
  const machineId = normalizeUuid(machineIdHex, "machine-id");
  const appId = normalizeUuid(appIdHex, "app id");
  const bytes = createHmac("sha256", Buffer.from(machineId, "hex"))
    .update(Buffer.from(appId, "hex"))
    .digest()
    .subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return bytes.toString("hex");
}

/** 32 hex characters or the hyphenated UUID form, any case → 32 lower-case hex characters. */
export function normalizeUuid(text: string, where?: string): string {
  const lower = text.trim().toLowerCase();
  if (ID128.test(lower)) return lower;
  if (HYPHENATED_ID128.test(lower)) return lower.replaceAll("-", "");
  throw new AgentError("IDENTITY_INVALID", `"${text}" is not a 128-bit ID (32 hex characters, dashes optional)`, {
    where,
    hint: "use 32 hex characters, e.g. the output of `systemd-id128 new`",
  });
}

/** The node UUID: the configured override, else derived from `<root>/etc/machine-id`. */
export async function readNodeUuid(root: string, override?: string): Promise<string> {
  if (override !== undefined) return normalizeUuid(override, "identity.node_uuid");

  const file = join(root, MACHINE_ID_PATH);
  const content = await readHostFile(file, "the machine ID", "the machine ID is set up on first boot; or set identity.node_uuid");
  const machineId = content.trim().toLowerCase();
  // systemd itself refuses an all-zero ID, and "uninitialized" is written before first boot completes.
  if (!ID128.test(machineId) || /^0+$/.test(machineId)) {
    throw new AgentError("IDENTITY_INVALID", `the machine ID is not 32 hex characters: "${content.trim()}"`, {
      where: file,
      hint: "run `systemd-machine-id-setup`, or set identity.node_uuid",
    });
  }
  return appSpecificMachineId(machineId, ZINCATI_APP_ID);
}
