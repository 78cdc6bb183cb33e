/**
 * `agentctl lock status|release|set-slots`: the reboot slots of the node's group, for admins (as
 * locksmithctl was). With `etcd_lock` it reads and edits Airlock's semaphore in etcd directly;
 * with `fleet_lock` the FleetLock server owns the state, so only `release` (steady-state for an
 * id) is possible. `--endpoint`/`--fleet-lock`/`--group` work without any config.
 * Exit codes: 0 done, 1 failed (etcd unreachable, unreadable semaphore, ...), 2 usage.
 */
import { loadConfig, templateUrl, isTemplated, type Settings } from "../../config/index.js";
import { AgentError } from "../../errors.js";
import { readNodeUuid } from "../../identity/node-uuid.js";
import { createFleetLock } from "../../strategy/fleetlock/client.js";
import {
  AIRLOCK_KEY_PREFIX,
  etcdGatewayFromSettings,
  groupKeys,
  readLockStatus,
  releaseHolder,
  setSlots,
  type EtcdLockSettings,
  type LockStatus,
} from "../../strategy/etcd/index.js";
import { parseCommandArgs, usageError } from "../args.js";
import { jsonText, type CliContext } from "../context.js";

export const summary = "show the group's reboot slots, free one, or change how many there are (etcd_lock, fleet_lock)";

const USAGE = `usage: agentctl [--root DIR] lock status [--json] [OPTIONS]
       agentctl [--root DIR] lock release [--id ID] [--json] [OPTIONS]
       agentctl [--root DIR] lock set-slots N [--force] [--json] [OPTIONS]

  status      slots, holders (this node marked) and nodes waiting in line
  release     free the slot of ID (default: this node), e.g. for a node that will not come back;
              the first node waiting in line gets it
  set-slots   change total_slots, keeping the holders; --force replaces an unreadable value

options (each overrides config.d):
  --endpoint URL      an etcd client URL; repeat for several
  --fleet-lock URL    a FleetLock server's base URL instead (release only)
  --group G           the node group (default: identity.group)
  --key-prefix P      the etcd key prefix (default: ${AIRLOCK_KEY_PREFIX}, Airlock's)
`;

export const LOCK_FORMAT_VERSION = 1;

export type LockAction = { action: "status" } | { action: "release"; id: string | undefined } | { action: "set-slots"; slots: number; force: boolean };

/** Where the slots live, resolved from flags and config. */
export type LockTarget =
  | { kind: "etcd_lock"; settings: EtcdLockSettings; group: string; self: string | undefined }
  | { kind: "fleet_lock"; baseUrl: string; group: string; self: string | undefined; timeoutMs: number; caFile: string | undefined }
  | { kind: "none"; strategy: string };

interface Flags {
  json: boolean;
  endpoint: string[];
  fleetLock: string | undefined;
  group: string | undefined;
  keyPrefix: string | undefined;
}

export async function run(args: string[], ctx: CliContext): Promise<number> {
  const parsed = parseOptions(args);
  if (parsed === "help") {
    ctx.stdout(USAGE);
    return 0;
  }
  const target = await resolveTarget(parsed.flags, ctx.root);
  return runLockAction(parsed.action, target, { ...ctx, json: parsed.flags.json });
}

