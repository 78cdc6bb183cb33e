/**
 * At start, the persisted phase is checked against what the deployment manager reports, so a restart
 * (kill -9, crash, reboot) resumes where the agent was without staging twice or finalizing twice.
 * Pure: (persisted state, deployment facts, now) → (state to resume from, what to log).
 */
import { addToDenylist, withPhase } from "./machine.js";
import type { AgentState, Phase } from "./state.js";

export interface DeploymentFacts {
  booted: { version: string; payload: string };
  staged: { version: string; payload: string; finalizationLocked: boolean } | undefined;
}

export interface Reconciled {
  state: AgentState;
  notes: string[];
}

const same = (a: { payload: string }, b: { payload: string } | undefined) => b !== undefined && a.payload === b.payload;

export function reconcileAtStart(state: AgentState, facts: DeploymentFacts, now: Date, maxPostponements: number): Reconciled {
  const phase = state.phase;
  const steady: Phase = { kind: "reporting-steady" };
  switch (phase.kind) {
    case "disabled":
    case "held":
    case "idle":
    case "reporting-steady":
      return { state: withPhase(state, steady, now), notes: [] };

    case "staging":
      if (same(phase.target, facts.booted)) {
        return { state: withPhase(state, steady, now), notes: [`${phase.target.version} is already booted`] };
      }
      if (same(phase.target, facts.staged) && facts.staged?.finalizationLocked) {
        const staged: Phase = { kind: "staged", target: phase.target, staged_at: now.toISOString(), postponements_left: maxPostponements };
        return { state: withPhase(state, staged, now), notes: [`found ${phase.target.version} already staged; not staging it again`] };
      }
      return { state, notes: [`resuming staging of ${phase.target.version} (failed attempts: ${phase.attempts})`] };

    case "staged":
      if (same(phase.target, facts.booted)) {
        return { state: withPhase(state, steady, now), notes: [`${phase.target.version} was booted outside the agent`] };
      }
      if (same(phase.target, facts.staged)) {
        return { state: withPhase(state, { ...phase, postponements_left: maxPostponements }, now), notes: [] };
      }
      // A reboot without finalization drops a locked deployment (coreos/zincati#554): stage it again.
      return {
        state: withPhase(state, { kind: "staging", target: phase.target, attempts: 0 }, now),
        notes: [`staged deployment ${phase.target.version} is gone (reboot without finalization?); staging it again`],
      };

    case "finalizing":
    case "finalized": {
      const target = phase.target;
      if (same(target, facts.booted)) {
        return { state: withPhase(state, steady, now), notes: [`rebooted as planned: now running ${target.version}`] };
      }
      if (same(target, facts.staged)) {
        if (facts.staged && !facts.staged.finalizationLocked) {
          // FinalizeDeployment unlocked it: a reboot is already under way. Never finalize twice.
          const finalized: Phase =
            phase.kind === "finalized" ? phase : { kind: "finalized", target, finalized_at: now.toISOString() };
          return { state: withPhase(state, finalized, now), notes: [`${target.version} is finalized; waiting for the reboot`] };
        }
        // Still locked: FinalizeDeployment never ran. The boot record written ahead of it must go, or a later
        // reboot that drops the locked deployment would be read as "finalized, and did not boot" (denylisted).
        const staged: Phase = { kind: "staged", target, staged_at: now.toISOString(), postponements_left: maxPostponements };
        const { boot, ...withoutBoot } = state;
        const unfinalized = boot?.kind === "pending" && boot.release.payload === target.payload ? withoutBoot : state;
        return { state: withPhase(unfinalized, staged, now), notes: [`${target.version} is staged but was never finalized; waiting for the strategy again`] };
      }
      // Finalized, rebooted, and yet not running it (bootloader fallback, manual rollback, power loss): the
      // boot record written before finalizing tells the boot verification what happened (src/health/verdict.ts).
      // Without one (a state file from before verification existed), denylist it here.
      if (state.boot?.kind === "pending") {
        return { state: withPhase(state, steady, now), notes: [`${target.version} is not booted; boot verification decides what happened`] };
      }
      const reason = `did not boot: finalized, but the node came back on ${facts.booted.version}`;
      return {
        state: withPhase(addToDenylist(state, target, reason, now), steady, now),
        notes: [`${target.version} ${reason}; it will not be retried automatically`],
      };
    }
  }
}
