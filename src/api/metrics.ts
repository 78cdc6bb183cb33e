/**
 * Every fact the agent exports to Prometheus, in its own registry (never prom-client's global one,
 * so tests and a future second agent instance cannot collide). Names follow Zincati's set under
 * `update_agent_*`, with `_total` on every counter and `_seconds` on timestamps, plus the facts
 * only this agent has (etcd locks, boot verification, health checks, rollbacks).
 * Everything is registered up front: a series that exists at 0 makes `rate()` and alerts work
 * from the first scrape.
 */
// The classes straight from their modules: prom-client's index also loads its pushgateway, cluster aggregation,
// default metrics and OpenTelemetry glue, none of which the agent uses (about 5 MB of idle RSS; bench/agentd.bench.ts).
// Types: src/api/prom-client-lib.d.ts.
import Counter from "prom-client/lib/counter.js";
import Gauge from "prom-client/lib/gauge.js";
import Histogram from "prom-client/lib/histogram.js";
import Registry from "prom-client/lib/registry.js";

export interface OsIdentity {
  osVersion: string;
  basearch: string;
  stream: string;
  platform: string;
}

export interface Metrics {
  readonly registry: Registry;
  /** The Prometheus text exposition of everything below. */
  render(): Promise<string>;
  /** The exposition's HTTP content type. */
  readonly contentType: string;

  /** `update_agent_identity_os_info{os_version,basearch,stream,platform} 1`, replacing the old one. */
  setIdentity(identity: OsIdentity): void;
  /** Shown only once set (Zincati exports it only when configured); `undefined` hides it again. */
  setRolloutWariness(wariness: number | undefined): void;
  /** `update_agent_strategy_mode{strategy} 1`, replacing the old one. */
  setStrategy(strategy: string): void;

  graphNodes: Gauge;
  graphEdges: Gauge;
  bootedReleaseIsDeadEnd: Gauge;
  ignoredUpdateTargets: Gauge;
  updateChecks: Counter;
  /** `kind`: the server's error kind, `generic_http_<code>`, or an AgentError code. */
  updateCheckErrors: Counter<"kind">;

  deployAttempts: Counter;
  deployFailures: Counter;
  finalizeAttempts: Counter;
  finalizeFailures: Counter;
  statusAttempts: Counter;
  statusFailures: Counter;
  registerDriverFailures: Counter;

  /** `api`: `pre-reboot` or `steady-state`. */
  fleetLockRequests: Counter<"api">;
  fleetLockErrors: Counter<"api" | "kind">;
  periodicScheduleLengthMinutes: Gauge;
  /** `response`: `allow`, `deny` or `error`. */
  canFinalizeResponses: Counter<"response">;

  updatesEnabled: Gauge;
  allowDowngrade: Gauge;
  /** Unix seconds of the last change of state kind. */
  latestStateChangeTimestamp: Gauge;
  /** Unix seconds of the last agent tick. */
  lastRefreshTimestamp: Gauge;
  postponedFinalizations: Counter;
  detectedActiveUsers: Gauge;
  finalizationAttempts: Counter;
  finalizationSuccesses: Counter;
  /** `reason`: e.g. `active_usersessions`, `inhibitor`, `strategy`. */
  finalizationBlocked: Counter<"reason">;

  /** `outcome`: e.g. `acquired`, `busy`, `released`, `error`. */
  etcdLockRequests: Counter<"outcome">;
  bootsVerified: Counter;
  failedHealthChecks: Counter<"check">;
  rollbacks: Counter;
  denylistedReleases: Gauge;
  healthCheckDuration: Histogram<"check">;
}

export interface MetricsOptions {
  /** Unix seconds the process started; default from `process.uptime()`. */
  processStartSeconds?: number;
}

