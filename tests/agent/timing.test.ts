import { test } from "node:test";
import assert from "node:assert/strict";
import { nextDelayMs, withJitter, ZINCATI_TIMING } from "../../src/agent/timing.js";
import { initialAgentState, type AgentState } from "../../src/agent/state.js";

const now = new Date("2026-11-26T10:00:00Z");
const r1 = { version: "41.1", payload: "aaa", age_index: 1 };

test("Zincati's jitter: +0..30 s in 3 s steps on 300 s", () => {
  assert.equal(withJitter(300, 10, () => 0), 300);
  assert.equal(withJitter(300, 10, () => 0.999), 330);
  assert.equal(withJitter(300, 10, () => 0.5), 315);
  assert.equal(withJitter(50, 10, () => 0.999), 60); // step is at least 1 s
});

test("delays per phase", () => {
  const base = initialAgentState();
  const zero = () => 0;
  const table: Array<[string, AgentState, number]> = [
    ["idle waits the steady interval", { ...base, phase: { kind: "idle" } }, 300_000],
    ["idle backs off after repeated check failures", { ...base, phase: { kind: "idle" }, check_failures: 3 }, 1_200_000],
    ["backoff is capped at 8 intervals", { ...base, phase: { kind: "idle" }, check_failures: 30 }, 2_400_000],
    ["users logged in: re-check every minute", { ...base, phase: { kind: "staged", target: r1, staged_at: "", postponements_left: 5, wait: { kind: "sessions", message: "" } } }, 60_000],
    ["window closed: wake at the opening", { ...base, phase: { kind: "staged", target: r1, staged_at: "", postponements_left: 10, wait: { kind: "window", message: "", until: "2026-11-26T10:02:00Z" } } }, 120_000],
    ["window far away: still poll the graph", { ...base, phase: { kind: "staged", target: r1, staged_at: "", postponements_left: 10, wait: { kind: "window", message: "", until: "2026-11-28T10:00:00Z" } } }, 300_000],
    ["finalized: wait for the reboot", { ...base, phase: { kind: "finalized", target: r1, finalized_at: "" } }, 10_800_000],
    ["paused: until the pause ends", { ...base, phase: { kind: "idle" }, paused_until: "2026-11-26T10:01:00Z" }, 60_000],
  ];
  for (const [name, state, expected] of table) assert.equal(nextDelayMs(state, now, ZINCATI_TIMING, zero), expected, name);
});
