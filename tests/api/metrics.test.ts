import { test } from "node:test";
import assert from "node:assert/strict";
import { createMetrics } from "../../src/api/metrics.js";
import { parseExposition, valueOf } from "./metrics-exposition.js";

const ZINCATI_FACTS: Array<[string, string]> = [
  ["process_start_time_seconds", "gauge"],
  ["update_agent_identity_os_info", "gauge"],
  ["update_agent_graph_nodes_count", "gauge"],
  ["update_agent_graph_edges_count", "gauge"],
  ["update_agent_booted_release_is_deadend", "gauge"],
  ["update_agent_ignored_update_targets", "gauge"],
  ["update_agent_update_checks_total", "counter"],
  ["update_agent_update_checks_errors_total", "counter"],
  ["update_agent_deployment_deploy_attempts_total", "counter"],
  ["update_agent_deployment_deploy_failures_total", "counter"],
  ["update_agent_deployment_finalize_attempts_total", "counter"],
  ["update_agent_deployment_finalize_failures_total", "counter"],
  ["update_agent_deployment_status_attempts_total", "counter"],
  ["update_agent_deployment_status_failures_total", "counter"],
  ["update_agent_deployment_register_driver_failures_total", "counter"],
  ["update_agent_fleet_lock_requests_total", "counter"],
  ["update_agent_fleet_lock_errors_total", "counter"],
  ["update_agent_strategy_mode", "gauge"],
  ["update_agent_strategy_periodic_schedule_length_minutes", "gauge"],
  ["update_agent_strategy_can_finalize_responses_total", "counter"],
  ["update_agent_updates_enabled", "gauge"],
  ["update_agent_updates_allow_downgrade", "gauge"],
  ["update_agent_latest_state_change_timestamp_seconds", "gauge"],
  ["update_agent_last_refresh_timestamp_seconds", "gauge"],
  ["update_agent_postponed_finalizations_total", "counter"],
  ["update_agent_finalization_detected_active_users", "gauge"],
  ["update_agent_finalization_attempts_total", "counter"],
  ["update_agent_finalization_successes_total", "counter"],
  ["update_agent_finalization_blocked_total", "counter"],
];

const OUR_FACTS: Array<[string, string]> = [
  ["update_agent_etcd_lock_requests_total", "counter"],
  ["update_agent_boots_verified_total", "counter"],
  ["update_agent_health_check_failures_total", "counter"],
  ["update_agent_rollbacks_total", "counter"],
  ["update_agent_denylisted_releases", "gauge"],
  ["update_agent_health_check_duration_seconds", "histogram"],
];

test("every fact Zincati exports, and ours, is exposed with its type", async () => {
  const { types } = parseExposition(await createMetrics().render());
  for (const [name, type] of [...ZINCATI_FACTS, ...OUR_FACTS]) assert.equal(types.get(name), type, name);
});