/** The command's core, with settings already resolved. */
async function runLockAction(action: LockAction, target: LockTarget, io: Pick<CliContext, "stdout" | "stderr" | "root"> & { json: boolean }): Promise<number> {
  const print = (human: string, json: Record<string, unknown>) =>
    io.stdout(io.json ? jsonText({ format_version: LOCK_FORMAT_VERSION, ...json }) : human);

  if (target.kind === "none") {
    throw new AgentError("USAGE", `updates.strategy is "${target.strategy}": reboots are not coordinated through a lock`, {
      hint: "pass --endpoint URL (etcd) or --fleet-lock URL to look at a group's slots anyway",
    });
  }
  if (target.kind === "fleet_lock") {
    if (action.action !== "release") {
      const what = action.action === "status" ? "show its slots" : "change its slots";
      const hint = action.action === "status"
        ? "ask the server (Airlock keeps them in etcd: agentctl lock status --endpoint URL shows them)"
        : "configure the slots on the server (Airlock: [[lock.groups]] slots, or agentctl lock set-slots --endpoint URL)";
      throw new AgentError("USAGE", `the FleetLock server at ${target.baseUrl} owns the lock state; the protocol cannot ${what}`, { hint });
    }
    const id = action.id ?? requireSelf(target.self);
    const lock = createFleetLock({ baseUrl: target.baseUrl, id, group: target.group, timeoutMs: target.timeoutMs, caFile: target.caFile, maxAttempts: 1 });
    const outcome = await lock.release();
    if (outcome.kind === "error") throw outcome.error;
    print(`${target.baseUrl}: steady-state for ${id} (group ${target.group}) accepted\n`, { strategy: "fleet_lock", base_url: target.baseUrl, group: target.group, released: id });
    return 0;
  }

  const gateway = etcdGatewayFromSettings(target.settings, io.root);
  const keys = groupKeys(target.settings.key_prefix, target.group);
  const base = { strategy: "etcd_lock", group: target.group, key: keys.semaphore };
  switch (action.action) {
    case "status": {
      const status = await readLockStatus(gateway, keys);
      print(renderStatus(status, target.self), { ...base, ...statusJson(status, target.self) });
      return 0;
    }
    case "release": {
      const id = action.id ?? requireSelf(target.self);
      const result = await releaseHolder(gateway, keys, id);
      const handed = result.handedTo.length > 0 ? `; handed to ${result.handedTo.join(", ")}` : "";
      print(
        result.wasHolder ? `released the reboot slot of ${id}${handed}\n` : `${id} holds no reboot slot; nothing changed\n`,
        { ...base, id, was_holder: result.wasHolder, handed_to: result.handedTo },
      );
      return 0;
    }
    case "set-slots": {
      const { previous, holders } = await setSlots(gateway, keys, action.slots, { repair: action.force });
      const change = previous === undefined ? `created with total_slots ${action.slots}` : previous === action.slots ? `total_slots is already ${action.slots}` : `total_slots ${previous} → ${action.slots}`;
      if (holders.length > action.slots) {
        io.stderr(`agentctl: note: ${holders.length} node(s) hold slots; none is taken away, new ones wait until enough are released\n`);
      }
      print(`${keys.semaphore}: ${change} (${holders.length} holder(s))\n`, { ...base, previous_slots: previous ?? null, total_slots: action.slots, holders });
      return 0;
    }
  }
}

function requireSelf(self: string | undefined): string {
  if (self === undefined) {
    throw new AgentError("USAGE", "cannot tell this node's id (no machine-id under --root, no identity.node_uuid)", { hint: "pass --id ID" });
  }
  return self;
}

function statusJson(status: LockStatus, self: string | undefined): Record<string, unknown> {
  const expiring = new Map(status.expiring.map((e) => [e.id, e.alive]));
  return {
    endpoint: status.endpoint,
    exists: status.exists,
    total_slots: status.totalSlots ?? null,
    holders: status.holders.map((id) => ({ id, self: id === self, ...(expiring.has(id) ? { expires: true, lease_alive: expiring.get(id) } : {}) })),
    waiters: status.waiters.map((w) => ({ id: w.id, since: w.since ?? null, self: w.id === self })),
    self: self ?? null,
  };
}

export function renderStatus(status: LockStatus, self: string | undefined): string {
  const lines = [`semaphore: ${status.key} at ${status.endpoint}`];
  if (!status.exists) {
    lines.push("not created yet: the first node to ask for a slot creates it (with 1 slot, as Airlock does)");
    return `${lines.join("\n")}\n`;
  }
  lines.push(`slots:     ${status.holders.length} of ${status.totalSlots} in use`);
  const expiring = new Map(status.expiring.map((e) => [e.id, e.alive]));
  const mark = (id: string) => (id === self ? " (this node)" : "");
  const expiry = (id: string) => (expiring.has(id) ? (expiring.get(id) ? " [expires unless renewed]" : " [expired, freed at the next acquire]") : "");
  lines.push(status.holders.length === 0 ? "holders:   none" : "holders:");
  for (const id of status.holders) lines.push(`  ${id}${mark(id)}${expiry(id)}`);
  if (status.waiters.length > 0) {
    lines.push(`waiting:   ${status.waiters.length}`);
    for (const w of status.waiters) lines.push(`  ${w.id}${mark(w.id)}${w.since ? `  since ${w.since}` : ""}`);
  }
  return `${lines.join("\n")}\n`;
}

