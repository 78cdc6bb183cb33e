/**
 * The etcd coordination domain's public surface, and the one place that turns
 * `[updates.etcd_lock]` settings into a client: reading the TLS files and the password file.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AgentError } from "../../errors.js";
import type { LockObservability } from "../lock/index.js";
import { EtcdGateway, type EtcdClientOptions } from "./gateway.js";

export { EtcdGateway, type EtcdClientOptions } from "./gateway.js";
export { createEtcdLock, type EtcdLockOptions, type EtcdRebootLock } from "./lock.js";
export { createFleetDenylist, type FleetDenylist, type FleetDenylistEntry, type FleetDenylistOptions } from "./denylist.js";
export { readLockStatus, releaseHolder, setSlots, type LockStatus } from "./admin.js";
export { AIRLOCK_DEFAULT_SLOTS, AIRLOCK_KEY_PREFIX, groupKeys, type GroupKeys } from "./wire.js";
export { nodeEtcdTransport, type EtcdTransport } from "./transport.js";

/** `[updates.etcd_lock]` as the config domain validates it. */
export interface EtcdLockSettings {
  endpoints: string[];
  ca_file?: string | undefined;
  cert_file?: string | undefined;
  key_file?: string | undefined;
  username?: string | undefined;
  password_file?: string | undefined;
  ttl_secs: number;
  key_prefix: string;
  timeout_secs: number;
}

function readSetting(root: string, path: string, key: string, what: string): string {
  const file = join(root, path);
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw new AgentError("CONFIG_UNREADABLE", `cannot read the ${what}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
      where: `${file} (updates.etcd_lock.${key})`,
      hint: `fix updates.etcd_lock.${key} or the file's permissions`,
      cause: e,
    });
  }
}

/** Client options from settings; file paths are read under `root` (the `--root` of agentctl, `/` on a node). */
export function etcdClientOptions(settings: EtcdLockSettings, root = "/", observability: LockObservability = {}): EtcdClientOptions {
  const password = settings.username !== undefined && settings.password_file !== undefined
    // A trailing newline is how `echo secret > file` writes it; it is never part of the password.
    ? readSetting(root, settings.password_file, "password_file", "etcd password").replace(/\r?\n$/, "")
    : undefined;
  return {
    ...observability,
    endpoints: settings.endpoints,
    timeoutMs: settings.timeout_secs * 1000,
    tls: {
      ca: settings.ca_file ? readSetting(root, settings.ca_file, "ca_file", "etcd CA bundle") : undefined,
      cert: settings.cert_file ? readSetting(root, settings.cert_file, "cert_file", "etcd client certificate") : undefined,
      key: settings.key_file ? readSetting(root, settings.key_file, "key_file", "etcd client key") : undefined,
    },
    auth: settings.username !== undefined ? { username: settings.username, password: password ?? "" } : undefined,
  };
}

export function etcdGatewayFromSettings(settings: EtcdLockSettings, root = "/", observability: LockObservability = {}): EtcdGateway {
  return new EtcdGateway(etcdClientOptions(settings, root, observability));
}
