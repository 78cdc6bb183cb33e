/**
 * Windows follow the wall clock across real 2026 DST changes in America/Toronto and Europe/Rome:
 *  Toronto  spring Sun 03-08 02:00 EST → 03:00 EDT (07:00Z)   autumn Sun 11-01 02:00 EDT → 01:00 EST (06:00Z)
 *  Rome     spring Sun 03-29 02:00 CET → 03:00 CEST (01:00Z)  autumn Sun 10-25 03:00 CEST → 02:00 CET (01:00Z)
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  buildSchedule,
  currentWindowEnd,
  isOpen,
  nextOpening,
  renderWeekGrid,
  weekLayout,
  type Schedule,
  type Weekday,
  type WindowSetting,
} from "../../src/strategy/windows/index.js";
import { cron, weekly } from "./windows-support.js";

const scheduleOf = (zone: string, window: WindowSetting[]) => buildSchedule({ time_zone: zone, window }, zone);

/** Every opening in [from, to) as [start, end] in UTC "MM-DDTHH:MM", found through the public API only. */
function openings(schedule: Schedule, from: string, to: string): [string, string][] {
  const short = (d: Date) => d.toISOString().slice(5, 16);
  const found: [string, string][] = [];
  let t = new Date(from);
  assert.equal(isOpen(schedule, t), false, "start the scan where the schedule is closed");
  while (true) {
    const start = nextOpening(schedule, t);
    if (!start || start.getTime() >= Date.parse(to)) return found;
    const end = currentWindowEnd(schedule, start);
    assert.ok(end);
    found.push([short(start), short(end)]);
    t = end;
  }
}

interface Case {
  name: string;
  zone: string;
  window: WindowSetting;
  from: string;
  to: string;
  open: [string, string][];
}

const TORONTO = "America/Toronto";
const ROME = "Europe/Rome";
const TORONTO_SPRING = { from: "2026-03-08T00:00:00Z", to: "2026-03-09T00:00:00Z" };
const TORONTO_AUTUMN = { from: "2026-11-01T00:00:00Z", to: "2026-11-02T00:00:00Z" };
const ROME_SPRING = { from: "2026-03-28T12:00:00Z", to: "2026-03-29T12:00:00Z" };
const ROME_AUTUMN = { from: "2026-10-24T12:00:00Z", to: "2026-10-25T12:00:00Z" };

const weeklyCases: Case[] = [
  // Spring forward: the skipped wall times never happen, so the part of a window there is lost.
  { name: "Toronto spring, wholly inside the skipped hour: skipped that day", zone: TORONTO, window: weekly(["sun"], "02:15", 30), ...TORONTO_SPRING, open: [] },
  { name: "Toronto spring, starting in the gap: opens at 03:00 EDT, closes at 03:30", zone: TORONTO, window: weekly(["sun"], "02:30", 60), ...TORONTO_SPRING, open: [["03-08T07:00", "03-08T07:30"]] },
  { name: "Toronto spring, ending in the gap: 01:30-02:00 EST", zone: TORONTO, window: weekly(["sun"], "01:30", 60), ...TORONTO_SPRING, open: [["03-08T06:30", "03-08T07:00"]] },
  { name: "Toronto spring, spanning the change: 01:00-04:00 lasts 2 hours", zone: TORONTO, window: weekly(["sun"], "01:00", 180), ...TORONTO_SPRING, open: [["03-08T06:00", "03-08T08:00"]] },
  { name: "Rome spring, the whole skipped hour: skipped that day", zone: ROME, window: weekly(["sun"], "02:00", 60), ...ROME_SPRING, open: [] },
  { name: "Rome spring, spanning the change: 01:30-03:30 lasts 1 hour", zone: ROME, window: weekly(["sun"], "01:30", 120), ...ROME_SPRING, open: [["03-29T00:30", "03-29T01:30"]] },
  // Fall back: the repeated wall times happen twice, and the window is open both times.
  { name: "Toronto autumn, inside the repeated hour: open twice", zone: TORONTO, window: weekly(["sun"], "01:15", 30), ...TORONTO_AUTUMN, open: [["11-01T05:15", "11-01T05:45"], ["11-01T06:15", "11-01T06:45"]] },
  { name: "Toronto autumn, starting in the repeated hour: 01:30-02:00 EDT, then 01:30-02:30 EST", zone: TORONTO, window: weekly(["sun"], "01:30", 60), ...TORONTO_AUTUMN, open: [["11-01T05:30", "11-01T06:00"], ["11-01T06:30", "11-01T07:30"]] },
  { name: "Toronto autumn, spanning the change: 00:30-02:30 lasts 3 hours", zone: TORONTO, window: weekly(["sun"], "00:30", 120), ...TORONTO_AUTUMN, open: [["11-01T04:30", "11-01T07:30"]] },
  { name: "Rome autumn, inside the repeated hour: open twice", zone: ROME, window: weekly(["sun"], "02:10", 20), ...ROME_AUTUMN, open: [["10-25T00:10", "10-25T00:30"], ["10-25T01:10", "10-25T01:30"]] },
  { name: "Rome autumn, spanning the change: 01:30-03:30 lasts 3 hours", zone: ROME, window: weekly(["sun"], "01:30", 120), ...ROME_AUTUMN, open: [["10-24T23:30", "10-25T02:30"]] },
  { name: "Rome, a day without a change: exactly L minutes", zone: ROME, window: weekly(["sun"], "01:30", 120), from: "2026-10-31T12:00:00Z", to: "2026-11-01T12:00:00Z", open: [["11-01T00:30", "11-01T02:30"]] },
];