async function resolveTarget(flags: Flags, root: string): Promise<LockTarget> {
  let settings: Settings | undefined;
  try {
    settings = (await loadConfig({ root })).settings;
  } catch (e) {
    // Flags say where to look: a broken or missing config.d must not stop an admin fixing the fleet.
    if (flags.endpoint.length === 0 && flags.fleetLock === undefined) throw e;
  }
  const group = flags.group ?? settings?.identity.group ?? "default";
  const self = await readNodeUuid(root, settings?.identity.node_uuid).catch(() => undefined);
  const strategy = flags.endpoint.length > 0 ? "etcd_lock" : flags.fleetLock !== undefined ? "fleet_lock" : (settings?.updates.strategy ?? "immediate");
  if (strategy === "etcd_lock") {
    const configured = settings?.updates.etcd_lock;
    const etcd: EtcdLockSettings = {
      ...(configured ?? { ttl_secs: 0, timeout_secs: 10 }),
      endpoints: flags.endpoint.length > 0 ? flags.endpoint : (configured?.endpoints ?? []),
      key_prefix: flags.keyPrefix ?? configured?.key_prefix ?? AIRLOCK_KEY_PREFIX,
    };
    return { kind: "etcd_lock", settings: etcd, group, self };
  }
  if (strategy === "fleet_lock") {
    const configured = settings?.updates.fleet_lock;
    const url = flags.fleetLock ?? configured?.base_url ?? "";
    if (isTemplated(url)) {
      throw new AgentError("USAGE", `updates.fleet_lock.base_url is a template (${url})`, { hint: "pass the resolved URL with --fleet-lock URL" });
    }
    return {
      kind: "fleet_lock",
      baseUrl: templateUrl(url, { basearch: "", group, platform: "", stream: "" }),
      group,
      self,
      timeoutMs: (configured?.timeout_secs ?? 30) * 1000,
      caFile: configured?.ca_file,
    };
  }
  return { kind: "none", strategy };
}

function parseOptions(args: string[]): { action: LockAction; flags: Flags } | "help" {
  const { values, positionals } = parseCommandArgs("lock", {
    args,
    strict: true,
    allowPositionals: true,
    options: {
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
      force: { type: "boolean", default: false },
      id: { type: "string" },
      endpoint: { type: "string", multiple: true, default: [] },
      "fleet-lock": { type: "string" },
      group: { type: "string" },
      "key-prefix": { type: "string" },
    },
  });
  if (values.help) return "help";
  const flags: Flags = { json: values.json, endpoint: values.endpoint, fleetLock: values["fleet-lock"], group: values.group, keyPrefix: values["key-prefix"] };
  if (flags.endpoint.length > 0 && flags.fleetLock !== undefined) throw usage("--endpoint and --fleet-lock are two different strategies: pick one");
  const [action, ...rest] = positionals;
  if (action === "status" || action === undefined) {
    if (rest.length > 0) throw usage(`status takes no arguments, got '${rest.join(" ")}'`);
    return { action: { action: "status" }, flags };
  }
  if (action === "release") {
    if (rest.length > 0) throw usage(`release takes --id ID, not '${rest.join(" ")}'`);
    if (values.id === "") throw usage("--id needs a non-empty id");
    return { action: { action: "release", id: values.id }, flags };
  }
  if (action === "set-slots") {
    const [n, ...extra] = rest;
    if (n === undefined || extra.length > 0 || !/^\d+$/.test(n)) throw usage("set-slots needs exactly one whole number N ≥ 0");
    return { action: { action: "set-slots", slots: Number(n), force: values.force }, flags };
  }
  throw usage(`unknown action '${action}' (expected status, release or set-slots)`);
}

function usage(message: string) {
  return usageError("lock", message);
}
