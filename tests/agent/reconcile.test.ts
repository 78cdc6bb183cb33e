import { test } from "node:test";
import assert from "node:assert/strict";
import { reconcileAtStart, type DeploymentFacts } from "../../src/agent/reconcile.js";
import { initialAgentState, type Phase, type ReleaseRef } from "../../src/agent/state.js";

const now = new Date("2026-11-26T10:00:00Z");
const old = { version: "41.0", payload: "old" };
const x: ReleaseRef = { version: "41.1", payload: "xxx", age_index: 1 };
const at = "2026-11-26T09:00:00Z";

const cases: Array<{ name: string; phase: Phase; facts: DeploymentFacts; expect: Phase["kind"]; denylisted?: boolean }> = [
  { name: "idle resumes by reporting steady", phase: { kind: "idle" }, facts: { booted: old, staged: undefined }, expect: "reporting-steady" },
  { name: "staging, nothing staged: stage again", phase: { kind: "staging", target: x, attempts: 2 }, facts: { booted: old, staged: undefined }, expect: "staging" },
  { name: "staging, but the transaction completed before the crash: no second stage", phase: { kind: "staging", target: x, attempts: 0 }, facts: { booted: old, staged: { ...x, finalizationLocked: true } }, expect: "staged" },
  { name: "staged and still staged", phase: { kind: "staged", target: x, staged_at: at, postponements_left: 3 }, facts: { booted: old, staged: { ...x, finalizationLocked: true } }, expect: "staged" },
  { name: "staged, but a manual reboot dropped it: stage again", phase: { kind: "staged", target: x, staged_at: at, postponements_left: 3 }, facts: { booted: old, staged: undefined }, expect: "staging" },
  { name: "finalizing, crash before the call: back to staged, finalize once later", phase: { kind: "finalizing", target: x, started_at: at }, facts: { booted: old, staged: { ...x, finalizationLocked: true } }, expect: "staged" },
  { name: "finalizing, crash after the call (unlocked): never finalize twice", phase: { kind: "finalizing", target: x, started_at: at }, facts: { booted: old, staged: { ...x, finalizationLocked: false } }, expect: "finalized" },
  { name: "finalized and rebooted into it", phase: { kind: "finalized", target: x, finalized_at: at }, facts: { booted: x, staged: undefined }, expect: "reporting-steady" },
  { name: "finalized but came back on the old release: did not boot", phase: { kind: "finalized", target: x, finalized_at: at }, facts: { booted: old, staged: undefined }, expect: "reporting-steady", denylisted: true },
];

for (const c of cases) {
  test(`reconcile: ${c.name}`, () => {
    const state = { ...initialAgentState(), phase: c.phase };
    const r = reconcileAtStart(state, c.facts, now, 10);
    assert.equal(r.state.phase.kind, c.expect);
    assert.equal(r.state.denylist.some((e) => e.payload === "xxx"), c.denylisted ?? false);
    if (c.denylisted) assert.match(r.state.denylist[0]!.reason, /^did not boot/);
  });
}

test("reconcile: staged postponements are reset to a full grace period", () => {
  const state = { ...initialAgentState(), phase: { kind: "staged" as const, target: x, staged_at: at, postponements_left: 1 } };
  const r = reconcileAtStart(state, { booted: old, staged: { ...x, finalizationLocked: true } }, now, 10);
  assert.equal(r.state.phase.kind === "staged" && r.state.phase.postponements_left, 10);
});
