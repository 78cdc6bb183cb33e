/**
 * Everything the agent builds from its settings: the reboot lock, the maintenance-window schedule,
 * the gate's dependencies, the loop's timing. Built at start and again on SIGHUP, so a reload swaps
 * the whole set at once (or, when the new settings are invalid, keeps the old one).
 */
import { access } from "node:fs/promises";
import { join } from "node:path";
import type { Settings } from "../config/index.js";
import type { NodeIdentity } from "../identity/index.js";
import type { Metrics } from "../api/metrics.js";
import type { Logger } from "../host/log.js";
import type { SessionWatcher } from "../host/logind.js";
import { broadcast, formatBroadcast } from "../host/broadcast.js";
import { postponementsFor } from "../host/grace-period.js";
import { runParts } from "../host/run-parts.js";
import { childEnv } from "../host/notify.js";
import type { RebootLock, LockLogger, LockObserver } from "../strategy/lock/index.js";
import { coordinationFromSettings } from "../strategy/lock/from-settings.js";
import { graphUrl } from "../graph/index.js";
import { graphBaseUrl } from "./check.js";
import type { VerifiedRelease } from "../health/record.js";
import { buildSchedule, resolveTimeZone, totalMinutes, type Schedule } from "../strategy/windows/index.js";
import type { GateDeps, HookRun } from "../strategy/gate.js";
import type { Policy } from "./machine.js";
import type { Timing } from "./timing.js";
import type { DenylistEntry, ReleaseRef } from "./state.js";

export const PRE_REBOOT_HOOKS_DIR = "etc/update-agent/hooks/pre-reboot.d";
export const POST_BOOT_HOOKS_DIR = "etc/update-agent/hooks/post-boot.d";
/** Long enough to be handed a slot freed by a node that just booted; short enough to keep control requests snappy. */
const ETCD_LOCK_WAIT_MS = 30_000;
export const SESSION_OVERRIDE_FILE = "run/update-agent/override-interactive-check";

export interface Runtime {
  strategy: string;
  schedule: Schedule | undefined;
  lock: RebootLock | undefined;
  gate: GateDeps;
  policy: Policy;
  timing: Timing;
  /** The group's shared denylist (strategy etcd_lock only). */
  fleet: FleetDenylistPort | undefined;
}

/** The group's denylist as the agent uses it: a failed release is recorded for everyone, and nobody installs it. */
export interface FleetDenylistPort {
  /** Adds a release this node denylisted (boot verification). Throws when etcd cannot be written. */
  record: (release: VerifiedRelease, reason: string) => Promise<void>;
  /** The group's list as denylist entries; empty (and logged) when etcd cannot be read. */
  read: () => Promise<DenylistEntry[]>;
  /** Why `target` must not be installed, when it is on the group's list. Throws when etcd cannot be read. */
  denied: (target: ReleaseRef) => Promise<string | undefined>;
}

export interface RuntimeInputs {
  root: string;
  settings: Settings;
  identity: NodeIdentity;
  env: NodeJS.ProcessEnv;
  log: Logger;
  metrics: Metrics;
  sessions: SessionWatcher | undefined;
  now: () => Date;
}

/**
 * The reboot lock and the group's denylist for the configured strategy (src/strategy/lock/from-settings.ts
 * reads every file named in the settings under the root prefix), with metrics and logs attached.
 */
function coordination(inputs: RuntimeInputs): { lock: RebootLock | undefined; fleet: FleetDenylistPort | undefined } {
  const { settings, identity, log, metrics, root } = inputs;
  const lockLog: LockLogger = (level, msg, fields) => log[level](msg, fields);
  const observe: LockObserver = (api, outcome) => {
    if (api === "etcd") {
      metrics.etcdLockRequests.inc({ outcome });
      return;
    }
    metrics.fleetLockRequests.inc({ api });
    if (outcome !== "ok") metrics.fleetLockErrors.inc({ api, kind: outcome });
  };
  const made = coordinationFromSettings(settings, identity, { root, observe, log: lockLog });
  if (!made) return { lock: undefined, fleet: undefined };
  const list = made.denylist;
  const fleet: FleetDenylistPort | undefined = list && {
    async record(release, reason) {
      const entry = { payload: release.payload, version: release.version, reason, node_id: identity.nodeUuid, time: inputs.now().toISOString() };
      if (await list.recordFleetDenylist(entry)) log.notice(`release ${release.version} added to the denylist of group ${identity.group}`);
    },
    async read() {
      try {
        const entries = await list.readFleetDenylist();
        return entries.map((e) => ({ payload: e.payload, version: e.version, reason: `${e.reason} (on node ${e.node_id})`, at: e.time, source: "fleet" as const }));
      } catch (e) {
        log.warn(`cannot read the denylist of group ${identity.group}; using this node's own: ${e instanceof Error ? e.message : String(e)}`);
        return [];
      }
    },
    async denied(target) {
      const entry = (await list.readFleetDenylist()).find((e) => e.payload === target.payload);
      return entry ? `${target.version} is on the denylist of group ${identity.group}: ${entry.reason} (node ${entry.node_id}, ${entry.time})` : undefined;
    },
  };
  return { lock: made.lock, fleet };
}