test("updates through the named handles show up with their labels", async () => {
  const metrics = createMetrics({ processStartSeconds: 1_700_000_000 });
  metrics.setIdentity({ osVersion: "40.20240504.3.0", basearch: "x86_64", stream: "stable", platform: "qemu" });
  metrics.setStrategy("fleet_lock");
  metrics.updateChecks.inc();
  metrics.updateChecks.inc();
  metrics.updateCheckErrors.inc({ kind: "generic_http_503" });
  metrics.fleetLockRequests.inc({ api: "pre-reboot" });
  metrics.fleetLockErrors.inc({ api: "pre-reboot", kind: "LOCK_BUSY" });
  metrics.canFinalizeResponses.inc({ response: "deny" });
  metrics.finalizationBlocked.inc({ reason: "active_usersessions" });
  metrics.etcdLockRequests.inc({ outcome: "acquired" });
  metrics.failedHealthChecks.inc({ check: "kubelet" });
  metrics.healthCheckDuration.observe({ check: "kubelet" }, 2);
  metrics.updatesEnabled.set(1);
  metrics.bootedReleaseIsDeadEnd.set(0);
  metrics.latestStateChangeTimestamp.set(1_715_719_722);

  const { samples } = parseExposition(await metrics.render());
  assert.equal(valueOf(samples, "process_start_time_seconds"), 1_700_000_000);
  assert.equal(
    valueOf(samples, "update_agent_identity_os_info", { os_version: "40.20240504.3.0", basearch: "x86_64", stream: "stable", platform: "qemu" }),
    1,
  );
  assert.equal(valueOf(samples, "update_agent_strategy_mode", { strategy: "fleet_lock" }), 1);
  assert.equal(valueOf(samples, "update_agent_update_checks_total"), 2);
  assert.equal(valueOf(samples, "update_agent_update_checks_errors_total", { kind: "generic_http_503" }), 1);
  assert.equal(valueOf(samples, "update_agent_fleet_lock_requests_total", { api: "pre-reboot" }), 1);
  assert.equal(valueOf(samples, "update_agent_fleet_lock_errors_total", { api: "pre-reboot", kind: "LOCK_BUSY" }), 1);
  assert.equal(valueOf(samples, "update_agent_strategy_can_finalize_responses_total", { response: "deny" }), 1);
  assert.equal(valueOf(samples, "update_agent_finalization_blocked_total", { reason: "active_usersessions" }), 1);
  assert.equal(valueOf(samples, "update_agent_etcd_lock_requests_total", { outcome: "acquired" }), 1);
  assert.equal(valueOf(samples, "update_agent_health_check_failures_total", { check: "kubelet" }), 1);
  assert.equal(valueOf(samples, "update_agent_health_check_duration_seconds_count", { check: "kubelet" }), 1);
  assert.equal(valueOf(samples, "update_agent_updates_enabled"), 1);
  assert.equal(valueOf(samples, "update_agent_latest_state_change_timestamp_seconds"), 1_715_719_722);
});

test("can_finalize answers exist at zero before the first one, so rates work from the start", async () => {
  const { samples } = parseExposition(await createMetrics().render());
  for (const response of ["allow", "deny", "error"]) {
    assert.equal(valueOf(samples, "update_agent_strategy_can_finalize_responses_total", { response }), 0, response);
  }
});

test("identity and strategy are replaced, never accumulated", async () => {
  const metrics = createMetrics();
  metrics.setIdentity({ osVersion: "39.1", basearch: "x86_64", stream: "stable", platform: "metal" });
  metrics.setIdentity({ osVersion: "40.1", basearch: "x86_64", stream: "stable", platform: "metal" });
  metrics.setStrategy("immediate");
  metrics.setStrategy("periodic");
  const { samples } = parseExposition(await metrics.render());
  assert.deepEqual(
    samples.filter((s) => s.name === "update_agent_identity_os_info").map((s) => s.labels.os_version),
    ["40.1"],
  );
  assert.deepEqual(
    samples.filter((s) => s.name === "update_agent_strategy_mode").map((s) => s.labels.strategy),
    ["periodic"],
  );
});

test("rollout wariness is shown only once it is set", async () => {
  const metrics = createMetrics();
  assert.doesNotMatch(await metrics.render(), /rollout_wariness/);
  metrics.setRolloutWariness(0.5);
  metrics.setRolloutWariness(0.25);
  assert.equal(valueOf(parseExposition(await metrics.render()).samples, "update_agent_identity_rollout_wariness"), 0.25);
  metrics.setRolloutWariness(undefined);
  assert.doesNotMatch(await metrics.render(), /rollout_wariness/);
});

test("two agents' metrics never share state", async () => {
  const a = createMetrics();
  const b = createMetrics();
  a.rollbacks.inc();
  assert.equal(valueOf(parseExposition(await b.render()).samples, "update_agent_rollbacks_total"), 0);
});
