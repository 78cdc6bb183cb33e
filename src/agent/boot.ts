/**
 * Boot verification at start: asks src/health/verdict.ts what this boot means (before and after the
 * health checks), persists its record first, then carries out its effects in order. The verdict is pure;
 * this file only runs things. The reboot slot is given back by the loop's `reporting-steady` phase,
 * which only runs once this has said the boot is good, so "release after verified healthy" needs no
 * extra machinery.
 */
import type { Settings } from "../config/index.js";
import type { DeploymentManager } from "../deploy/port.js";
import type { DeploymentStatus } from "../deploy/deployment.js";
import type { Metrics } from "../api/metrics.js";
import type { Logger } from "../host/log.js";
import { BOOT_STATUS_MOTD_NAME, writeMotd } from "../host/motd.js";
import { runGreen, runHealthChecks, runRed, type RunChecksOptions } from "../health/checks.js";
import { decideBoot, type BootEffect, type HealthInput } from "../health/verdict.js";
import type { HealthReport } from "../health/report.js";
import { bootStatusMotd } from "../health/render.js";
import type { VerifiedRelease } from "../health/record.js";
import { childEnvVars, POST_BOOT_HOOKS_DIR, runHooks, type Runtime, type RuntimeInputs } from "./runtime.js";
import { addToDenylist, withBootRecord } from "./machine.js";
import { describeError } from "./errors.js";
import type { AgentState, Phase } from "./state.js";

export interface BootVerificationInput {
  state: AgentState;
  status: DeploymentStatus;
  settings: Settings;
  root: string;
  deploy: DeploymentManager;
  log: Logger;
  metrics: Metrics;
  env: NodeJS.ProcessEnv;
  runtime: () => Runtime;
  inputs: RuntimeInputs;
  bootId: string | undefined;
  /** A plain reboot (logind), for "boot this release again" and an unfinished rollback. */
  reboot: () => Promise<void>;
  /**
   * Persists the state. Called with the decided record before any effect runs (write-ahead): a reboot or a
   * rollback may kill the agent before it returns, and the next boot must find the record that asked for it.
   */
  save?: ((state: AgentState) => Promise<void>) | undefined;
  /** Records a denylisted release for the whole group, when the strategy has a shared store. */
  recordFleetDenylist?: ((release: VerifiedRelease, reason: string) => Promise<void>) | undefined;
}

const release = (d: { version: string; payload: string } | undefined): VerifiedRelease | undefined =>
  d ? { version: d.version, payload: d.payload } : undefined;

function checkOptions(i: BootVerificationInput): RunChecksOptions {
  const env = childEnvVars(i.env);
  // Checks may depend on what is booted (a migration that only the new release needs, ...).
  env.UPDATE_AGENT_BOOTED_VERSION = i.status.booted.version;
  env.UPDATE_AGENT_BOOTED_PAYLOAD = i.status.booted.payload;
  return {
    root: i.root,
    greenbootDirs: i.settings.health.greenboot_dirs,
    timeoutMs: i.settings.health.check_timeout_secs * 1000,
    env,
    onLine: (name, _stream, line) => i.log.info(`${name}: ${line}`, { check: name }),
  };
}

function recordHealth(i: BootVerificationInput, report: HealthReport): void {
  for (const part of [...report.required, ...report.wanted]) {
    if (part.skipped !== null) continue;
    i.metrics.healthCheckDuration.observe({ check: part.name }, part.durationMs / 1000);
    if (!part.ok) i.metrics.failedHealthChecks.inc({ check: part.name });
  }
}

export async function verifyBoot(i: BootVerificationInput): Promise<AgentState> {
  if (!i.settings.health.enabled) return i.state;
  const { status, log } = i;
  const facts = {
    booted: release(status.booted)!,
    staged: release(status.staged),
    rollback: release(status.rollback),
    bootId: i.bootId,
    nextBoot: release(status.deployments.find((d) => !d.staged)),
  };
  const config = { maxBootAttempts: i.settings.health.max_boot_attempts, onFailure: i.settings.health.on_failure };
  let state = i.state;
  let health: HealthInput = "not-run-yet";

  for (let round = 0; round < 2; round++) {
    const decision = decideBoot({ record: state.boot ?? null, facts, health, config, now: new Date() });
    const logAt = decision.severity === "error" ? "error" : decision.severity === "warning" ? "warn" : "info";
    log[logAt](decision.message);
    state = withBootRecord(state, decision.record ?? undefined);
    const effects = decision.effects;
    if (effects.some((e) => e.kind === "run-checks")) {
      const report = await runHealthChecks(checkOptions(i));
      recordHealth(i, report);
      state = { ...state, last_health: report };
      health = report;
      continue;
    }
    await i.save?.(state).catch((e: unknown) => log.error(`cannot save the boot-verification record: ${e instanceof Error ? e.message : String(e)}`));
    // Before the effects: whoever logs in while a reboot or rollback is under way sees why.
    await writeMotd(i.root, BOOT_STATUS_MOTD_NAME, bootStatusMotd(health, state.boot ?? null)).catch((e: unknown) =>
      log.warn(`cannot write the boot-status MOTD: ${e instanceof Error ? e.message : String(e)}`),
    );
    state = await carryOut(i, state, effects, releaseLeftBehind(i.state));
    break;
  }
  return state;
}

