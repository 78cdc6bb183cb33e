import { test } from "node:test";
import assert from "node:assert/strict";
import { transition, type AgentEvent, type Policy } from "../../src/agent/machine.js";
import { initialAgentState, type AgentState, type ReleaseRef } from "../../src/agent/state.js";

const now = new Date("2026-11-26T10:00:00Z");
const policy: Policy = { maxDeployAttempts: 3, steadyIntervalMs: 300_000, maxPostponements: 10 };
const r1: ReleaseRef = { version: "41.1", payload: "aaa", age_index: 1 };
const r2: ReleaseRef = { version: "41.2", payload: "bbb", age_index: 2 };
const err = { code: "DEPLOY_TRANSACTION_FAILED", message: "pull failed", at: now.toISOString() };

function run(state: AgentState, events: AgentEvent[]) {
  let s = state;
  const effects = [];
  for (const e of events) {
    const step = transition(s, e, now, policy);
    s = step.state;
    effects.push(...step.effects.map((x) => x.kind));
  }
  return { state: s, effects };
}

const idle = (): AgentState => ({ ...initialAgentState(), phase: { kind: "idle" } });
const staged = (extra: Partial<AgentState> = {}): AgentState => ({
  ...initialAgentState(),
  phase: { kind: "staged", target: r1, staged_at: now.toISOString(), postponements_left: 10 },
  last_check: { at: now.toISOString(), outcome: "update" },
  ...extra,
});

test("a fresh agent reports steady, checks, stages, asks the gate, finalizes", () => {
  const { state, effects } = run(initialAgentState(), [
    { type: "tick" },
    { type: "steady-reported" },
    { type: "checked", result: { outcome: "update", target: r1 } },
    { type: "staged", target: r1 },
    { type: "gate", result: { allowed: true, slotHeld: true } },
    { type: "finalized" },
  ]);
  assert.deepEqual(effects, ["report-steady", "check-graph", "stage", "evaluate-gate", "finalize"]);
  assert.equal(state.phase.kind, "finalized");
  assert.equal(state.slot_may_be_held, true);
});

test("no update keeps the agent idle and records the check", () => {
  const { state, effects } = run(idle(), [{ type: "tick" }, { type: "checked", result: { outcome: "no-update" } }]);
  assert.deepEqual(effects, ["check-graph"]);
  assert.equal(state.phase.kind, "idle");
  assert.equal(state.last_check?.outcome, "no-update");
});

test("a dead-end release is remembered with its reason, and forgotten when no longer true", () => {
  let { state } = run(idle(), [{ type: "checked", result: { outcome: "no-update", deadendReason: "see issue 215" } }]);
  assert.equal(state.deadend_reason, "see issue 215");
  assert.equal(state.last_check?.outcome, "deadend");
  ({ state } = run(state, [{ type: "checked", result: { outcome: "no-update" } }]));
  assert.equal(state.deadend_reason, undefined);
});

test("graph errors count up for backoff and reset on success", () => {
  const e = { outcome: "error" as const, error: { code: "GRAPH_NETWORK", message: "refused", at: now.toISOString() } };
  let { state } = run(idle(), [{ type: "checked", result: e }, { type: "checked", result: e }]);
  assert.equal(state.check_failures, 2);
  assert.equal(state.last_error?.code, "GRAPH_NETWORK");
  ({ state } = run(state, [{ type: "checked", result: { outcome: "no-update" } }]));
  assert.equal(state.check_failures, 0);
});

test("deploy failures retry up to the limit, then the release is abandoned and denylisted", () => {
  const start: AgentState = { ...idle(), phase: { kind: "staging", target: r1, attempts: 0 } };
  const fail: AgentEvent = { type: "stage-failed", error: err, permanent: false };
  let { state, effects } = run(start, [fail, { type: "tick" }, fail]);
  assert.deepEqual(state.phase, { kind: "staging", target: r1, attempts: 2 });
  assert.deepEqual(effects, ["stage"]);
  ({ state, effects } = run(state, [fail]));
  assert.equal(state.phase.kind, "idle");
  assert.deepEqual(effects, ["cleanup-staged"]);
  assert.equal(state.denylist[0]?.payload, "aaa");
  assert.match(state.denylist[0]!.reason, /deploy failed 3 times, last: pull failed/);
  // and it is never picked again
  ({ state, effects } = run(state, [{ type: "checked", result: { outcome: "update", target: r1 } }]));
  assert.equal(state.phase.kind, "idle");
  assert.deepEqual(effects, []);
});

test("a release on the wrong stream is abandoned at once", () => {
  const start: AgentState = { ...idle(), phase: { kind: "staging", target: r1, attempts: 0 } };
  const { state, effects } = run(start, [{ type: "stage-failed", error: { ...err, code: "DEPLOY_VERIFY" }, permanent: true }]);
  assert.equal(state.phase.kind, "idle");
  assert.deepEqual(effects, ["cleanup-staged"]);
  assert.match(state.denylist[0]!.reason, /^abandoned/);
});

test("while staged, a newer release replaces the stale staged one", () => {
  const { state, effects } = run(staged({ last_check: { at: "2026-11-26T09:00:00Z", outcome: "update" } }), [
    { type: "tick" },
    { type: "checked", result: { outcome: "update", target: r2 } },
  ]);
  assert.deepEqual(effects, ["check-graph", "cleanup-staged", "stage"]);
  assert.deepEqual(state.phase, { kind: "staging", target: r2, attempts: 0 });
});

