/**
 * The pure rules behind fixes found by the loop's integration tests (tests/agent/loop-*.test.ts), as table tests:
 * turning the update logic off and on by a reload, and forgetting the boot record of a finalization that never ran.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { transition, type Policy } from "../../src/agent/machine.js";
import { reconcileAtStart } from "../../src/agent/reconcile.js";
import { initialAgentState, type AgentState, type Phase, type ReleaseRef } from "../../src/agent/state.js";
import { startVerification } from "../../src/health/record.js";

const now = new Date("2026-11-26T10:00:00Z");
const at = "2026-11-26T09:00:00Z";
const policy: Policy = { maxDeployAttempts: 3, steadyIntervalMs: 300_000, maxPostponements: 10 };
const old = { version: "41.0", payload: "old" };
const x: ReleaseRef = { version: "41.1", payload: "xxx", age_index: 1 };
const withPhase = (phase: Phase): AgentState => ({ ...initialAgentState(), phase });

const phases: Phase[] = [
  { kind: "reporting-steady" },
  { kind: "idle" },
  { kind: "staging", target: x, attempts: 1 },
  { kind: "staged", target: x, staged_at: at, postponements_left: 10 },
  { kind: "finalizing", target: x, started_at: at },
  { kind: "finalized", target: x, finalized_at: at },
  { kind: "held", message: "failed its checks" },
  { kind: "disabled" },
];

test("updates.enabled = false on reload stops the update logic, except once a reboot is under way or a human is awaited", () => {
  const expected: Record<Phase["kind"], Phase["kind"]> = {
    "reporting-steady": "disabled",
    idle: "disabled",
    staging: "disabled",
    staged: "disabled",
    finalizing: "finalizing",
    finalized: "finalized",
    held: "held",
    disabled: "disabled",
  };
  for (const phase of phases) {
    const step = transition(withPhase(phase), { type: "updates-enabled", enabled: false }, now, policy);
    assert.equal(step.state.phase.kind, expected[phase.kind], phase.kind);
    assert.deepEqual(step.effects, [], phase.kind);
    // Once disabled, nothing moves it but enabling again.
    for (const event of [{ type: "tick" }, { type: "check-now" }, { type: "apply-now" }] as const) {
      if (step.state.phase.kind === "disabled") assert.deepEqual(transition(step.state, event, now, policy).effects, []);
    }
  }
});

test("updates.enabled = true on reload starts a disabled agent at once (steady report first), and changes nothing else", () => {
  for (const phase of phases) {
    const step = transition(withPhase(phase), { type: "updates-enabled", enabled: true }, now, policy);
    if (phase.kind === "disabled") {
      assert.equal(step.state.phase.kind, "reporting-steady");
      assert.deepEqual(step.effects.map((e) => e.kind), ["report-steady"]);
      assert.equal(step.state.last_state_change, now.toISOString());
    } else {
      assert.deepEqual(step, { state: withPhase(phase), effects: [] }, phase.kind);
    }
  }
});

test("reconcile: finalizing, but the deployment is still locked: the boot record written ahead of the call is dropped", () => {
  for (const kind of ["finalizing", "finalized"] as const) {
    const phase: Phase = kind === "finalizing" ? { kind, target: x, started_at: at } : { kind, target: x, finalized_at: at };
    const state = { ...withPhase(phase), boot: startVerification(x, old, new Date(at), "boot-1") };
    const r = reconcileAtStart(state, { booted: old, staged: { ...x, finalizationLocked: true } }, now, 10);
    assert.equal(r.state.phase.kind, "staged", kind);
    assert.equal(r.state.boot, undefined, kind);
  }
});

test("reconcile: a boot record that is not this finalization's is kept", () => {
  const verified = { kind: "verified" as const, release: old, attempts: 1, at };
  const otherPending = startVerification({ version: "41.9", payload: "other" }, old, new Date(at));
  for (const boot of [verified, otherPending]) {
    const state = { ...withPhase({ kind: "finalizing", target: x, started_at: at }), boot };
    const r = reconcileAtStart(state, { booted: old, staged: { ...x, finalizationLocked: true } }, now, 10);
    assert.deepEqual(r.state.boot, boot);
  }
  // Unlocked: FinalizeDeployment ran and the reboot is under way; the record is what the next boot verifies.
  const pending = startVerification(x, old, new Date(at), "boot-1");
  const state = { ...withPhase({ kind: "finalizing", target: x, started_at: at }), boot: pending };
  const r = reconcileAtStart(state, { booted: old, staged: { ...x, finalizationLocked: false } }, now, 10);
  assert.equal(r.state.phase.kind, "finalized");
  assert.deepEqual(r.state.boot, pending);
});