/**
 * Runs a step that reboots. When it fails (rpm-ostree refuses the rollback, logind refuses the reboot) the agent
 * must not crash into a restart loop: it stays put, says so, and keeps the slot. The record was saved first, so
 * the next start of the agent decides again and retries the step.
 */
async function attempt(i: BootVerificationInput, what: string, step: () => Promise<void>, setPhase: (phase: Phase) => void): Promise<boolean> {
  try {
    await step();
    return true;
  } catch (e) {
    const message = `could not ${what}: ${describeError(e)}; ` +
      "staying on this release and keeping the reboot slot. Restart update-agent to try again";
    i.log.error(message);
    setPhase({ kind: "held", message });
    return false;
  }
}

/** The release this boot moved away from (what post-boot hooks see as the old version), when known. */
function releaseLeftBehind(before: AgentState): VerifiedRelease | undefined {
  const record = before.boot;
  if (record?.kind === "pending") return record.previous;
  if (record?.kind === "rolling-back") return record.from;
  return undefined;
}

async function carryOut(i: BootVerificationInput, initial: AgentState, effects: BootEffect[], leftBehind: VerifiedRelease | undefined): Promise<AgentState> {
  let state = initial;
  const setPhase = (phase: Phase) => (state = { ...state, phase, last_state_change: new Date().toISOString() });
  for (const effect of effects) {
    switch (effect.kind) {
      case "run-checks":
        break;
      case "record-good":
        i.metrics.bootsVerified.inc();
        break;
      case "run-green":
        await runGreen(checkOptions(i));
        break;
      case "run-red":
        await runRed(checkOptions(i));
        break;
      case "run-post-boot-hooks": {
        const booted = { version: i.status.booted.version, payload: i.status.booted.payload, age_index: 0 };
        const hooks = await runHooks(i.inputs, POST_BOOT_HOOKS_DIR, booted, leftBehind);
        if (!hooks.ok) i.log.warn(`post-boot hook failed: ${hooks.failures.join("; ")}`);
        break;
      }
      case "release-slot":
        // The loop's reporting-steady phase gives the slot back, unless the fleet must halt for a human.
        if (i.settings.health.halt_on_failure && state.boot?.kind === "rolled-back") {
          setPhase({ kind: "held", message: `${state.boot.from.version} failed on this node; the reboot slot is kept so the fleet stops (health.halt_on_failure)` });
        }
        break;
      case "cleanup-staged":
        await i.deploy.cleanupPending().catch((e: unknown) => i.log.warn(`cleanup of the staged deployment failed: ${e instanceof Error ? e.message : String(e)}`));
        break;
      case "reboot-again":
        setPhase({ kind: "finalized", target: { ...effect.release, age_index: 0 }, finalized_at: new Date().toISOString() });
        if (!(await attempt(i, `reboot into ${effect.release.version} again`, () => i.reboot(), setPhase))) return state;
        break;
      case "rollback":
        setPhase({ kind: "finalized", target: { ...effect.to, age_index: 0 }, finalized_at: new Date().toISOString() });
        if (!(await attempt(i, `roll back from ${effect.from.version} to ${effect.to.version}`, () => i.deploy.rollback({ reboot: true }), setPhase))) return state;
        i.metrics.rollbacks.inc();
        break;
      case "reboot":
        setPhase({ kind: "finalized", target: { ...effect.into, age_index: 0 }, finalized_at: new Date().toISOString() });
        if (!(await attempt(i, `reboot into ${effect.into.version}`, () => i.reboot(), setPhase))) return state;
        break;
      case "denylist":
        if (!state.denylist.some((d) => d.payload === effect.release.payload)) {
          state = addToDenylist(state, effect.release, effect.reason, new Date());
          i.log.error(`release ${effect.release.version} denylisted: ${effect.reason}`);
        }
        await i.recordFleetDenylist?.(effect.release, effect.reason).catch((e: unknown) =>
          i.log.error(`cannot record ${effect.release.version} in the group's denylist: ${e instanceof Error ? e.message : String(e)}`),
        );
        break;
      case "hold":
        i.log.error(effect.message);
        setPhase({ kind: "held", message: effect.message });
        break;
    }
  }
  return state;
}