function scheduleFor(inputs: RuntimeInputs): Schedule | undefined {
  const { settings, root } = inputs;
  const windowsApply = settings.updates.strategy === "periodic" || (settings.updates.lock_only_in_windows && settings.updates.strategy !== "immediate");
  if (!windowsApply) return undefined;
  const zone = resolveTimeZone(root, settings.updates.periodic.time_zone);
  return buildSchedule(settings.updates.periodic, zone);
}

/** The environment hooks and health checks start from: ours without sd_notify's variables, unset ones left out. */
export function childEnvVars(env: NodeJS.ProcessEnv): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(childEnv(env))) if (v !== undefined) vars[k] = v;
  return vars;
}

/** `from`: the release the node is moving away from; by default the booted one (right for pre-reboot hooks). */
function hookEnv(inputs: RuntimeInputs, target: ReleaseRef, from: { version: string; payload: string } = inputs.identity.current): Record<string, string> {
  return {
    ...childEnvVars(inputs.env),
    UPDATE_AGENT_OLD_VERSION: from.version,
    UPDATE_AGENT_OLD_PAYLOAD: from.payload,
    UPDATE_AGENT_NEW_VERSION: target.version,
    UPDATE_AGENT_NEW_PAYLOAD: target.payload,
    UPDATE_AGENT_NODE_ID: inputs.identity.nodeUuid,
    UPDATE_AGENT_GROUP: inputs.identity.group,
  };
}

/**
 * Runs a hook directory. Post-boot hooks should pass `from` (the release booted before the update, from the
 * boot record): once the new release has booted, the booted one is the target itself.
 */
export async function runHooks(inputs: RuntimeInputs, dir: string, target: ReleaseRef, from?: { version: string; payload: string }): Promise<HookRun> {
  const results = await runParts({
    dirs: [join(inputs.root, dir)],
    timeoutMs: inputs.settings.updates.hooks.timeout_secs * 1000,
    env: hookEnv(inputs, target, from),
    stopOnFailure: true,
    onLine: (name, _stream, line) => inputs.log.info(`${name}: ${line}`, { hook: name }),
  });
  const failures = results
    .filter((r) => r.skipped === null && !r.ok)
    .map((r) => `${r.name} ${r.timedOut ? "timed out" : r.error ?? `exited with ${r.exitCode ?? r.signal}`}`);
  return { ok: failures.length === 0, failures };
}

export async function buildRuntime(inputs: RuntimeInputs): Promise<Runtime> {
  const { settings, log, metrics, root } = inputs;
  const schedule = scheduleFor(inputs);
  const { lock, fleet } = coordination(inputs);
  // Once per (re)configuration, not at every poll: a base URL whose last path segment Zincati's join drops.
  const joined = graphUrl(graphBaseUrl(settings, inputs.identity));
  if (joined.warning) log.warn(joined.warning);
  const t = settings.agent.timing;
  const gracePeriodMinutes = settings.updates.interactive.grace_period_minutes;
  metrics.setStrategy(settings.updates.strategy);
  metrics.updatesEnabled.set(settings.updates.enabled ? 1 : 0);
  metrics.allowDowngrade.set(settings.updates.allow_downgrade ? 1 : 0);
  if (schedule) metrics.periodicScheduleLengthMinutes.set(totalMinutes(schedule));
  if (settings.updates.allow_downgrade) log.warn("downgrades are allowed by configuration: the node may move to releases with known vulnerabilities");
  const gate: GateDeps = {
    strategy: settings.updates.strategy,
    schedule,
    lock,
    lockWaitMs: settings.updates.strategy === "etcd_lock" ? ETCD_LOCK_WAIT_MS : 0,
    sessions: settings.updates.interactive.check_sessions ? inputs.sessions : undefined,
    inhibitors: inputs.sessions,
    gracePeriodMinutes,
    postponementIntervalSecs: t.postponement_interval_secs,
    overrideSessions: () => access(join(root, SESSION_OVERRIDE_FILE)).then(() => true, () => false),
    // broadcast() logs every terminal it could not write to, and the count.
    broadcast: async (sessions, target, secs) => void (await broadcast({ root, sessions, message: formatBroadcast(target.version, secs, inputs.now()), log })),
    runPreRebootHooks: (target) => runHooks(inputs, PRE_REBOOT_HOOKS_DIR, target),
    ...(fleet ? { denied: fleet.denied } : {}),
    log,
    now: inputs.now,
  };
  return {
    strategy: settings.updates.strategy,
    schedule,
    lock,
    gate,
    fleet,
    policy: { maxDeployAttempts: t.max_deploy_attempts, steadyIntervalMs: t.steady_interval_secs * 1000, maxPostponements: postponementsFor(gracePeriodMinutes, t.postponement_interval_secs) },
    timing: {
      steadyIntervalSecs: t.steady_interval_secs,
      retryIntervalSecs: t.retry_interval_secs,
      endIntervalSecs: t.end_interval_secs,
      postponementIntervalSecs: t.postponement_interval_secs,
      jitterPercent: t.jitter_percent,
    },
  };
}
