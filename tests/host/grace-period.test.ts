import { test } from "node:test";
import assert from "node:assert/strict";
import { decideFinalization, postponementsFor, type FinalizationFacts } from "../../src/host/grace-period.js";

const facts = (overrides: Partial<FinalizationFacts>): FinalizationFacts => ({
  activeSessions: 1,
  overrideFileExists: false,
  postponementsLeft: 10,
  gracePeriodMinutes: 10,
  ...overrides,
});

test("Zincati's table, with the default 10-minute grace period", () => {
  const table: Array<[Partial<FinalizationFacts>, ReturnType<typeof decideFinalization>]> = [
    [{ activeSessions: 0 }, { action: "allow", reason: "no-sessions" }],
    [{ overrideFileExists: true }, { action: "allow", reason: "override" }],
    [
      { postponementsLeft: 0 },
      { action: "allow", reason: "grace-period-over", warning: "reached end of grace period while waiting for interactive sessions" },
    ],
    [
      { postponementsLeft: 10 },
      {
        action: "block",
        postponementsLeft: 9,
        broadcastSecs: 600,
        warning: "interactive sessions detected, entering grace period (maximum 10 minutes)",
      },
    ],
    [{ postponementsLeft: 9 }, { action: "block", postponementsLeft: 8 }],
    [{ postponementsLeft: 2 }, { action: "block", postponementsLeft: 1 }],
    [
      { postponementsLeft: 1 },
      { action: "block", postponementsLeft: 0, broadcastSecs: 60, warning: "last attempt to wait for the end of all interactive sessions" },
    ],
  ];
  for (const [input, expected] of table) assert.deepEqual(decideFinalization(facts(input)), expected, JSON.stringify(input));
});

test("a configured grace period sets the first warning and the number of checks", () => {
  assert.equal(postponementsFor(30), 30);
  assert.deepEqual(decideFinalization(facts({ gracePeriodMinutes: 30, postponementsLeft: 30 })), {
    action: "block",
    postponementsLeft: 29,
    broadcastSecs: 1800,
    warning: "interactive sessions detected, entering grace period (maximum 30 minutes)",
  });
  // A one-minute grace period warns once, with one minute to go.
  assert.deepEqual(decideFinalization(facts({ gracePeriodMinutes: 1, postponementsLeft: 1 })), {
    action: "block",
    postponementsLeft: 0,
    broadcastSecs: 60,
    warning: "interactive sessions detected, entering grace period (maximum 1 minute)",
  });
});

test("a zero grace period reboots at once, saying why", () => {
  assert.deepEqual(decideFinalization(facts({ gracePeriodMinutes: 0, postponementsLeft: 0 })), {
    action: "allow",
    reason: "no-grace-period",
    warning: "interactive sessions detected, but the grace period is 0 minutes; proceeding",
  });
});

test("walking the whole grace period: warn, wait, warn again, then go", () => {
  let left = postponementsFor(10);
  const broadcasts: number[] = [];
  let blocked = 0;
  for (;;) {
    const decision = decideFinalization(facts({ postponementsLeft: left }));
    if (decision.action === "allow") break;
    blocked++;
    if (decision.broadcastSecs !== undefined) broadcasts.push(decision.broadcastSecs);
    left = decision.postponementsLeft;
  }
  assert.equal(blocked, 10, "ten one-minute waits: ten minutes at most");
  assert.deepEqual(broadcasts, [600, 60]);
});

test("a stored count above a shortened grace period is clamped to it", () => {
  assert.deepEqual(decideFinalization(facts({ gracePeriodMinutes: 5, postponementsLeft: 10 })), {
    action: "block",
    postponementsLeft: 4,
    broadcastSecs: 300,
    warning: "interactive sessions detected, entering grace period (maximum 5 minutes)",
  });
});
