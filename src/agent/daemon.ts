/**
 * `agentd`: wires the real adapters to the driver and runs until SIGTERM.
 * Start-up order follows Zincati (config, deployment status, identity, state) and then goes further:
 * the persisted phase is reconciled with reality, the boot is verified, and only then READY=1.
 */
import { parseArgs } from "node:util";
import { loadConfig, type LoadedConfig } from "../config/index.js";
import { AgentError, isAgentError } from "../errors.js";
import { createLogger, type Logger } from "../host/log.js";
import { createNotifier, startWatchdog } from "../host/notify.js";
import { systemClock } from "../host/clock.js";
import { connectSystemBus } from "../host/dbus.js";
import { createLogindWatcher } from "../host/logind.js";
import { createMetrics } from "../api/metrics.js";
import { startMetricsServer } from "../api/metrics-server.js";
import { exportAgentService } from "../api/agent-service.js";
import { connectRpmOstree } from "../deploy/rpm-ostree.js";
import type { DeploymentManager } from "../deploy/port.js";
import type { DeploymentStatus } from "../deploy/deployment.js";
import { resolveIdentity } from "../identity/index.js";
import { agentStateFile } from "./store.js";
import { reconcileAtStart } from "./reconcile.js";
import { buildRuntime, type Runtime, type RuntimeInputs } from "./runtime.js";
import { Driver } from "./driver.js";
import { checkForUpdate } from "./check.js";
import { evaluateGate, reportSteady } from "../strategy/gate.js";
import { Publisher } from "./publish.js";
import { verifyBoot } from "./boot.js";
import { withBackoff } from "./retry.js";
import { currentBootId } from "../host/boot-id.js";
import { instrumentDeployments } from "./instrument.js";
import type { AgentState } from "./state.js";

const DRIVER_NAME = "update-agent";
const STOP_GRACE_MS = 60_000;
const STATUS_WAIT_MS = 60_000;

export interface DaemonArgs {
  root: string;
  logFormat: "text" | "json" | undefined;
  verbose: number;
}

export function parseDaemonArgs(argv: string[]): DaemonArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      root: { type: "string", default: "/" },
      "log-format": { type: "string" },
      verbose: { type: "boolean", short: "v", multiple: true },
    },
    strict: true,
  });
  const format = values["log-format"];
  if (format !== undefined && format !== "text" && format !== "json") {
    throw new AgentError("USAGE", `--log-format must be "text" or "json", not "${format}"`);
  }
  return { root: values.root ?? "/", logFormat: format, verbose: values.verbose?.length ?? 0 };
}