const PREFIX = "update_agent_";

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const gauge = (name: string, help: string) => new Gauge({ name: PREFIX + name, help, registers });
  const counter = (name: string, help: string) => new Counter({ name: PREFIX + name, help, registers });
  const labelledCounter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Counter<L>({ name: PREFIX + name, help, labelNames, registers });

  const processStart = new Gauge({
    name: "process_start_time_seconds",
    help: "Start time of the process since unix epoch in seconds.",
    registers,
  });
  processStart.set(options.processStartSeconds ?? Date.now() / 1000 - process.uptime());

  const osInfo = new Gauge<"os_version" | "basearch" | "stream" | "platform">({
    name: `${PREFIX}identity_os_info`,
    help: "Information about the booted OS; the value is always 1.",
    labelNames: ["os_version", "basearch", "stream", "platform"],
    registers,
  });
  const warinessName = `${PREFIX}identity_rollout_wariness`;
  const rolloutWariness = new Gauge({
    name: warinessName,
    help: "Client rollout wariness, from 0.0 (eager) to 1.0 (very wary).",
    registers: [],
  });
  const strategyMode = new Gauge<"strategy">({
    name: `${PREFIX}strategy_mode`,
    help: "The configured update strategy; the value is always 1.",
    labelNames: ["strategy"],
    registers,
  });

  const canFinalizeResponses = labelledCounter("strategy_can_finalize_responses_total", "Answers of the update strategy to whether the node may reboot.", ["response"]);
  for (const response of ["allow", "deny", "error"]) canFinalizeResponses.inc({ response }, 0);
  const finalizationBlocked = labelledCounter("finalization_blocked_total", "Finalizations held back, by reason.", ["reason"]);
  finalizationBlocked.inc({ reason: "active_usersessions" }, 0);

  return {
    registry,
    render: () => registry.metrics(),
    contentType: registry.contentType,

    setIdentity(identity) {
      osInfo.reset();
      osInfo.set(
        { os_version: identity.osVersion, basearch: identity.basearch, stream: identity.stream, platform: identity.platform },
        1,
      );
    },
    setRolloutWariness(wariness) {
      const shown = registry.getSingleMetric(warinessName) !== undefined;
      if (wariness === undefined) {
        if (shown) registry.removeSingleMetric(warinessName);
        return;
      }
      if (!shown) registry.registerMetric(rolloutWariness);
      rolloutWariness.set(wariness);
    },
    setStrategy(strategy) {
      strategyMode.reset();
      strategyMode.set({ strategy }, 1);
    },

    graphNodes: gauge("graph_nodes_count", "Nodes in the last update graph fetched."),
    graphEdges: gauge("graph_edges_count", "Edges in the last update graph fetched."),
    bootedReleaseIsDeadEnd: gauge("booted_release_is_deadend", "Whether the booted release is a dead-end (1) or not (0)."),
    ignoredUpdateTargets: gauge("ignored_update_targets", "Update targets in the graph that were ignored (denylisted, wrong architecture, ...)."),
    updateChecks: counter("update_checks_total", "Update checks against the graph server."),
    updateCheckErrors: labelledCounter("update_checks_errors_total", "Failed update checks, by error kind.", ["kind"]),

    deployAttempts: counter("deployment_deploy_attempts_total", "Attempts to stage a deployment."),
    deployFailures: counter("deployment_deploy_failures_total", "Failed attempts to stage a deployment."),
    finalizeAttempts: counter("deployment_finalize_attempts_total", "Attempts to finalize a staged deployment."),
    finalizeFailures: counter("deployment_finalize_failures_total", "Failed attempts to finalize a staged deployment."),
    statusAttempts: counter("deployment_status_attempts_total", "Requests for the deployment status."),
    statusFailures: counter("deployment_status_failures_total", "Failed requests for the deployment status."),
    registerDriverFailures: counter("deployment_register_driver_failures_total", "Failed attempts to register as the update driver."),

    fleetLockRequests: labelledCounter("fleet_lock_requests_total", "Requests to the FleetLock server, by API.", ["api"]),
    fleetLockErrors: labelledCounter("fleet_lock_errors_total", "Failed FleetLock requests, by API and error kind.", ["api", "kind"]),
    periodicScheduleLengthMinutes: gauge("strategy_periodic_schedule_length_minutes", "Total length of the periodic strategy's maintenance windows per week, in minutes."),
    canFinalizeResponses,

    updatesEnabled: gauge("updates_enabled", "Whether automatic updates are enabled (1) or not (0)."),
    allowDowngrade: gauge("updates_allow_downgrade", "Whether automatic downgrades are allowed (1) or not (0)."),
    latestStateChangeTimestamp: gauge("latest_state_change_timestamp_seconds", "Unix time of the agent's last change of state."),
    lastRefreshTimestamp: gauge("last_refresh_timestamp_seconds", "Unix time of the agent's last tick."),
    postponedFinalizations: counter("postponed_finalizations_total", "Finalizations postponed because of interactive user sessions."),
    detectedActiveUsers: gauge("finalization_detected_active_users", "Interactive user sessions seen at the last finalization check."),
    finalizationAttempts: counter("finalization_attempts_total", "Attempts to finalize an update and reboot."),
    finalizationSuccesses: counter("finalization_successes_total", "Successful finalizations."),
    finalizationBlocked,

    etcdLockRequests: labelledCounter("etcd_lock_requests_total", "Requests for the etcd reboot lock, by outcome.", ["outcome"]),
    bootsVerified: counter("boots_verified_total", "Boots into a new release that passed their health checks."),
    failedHealthChecks: labelledCounter("health_check_failures_total", "Failed post-boot health checks, by check.", ["check"]),
    rollbacks: counter("rollbacks_total", "Rollbacks to the previous release after a failed boot."),
    denylistedReleases: gauge("denylisted_releases", "Releases the agent will not offer as update targets."),
    healthCheckDuration: new Histogram<"check">({
      name: `${PREFIX}health_check_duration_seconds`,
      help: "How long each post-boot health check took.",
      labelNames: ["check"],
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    }),
  };
}