const cronCases: Case[] = [
  { name: "Toronto spring, cron 02:30 daily: 02:30 EST, then 03:00-03:30 EDT, then 02:30 EDT", zone: TORONTO, window: cron("30 2 * * *", 60), from: "2026-03-07T00:00:00Z", to: "2026-03-09T12:00:00Z", open: [["03-07T07:30", "03-07T08:30"], ["03-08T07:00", "03-08T07:30"], ["03-09T06:30", "03-09T07:30"]] },
  { name: "Toronto autumn, cron every 30 minutes: 01:00 and 01:30 happen twice", zone: TORONTO, window: cron("*/30 * * * *", 10), from: "2026-11-01T04:50:00Z", to: "2026-11-01T07:20:00Z", open: [["11-01T05:00", "11-01T05:10"], ["11-01T05:30", "11-01T05:40"], ["11-01T06:00", "11-01T06:10"], ["11-01T06:30", "11-01T06:40"], ["11-01T07:00", "11-01T07:10"]] },
  { name: "Rome spring, cron 02:00 daily for 30: skipped on the change day", zone: ROME, window: cron("0 2 * * *", 30), from: "2026-03-28T12:00:00Z", to: "2026-03-30T12:00:00Z", open: [["03-30T00:00", "03-30T00:30"]] },
  { name: "Rome spring, cron Sunday 01:30 for 90 spans the change: 30 minutes", zone: ROME, window: cron("30 1 * * 0", 90), ...ROME_SPRING, open: [["03-29T00:30", "03-29T01:00"]] },
  { name: "Rome autumn, cron 02:00 daily: open at both 02:00s", zone: ROME, window: cron("0 2 * * *", 30), from: "2026-10-24T12:00:00Z", to: "2026-10-26T12:00:00Z", open: [["10-25T00:00", "10-25T00:30"], ["10-25T01:00", "10-25T01:30"], ["10-26T01:00", "10-26T01:30"]] },
  { name: "Rome, cron weekdays 03:00 for 60 over the spring weekend", zone: ROME, window: cron("0 3 * * 1-5", 60), from: "2026-03-27T12:00:00Z", to: "2026-03-31T12:00:00Z", open: [["03-30T01:00", "03-30T02:00"], ["03-31T01:00", "03-31T02:00"]] },
];