test("while staged, the same or an older release does not restage", () => {
  const { state, effects } = run(staged({ last_check: { at: "2026-11-26T09:00:00Z", outcome: "update" } }), [
    { type: "tick" },
    { type: "checked", result: { outcome: "update", target: r1 } },
  ]);
  assert.deepEqual(effects, ["check-graph", "evaluate-gate"]);
  assert.equal(state.phase.kind, "staged");
});

test("between graph checks a staged tick only asks the gate", () => {
  const { effects } = run(staged(), [{ type: "tick" }]);
  assert.deepEqual(effects, ["evaluate-gate"]);
});

test("a gate that says wait keeps the update staged with the reason, and counts the session grace down", () => {
  const wait = { kind: "sessions" as const, message: "2 users logged in" };
  const { state } = run(staged(), [{ type: "gate", result: { allowed: false, wait, slotHeld: false, postponementsLeft: 9 } }]);
  assert.equal(state.phase.kind, "staged");
  if (state.phase.kind !== "staged") return;
  assert.deepEqual(state.phase.wait, wait);
  assert.equal(state.phase.postponements_left, 9);
});

test("a gate that gives the slot back (hook failed) clears the held flag", () => {
  const wait = { kind: "hook" as const, message: "pre-reboot hook drain failed" };
  const { state } = run(staged({ slot_may_be_held: true }), [{ type: "gate", result: { allowed: false, wait, slotHeld: false } }]);
  assert.equal(state.slot_may_be_held, false);
});

test("finalization failure returns to staged with the error shown", () => {
  const { state } = run(staged(), [
    { type: "gate", result: { allowed: true, slotHeld: true } },
    { type: "finalize-failed", error: { ...err, message: "Reboot blocked by a systemd inhibitor lock in block mode" } },
  ]);
  assert.equal(state.phase.kind, "staged");
  if (state.phase.kind === "staged") assert.equal(state.phase.wait?.kind, "finalize-failed");
  assert.match(state.last_error!.message, /inhibitor/);
});

test("apply-now asks the gate with force; check-now checks the graph at once", () => {
  const t = transition(staged(), { type: "apply-now" }, now, policy);
  assert.deepEqual(t.effects, [{ kind: "evaluate-gate", target: r1, postponementsLeft: 10, force: true }]);
  assert.deepEqual(transition(staged(), { type: "check-now" }, now, policy).effects, [{ kind: "check-graph" }]);
});

test("paused: ticks do nothing until resumed; a resume acts at once", () => {
  const paused = { ...idle(), paused_until: "2026-11-27T00:00:00Z" };
  let { state, effects } = run(paused, [{ type: "tick" }]);
  assert.deepEqual(effects, []);
  ({ state, effects } = run(state, [{ type: "resume" }]));
  assert.equal(state.paused_until, undefined);
  assert.deepEqual(effects, ["check-graph"]);
});

test("a pause that has expired no longer blocks", () => {
  const expired = { ...idle(), paused_until: "2026-11-26T09:59:00Z" };
  assert.deepEqual(run(expired, [{ type: "tick" }]).effects, ["check-graph"]);
});

test("the state-change time moves only when the phase kind changes", () => {
  const s = { ...idle(), last_state_change: "2026-01-01T00:00:00Z" };
  assert.equal(run(s, [{ type: "checked", result: { outcome: "no-update" } }]).state.last_state_change, "2026-01-01T00:00:00Z");
  assert.equal(run(s, [{ type: "checked", result: { outcome: "update", target: r1 } }]).state.last_state_change, now.toISOString());
});

test("a staged deployment that vanished before finalizing is staged again", () => {
  const { state, effects } = run(staged(), [{ type: "gate", result: { allowed: true, slotHeld: false } }, { type: "staged-lost" }]);
  assert.deepEqual(effects, ["finalize", "stage"]);
  assert.deepEqual(state.phase, { kind: "staging", target: r1, attempts: 0 });
});

test("apply-now is remembered for this staged update: later gate checks stay forced", () => {
  const wait = { kind: "lock" as const, message: "reboot slot busy" };
  let { state } = run(staged(), [{ type: "apply-now" }, { type: "gate", result: { allowed: false, wait, slotHeld: false } }]);
  const later = transition(state, { type: "tick" }, now, policy);
  assert.deepEqual(later.effects, [{ kind: "evaluate-gate", target: r1, postponementsLeft: 10, force: true }]);
  // a new staged update starts unforced
  ({ state } = run(state, [{ type: "gate", result: { allowed: true, slotHeld: true } }, { type: "finalize-failed", error: err }]));
  assert.equal(state.phase.kind === "staged" && state.phase.forced, undefined);
});

test("the group's denylist is merged into ours, and a staged release it names is dropped, never finalized", () => {
  const fleet = [{ payload: "aaa", version: "41.1", reason: "failed checks (on node n1)", at: now.toISOString(), source: "fleet" as const }];
  const { state, effects } = run(staged({ last_check: { at: "2026-11-26T09:00:00Z", outcome: "update" } }), [
    { type: "tick" },
    { type: "checked", result: { outcome: "no-update" }, fleetDenylist: fleet },
  ]);
  assert.deepEqual(effects, ["check-graph", "cleanup-staged"]);
  assert.equal(state.phase.kind, "idle");
  assert.deepEqual(state.denylist.map((d) => [d.payload, d.source]), [["aaa", "fleet"]]);
  // merged once, not again
  const again = transition(state, { type: "checked", result: { outcome: "no-update" }, fleetDenylist: fleet }, now, policy);
  assert.equal(again.state.denylist.length, 1);
});
