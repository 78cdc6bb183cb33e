import { test } from "node:test";
import assert from "node:assert/strict";
import { isHiddenByRollout, rolloutServedAt, rolloutThrottling } from "../../src/graph/throttle.js";
import { ANONYMOUS_WARINESS } from "../../src/graph/wariness.js";

const K = "org.fedoraproject.coreos.updates.";
function rollout(fields: { start_epoch?: string; start_value?: string; duration_minutes?: string }): Record<string, string> {
  const md: Record<string, string> = { [`${K}rollout`]: "true" };
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) md[K + key] = value;
  return md;
}

const START = 1609860600;
const FORTY_EIGHT_H = rollout({ start_epoch: String(START), start_value: "0", duration_minutes: "2880" });

test("the policy engine's formula, including its edge cases (cincinnati.md §6.1)", () => {
  const cases: Array<{ name: string; md: Record<string, string>; now: number; throttling: number | undefined }> = [
    { name: "no rollout key", md: {}, now: START, throttling: undefined },
    { name: "rollout=false still counts: the server only checks the key", md: { [`${K}rollout`]: "false" }, now: START, throttling: 0 },
    { name: "before the start", md: FORTY_EIGHT_H, now: START - 1, throttling: 0 },
    { name: "at the start", md: FORTY_EIGHT_H, now: START, throttling: 0 },
    { name: "+12 h of 48 h", md: FORTY_EIGHT_H, now: START + 12 * 3600, throttling: 0.25 },
    { name: "+24 h of 48 h", md: FORTY_EIGHT_H, now: START + 24 * 3600, throttling: 0.5 },
    { name: "now == end takes the linear branch and gives exactly 1", md: FORTY_EIGHT_H, now: START + 48 * 3600, throttling: 1 },
    { name: "after the end", md: FORTY_EIGHT_H, now: START + 48 * 3600 + 1, throttling: 1 },
    { name: "fractional seconds are dropped like the server's integer clock", md: FORTY_EIGHT_H, now: START + 12 * 3600 + 0.9, throttling: 0.25 },
    { name: "fully rolled out: start 1, no epoch, no duration", md: rollout({ start_value: "1" }), now: 0, throttling: 1 },
    { name: "duration 0 counts as one minute: half-way at +30 s", md: rollout({ start_epoch: String(START), duration_minutes: "0" }), now: START + 30, throttling: 0.5 },
    { name: "duration 0 counts as one minute: done at +60 s", md: rollout({ start_epoch: String(START), duration_minutes: "0" }), now: START + 60, throttling: 1 },
    { name: "no duration: stays at its start value", md: rollout({ start_epoch: String(START), start_value: "0.4" }), now: START + 10 ** 6, throttling: 0.4 },
    { name: "unparsable duration is no duration", md: rollout({ start_epoch: String(START), start_value: "0.4", duration_minutes: "1.5" }), now: START + 10 ** 6, throttling: 0.4 },
    { name: "missing epoch is 0", md: rollout({ start_value: "0.2", duration_minutes: "10" }), now: 300, throttling: 0.6000000000000001 },
    { name: "unparsable epoch is 0", md: rollout({ start_epoch: "soon", start_value: "0.2", duration_minutes: "10" }), now: 300, throttling: 0.2 + ((1 - 0.2) / 600) * 300 },
    { name: "'+' epoch parses like Rust's i64", md: rollout({ start_epoch: "+100", duration_minutes: "10" }), now: 400, throttling: 0.5 },
    { name: "unparsable start value is 0", md: rollout({ start_epoch: "0", start_value: "30%", duration_minutes: "10" }), now: 300, throttling: 0.5 },
    { name: "0.3 over 1440 min at +43200 s is not quite 0.65", md: rollout({ start_epoch: "1568125800", start_value: "0.3", duration_minutes: "1440" }), now: 1568125800 + 43200, throttling: 0.6499999999999999 },
    { name: "a start value above 1 without duration", md: rollout({ start_value: "1.5" }), now: 1, throttling: 1.5 },
  ];
  for (const c of cases) assert.equal(rolloutThrottling(c.md, c.now), c.throttling, c.name);
});

test("who is served: w > throttling hides; w=0 sees a rollout before it starts; NaN is never hidden", () => {
  const cases: Array<[string, Record<string, string>, number, number, boolean]> = [
    ["w=0 before the start", FORTY_EIGHT_H, 0, START - 3600, false],
    ["w=1e-6 before the start", FORTY_EIGHT_H, 0.000001, START - 3600, true],
    ["w equal to throttling is served", FORTY_EIGHT_H, 0.25, START + 12 * 3600, false],
    ["w=0.65 at +43200 s of 0.3/1440", rollout({ start_epoch: "1568125800", start_value: "0.3", duration_minutes: "1440" }), 0.65, 1568125800 + 43200, true],
    ["w=0.3 at the start of 0.3/1440", rollout({ start_epoch: "1568125800", start_value: "0.3", duration_minutes: "1440" }), 0.3, 1568125800, false],
    ["start value above 1 is never hidden", rollout({ start_value: "1.5" }), 1, 0, false],
    ["NaN wariness", FORTY_EIGHT_H, NaN, START - 1, false],
    ["no rollout is never hidden", {}, 1, 0, false],
  ];
  for (const [name, md, w, now, hidden] of cases) assert.equal(isHiddenByRollout(md, w, now), hidden, name);
});

test("when a throttled release will be served", () => {
  assert.equal(rolloutServedAt(FORTY_EIGHT_H, 0.5, START - 10), START + 24 * 3600);
  assert.equal(rolloutServedAt(FORTY_EIGHT_H, 0.5, START + 24 * 3600 + 5), START + 24 * 3600 + 5, "already served: now");
  assert.equal(rolloutServedAt(FORTY_EIGHT_H, 1, START), START + 48 * 3600);
  assert.equal(rolloutServedAt(rollout({ start_value: "0.4", start_epoch: "100" }), 0.5, 0), undefined, "stuck below the wariness");
  assert.equal(rolloutServedAt(rollout({ start_value: "0.4", start_epoch: "100" }), 0.3, 0), 100);
  // The anonymous client (no node_uuid) is served about 9 h 3 min after a 48 h rollout starts.
  const anonymous = rolloutServedAt(FORTY_EIGHT_H, ANONYMOUS_WARINESS, START)!;
  assert.equal(anonymous - START, 32570);
  assert.equal(isHiddenByRollout(FORTY_EIGHT_H, ANONYMOUS_WARINESS, anonymous), false);
  assert.equal(isHiddenByRollout(FORTY_EIGHT_H, ANONYMOUS_WARINESS, anonymous - 1), true);
});

test("absurd metadata gives the server's answer instead of a crash", () => {
  const huge = rollout({ start_epoch: "9223372036854775807", start_value: "0", duration_minutes: "18446744073709551615" });
  assert.equal(typeof rolloutThrottling(huge, START), "number");
  assert.equal(rolloutThrottling(rollout({ start_epoch: "99999999999999999999" }), 5), 0, "an epoch beyond i64 is 0");
  assert.equal(typeof rolloutServedAt(huge, 0.5, START), "number");
});