describe("weekly windows across DST changes (wall-clock semantics)", () => {
  for (const c of weeklyCases) {
    it(c.name, () => assert.deepEqual(openings(scheduleOf(c.zone, [c.window]), c.from, c.to), c.open));
  }

  it("a window skipped by spring forward opens again the next week", () => {
    const schedule = scheduleOf(TORONTO, [weekly(["sun"], "02:15", 30)]);
    assert.equal(nextOpening(schedule, new Date("2026-03-07T12:00:00Z"))?.toISOString(), "2026-03-15T06:15:00.000Z");
  });

  it("after the first pass through the repeated hour, the next opening is the second pass", () => {
    const schedule = scheduleOf(TORONTO, [weekly(["sun"], "01:15", 30)]);
    assert.equal(nextOpening(schedule, new Date("2026-11-01T05:50:00Z"))?.toISOString(), "2026-11-01T06:15:00.000Z");
    assert.equal(isOpen(schedule, new Date("2026-11-01T05:50:00Z")), false);
  });

  it("the week layout of a DST week is the same wall-clock picture as any other week", () => {
    const schedule = scheduleOf(ROME, [weekly(["sun"], "01:30", 120), weekly(["sat"], "23:00", 60)]);
    const changeWeek = weekLayout(schedule, new Date("2026-10-22T12:00:00Z"));
    assert.deepEqual(changeWeek, weekLayout(schedule, new Date("2026-11-05T12:00:00Z")));
    assert.deepEqual(changeWeek, [
      { start_minute_of_week: 5 * 1440 + 23 * 60, length_minutes: 60 },
      { start_minute_of_week: 6 * 1440 + 90, length_minutes: 120 },
    ]);
  });

  it("the grid of a DST week says how the clocks change", () => {
    const schedule = scheduleOf(ROME, [weekly(["sun"], "01:30", 120)]);
    const spring = renderWeekGrid(schedule, new Date("2026-03-26T12:00:00Z")).join("\n");
    assert.match(spring, /on Sun 2026-03-29 clocks go forward from 02:00 to 03:00/);
    const autumn = renderWeekGrid(schedule, new Date("2026-10-22T12:00:00Z")).join("\n");
    assert.match(autumn, /on Sun 2026-10-25 clocks go back from 03:00 to 02:00; 02:00-03:00 happens twice/);
    assert.doesNotMatch(renderWeekGrid(schedule, new Date("2026-11-05T12:00:00Z")).join("\n"), /clocks go/);
  });
});

describe("cron windows across DST changes (wall-clock semantics)", () => {
  for (const c of cronCases) {
    it(c.name, () => assert.deepEqual(openings(scheduleOf(c.zone, [c.window]), c.from, c.to), c.open));
  }
});

/** The zone's wall clock read by Intl directly, independent of the code under test: minute of the week. */
function wallMinuteOfWeek(zone: string, instant: Date): number {
  const parts = new Intl.DateTimeFormat("en-US", { timeZone: zone, weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
    .formatToParts(instant);
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  const day = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].indexOf(part("weekday"));
  return day * 1440 + Number(part("hour")) * 60 + Number(part("minute"));
}

describe("the rule itself, on random windows and instants of 2026", () => {
  const days: Weekday[] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  const arbitraryCase = fc.record({
    zone: fc.constantFrom(TORONTO, ROME),
    day: fc.integer({ min: 0, max: 6 }),
    startMinute: fc.integer({ min: 0, max: 1439 }),
    length: fc.integer({ min: 1, max: 600 }),
    // Half of the instants fall on the four change days, where mistakes would hide.
    instant: fc.oneof(
      fc.integer({ min: Date.parse("2026-01-01T00:00:00Z"), max: Date.parse("2027-01-01T00:00:00Z") }),
      fc.constantFrom("2026-03-08T00:00:00Z", "2026-11-01T00:00:00Z", "2026-03-28T12:00:00Z", "2026-10-24T12:00:00Z")
        .chain((base) => fc.integer({ min: 0, max: 36 * 3_600_000 }).map((ms) => Date.parse(base) + ms)),
    ),
  });

  it("an instant is inside a window exactly when the wall clock reads a time inside it", () => {
    fc.assert(
      fc.property(arbitraryCase, ({ zone, day, startMinute, length, instant }) => {
        const start = `${String(Math.floor(startMinute / 60)).padStart(2, "0")}:${String(startMinute % 60).padStart(2, "0")}`;
        const schedule = scheduleOf(zone, [weekly([days[day]!], start, length)]);
        const windowStart = day * 1440 + startMinute;
        const minute = wallMinuteOfWeek(zone, new Date(instant));
        const inside = [minute, minute + 10080].some((m) => m >= windowStart && m < windowStart + length);
        assert.equal(isOpen(schedule, new Date(instant)), inside);
        const next = nextOpening(schedule, new Date(instant));
        assert.ok(next);
        if (!inside) {
          assert.ok(next.getTime() > instant);
          assert.equal(isOpen(schedule, next), true);
          assert.equal(isOpen(schedule, new Date(next.getTime() - 1)), false);
        }
      }),
      { numRuns: 150 },
    );
  });
});
