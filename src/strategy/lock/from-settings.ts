/**
 * The agent loop's entry point: the RebootLock for the configured strategy (undefined for
 * strategies that reboot without asking anyone: immediate, periodic).
 */
import { join } from "node:path";
import type { Clock } from "../../host/clock.js";
import { templateUrl, type Settings } from "../../config/index.js";
import { createFleetLock } from "../fleetlock/client.js";
import { createEtcdLock, etcdGatewayFromSettings } from "../etcd/index.js";
import { createFleetDenylist, type FleetDenylist } from "../etcd/denylist.js";
import type { LockObservability, RebootLock } from "./index.js";

export interface LockIdentity {
  /** The node UUID: the holder id on both FleetLock servers and the etcd semaphore. */
  nodeUuid: string;
  group: string;
  /** For `${...}` in updates.fleet_lock.base_url. */
  basearch: string;
  stream: string;
  platform: string;
}

export interface LockDeps extends LockObservability {
  /** Root prefix for the files named in settings (CA, client certificate, password). */
  root?: string | undefined;
  clock?: Clock | undefined;
  rand?: (() => number) | undefined;
}

export interface Coordination {
  lock: RebootLock;
  /** The group's shared denylist (etcd_lock only: a FleetLock server has nowhere to keep it). */
  denylist: FleetDenylist | undefined;
}

export function coordinationFromSettings(settings: Settings, identity: LockIdentity, deps: LockDeps = {}): Coordination | undefined {
  const { strategy } = settings.updates;
  if (strategy === "fleet_lock") {
    const fleet = settings.updates.fleet_lock;
    const baseUrl = templateUrl(fleet.base_url ?? "", identity);
    return {
      lock: createFleetLock({
        observe: deps.observe,
        log: deps.log,
        clock: deps.clock,
        rand: deps.rand,
        baseUrl,
        id: identity.nodeUuid,
        group: identity.group,
        timeoutMs: fleet.timeout_secs * 1000,
        caFile: fleet.ca_file !== undefined ? join(deps.root ?? "/", fleet.ca_file) : undefined,
      }),
      denylist: undefined,
    };
  }
  if (strategy === "etcd_lock") {
    const etcd = settings.updates.etcd_lock;
    const gateway = etcdGatewayFromSettings(etcd, deps.root, deps);
    const common = { gateway, group: identity.group, keyPrefix: etcd.key_prefix, clock: deps.clock, rand: deps.rand };
    return {
      lock: createEtcdLock({ ...common, observe: deps.observe, log: deps.log, id: identity.nodeUuid, ttlSecs: etcd.ttl_secs }),
      denylist: createFleetDenylist(common),
    };
  }
  return undefined;
}