async function waitForStatus(deploy: DeploymentManager, log: Logger, signal: AbortSignal): Promise<DeploymentStatus> {
  return withBackoff({
    what: "read the deployment status from rpm-ostree",
    attempt: () => deploy.status(),
    totalMs: STATUS_WAIT_MS,
    log,
    signal,
  });
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let args: DaemonArgs;
  try {
    args = parseDaemonArgs(argv);
  } catch (e) {
    process.stderr.write(`agentd: ${isAgentError(e) ? e.describe() : String(e)}\n`);
    return 2;
  }
  const bootLog = createLogger({ env, format: args.logFormat ?? "text", level: args.verbose > 0 ? "debug" : "info" });
  let config: LoadedConfig;
  try {
    config = await loadConfig({ root: args.root });
  } catch (e) {
    logConfigError(bootLog, e);
    return 1;
  }
  const log = createLogger({ env, format: args.logFormat ?? config.settings.agent.log_format, level: args.verbose > 0 ? "debug" : "info" });
  for (const w of config.warnings) log.warn(w.describe(), { code: w.code });

  const stop = new AbortController();
  const stopped = new Promise<void>((r) => stop.signal.addEventListener("abort", () => r(), { once: true }));
  const notifier = createNotifier({ env, uid: process.getuid?.() ?? 0, log });
  const metrics = createMetrics();
  // The publisher exists only once the state is loaded; until then nothing it shows can be stale.
  let stagedMayHaveChanged = () => {};
  const deploy = instrumentDeployments(connectRpmOstree({ env }), metrics, () => stagedMayHaveChanged());
  const onTerm = () => {
    stop.abort();
  };
  process.on("SIGTERM", onTerm);
  process.on("SIGINT", onTerm);

  try {
    const status = await waitForStatus(deploy, log, stop.signal);
    let settings = config.settings;
    const identity = await resolveIdentity({
      root: args.root,
      booted: status.booted,
      group: settings.identity.group,
      nodeUuid: settings.identity.node_uuid,
      rolloutWariness: settings.identity.rollout_wariness,
      platform: settings.identity.platform,
    });
    metrics.setIdentity({ osVersion: identity.current.version, basearch: identity.basearch, stream: identity.stream, platform: identity.platform });
    metrics.setRolloutWariness(identity.rolloutWariness);
    log.info(`agent identity: ${identity.nodeUuid} group ${identity.group}, ${identity.stream} on ${identity.platform}/${identity.basearch}, booted ${identity.current.version}`);

    const store = agentStateFile(args.root, (level, msg) => log[level](msg));
    const loaded = await store.load();
    for (const w of loaded.warnings) log.warn(w.describe(), { code: w.code });
    const bus = connectSystemBus(env, (e) => log.warn(`D-Bus connection error: ${e.message}`));
    const sessions = createLogindWatcher({ env });
    const inputs = (s = settings): RuntimeInputs => ({ root: args.root, settings: s, identity: { ...identity, group: s.identity.group }, env, log, metrics, sessions, now: () => systemClock.now() });
    let runtime: Runtime = await buildRuntime(inputs());

    const facts = { booted: status.booted, staged: status.staged };
    let state: AgentState = settings.updates.enabled ? loaded.state : { ...loaded.state, phase: { kind: "disabled" } };
    if (settings.updates.enabled) {
      const reconciled = reconcileAtStart(state, facts, systemClock.now(), runtime.policy.maxPostponements);
      for (const note of reconciled.notes) log.notice(note);
      state = await verifyBoot({
        state: reconciled.state,
        status,
        settings,
        root: args.root,
        deploy,
        log,
        metrics,
        env,
        runtime: () => runtime,
        inputs: inputs(),
        bootId: await currentBootId(args.root),
        reboot: () => sessions.reboot(),
        recordFleetDenylist: runtime.fleet?.record,
        save: (s) => store.save(s),
      });
    }
    await store.save(state);

    const publisher = new Publisher({
      root: args.root,
      notifier,
      metrics,
      log,
      booted: identity.current,
      strategy: () => runtime.strategy,
      readStaged: async () => {
        const staged = (await deploy.status()).staged;
        return staged && { version: staged.version, payload: staged.payload, finalizationLocked: staged.finalizationLocked };
      },
    });
    stagedMayHaveChanged = () => publisher.stagedMayHaveChanged();
    const driver = new Driver(
      state,
      {
        save: (s) => store.save(s),
        deploy,
        checkGraph: async (denylist, signal) => {
          metrics.updateChecks.inc();
          const fleetDenylist = (await runtime.fleet?.read()) ?? [];
          const all = fleetDenylist.length === 0 ? denylist : new Set([...denylist, ...fleetDenylist.map((e) => e.payload)]);
          const outcome = await checkForUpdate({ settings, identity: inputs().identity, denylist: all, now: systemClock.now(), env, log, signal });
          if (outcome.errorKind) metrics.updateCheckErrors.inc({ kind: outcome.errorKind });
          if (outcome.plan) publisher.graphChecked(outcome.plan);
          return { ...outcome, fleetDenylist };
        },
        evaluateGate: async (request) => {
          const result = await evaluateGate(runtime.gate, request);
          publisher.gateAnswered(result);
          return result;
        },
        reportSteady: () => reportSteady(runtime.gate),
        published: (s, progress) => publisher.publish(s, progress),
        bootId: () => currentBootId(args.root),
        expectedStream: () => identity.stream,
        allowDowngrade: () => settings.updates.allow_downgrade,
        log,
        clock: systemClock,
        rand: Math.random,
      },
      { policy: runtime.policy, timing: runtime.timing },
    );
    const service = await exportAgentService(bus, publisher.control(driver), [0, process.getuid?.() ?? 0]);
    publisher.attachService(service);
    const metricsServer = await startMetricsServer({ root: args.root, metrics, listen: settings.metrics.listen, log });

    void withBackoff({
      what: "register with rpm-ostree as the update driver",
      attempt: async () => {
        await deploy.registerClient(DRIVER_NAME);
        await deploy.registerDriver(DRIVER_NAME);
      },
      totalMs: Number.POSITIVE_INFINITY,
      log,
      signal: stop.signal,
      onFailure: () => metrics.registerDriverFailures.inc(),
    }).catch(() => undefined);

    process.on("SIGHUP", () => {
      void (async () => {
        await notifier.reloading();
        try {
          const next = await loadConfig({ root: args.root });
          for (const w of next.warnings) log.warn(w.describe(), { code: w.code });
          const nextRuntime = await buildRuntime(inputs(next.settings));
          settings = next.settings;
          runtime = nextRuntime;
          driver.reconfigure({ policy: runtime.policy, timing: runtime.timing });
          driver.send({ type: "updates-enabled", enabled: settings.updates.enabled });
          log.notice("configuration reloaded", { fragments: next.fragments.length });
        } catch (e) {
          logConfigError(log, e);
          log.error("keeping the previous configuration");
        }
        await notifier.ready();
      })();
    });

    driver.start();
    await notifier.ready();
    const stopWatchdog = startWatchdog({ env, notifier, isAlive: () => driver.isAlive(), log });
    await stopped;

    log.notice("stopping");
    await notifier.status("");
    await notifier.stopping();
    stopWatchdog();
    await driver.stop(STOP_GRACE_MS);
    await service.close().catch(() => undefined);
    await metricsServer.close().catch(() => undefined);
    bus.disconnect();
    await deploy.close();
    return 0;
  } catch (e) {
    if (stop.signal.aborted) return 0;
    log.error(`fatal: ${isAgentError(e) ? e.describe() : e instanceof Error ? e.stack ?? e.message : String(e)}`, isAgentError(e) ? { code: e.code } : {});
    await deploy.close().catch(() => undefined);
    return 1;
  } finally {
    process.off("SIGTERM", onTerm);
    process.off("SIGINT", onTerm);
  }
}

function logConfigError(log: Logger, e: unknown): void {
  if (isAgentError(e)) {
    const problems = (e.details?.problems as AgentError[] | undefined) ?? [e];
    for (const p of problems) log.error(`invalid configuration: ${p.describe()}`, { code: p.code });
  } else {
    log.error(`cannot load the configuration: ${String(e)}`);
  }
}

