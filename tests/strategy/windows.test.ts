/** Maintenance windows on the week model, in UTC and Rome outside DST changes: layout, boundaries, openings. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isAgentError } from "../../src/errors.js";
import {
  buildSchedule,
  currentWindowEnd,
  describeNextOpening,
  formatDuration,
  isOpen,
  nextOpening,
  totalMinutes,
  weekLayout,
  type PeriodicSettings,
  type WindowSetting,
} from "../../src/strategy/windows/index.js";
import { cron, weekly } from "./windows-support.js";

const scheduleOf = (window: WindowSetting[], zone = "UTC") => buildSchedule({ time_zone: zone, window }, zone);
const at = (iso: string) => new Date(iso);
const iso = (d: Date | null) => d?.toISOString() ?? null;

/** Zincati's tests/fixtures/20-periodic-sample.toml. */
const ZINCATI_SAMPLE = [weekly(["tue", "wed"], "23:00", 120), weekly(["thu"], "23:30", 25), weekly(["sun"], "00:00", 2880)];

describe("week layout", () => {
  const cases: { name: string; window: WindowSetting[]; layout: [number, number][]; total: number }[] = [
    { name: "a window past Sunday 24:00 is split to Monday 00:00", window: [weekly(["sun"], "23:00", 120)], layout: [[0, 60], [10020, 60]], total: 120 },
    { name: "crossing midnight inside the week is not split", window: [weekly(["mon"], "23:00", 120)], layout: [[1380, 120]], total: 120 },
    { name: "overlapping windows are merged", window: [weekly(["mon"], "10:00", 120), weekly(["mon"], "11:00", 120)], layout: [[600, 180]], total: 180 },
    { name: "touching windows are merged", window: [weekly(["mon"], "10:00", 60), weekly(["mon"], "11:00", 60)], layout: [[600, 120]], total: 120 },
    { name: "the same window twice counts once", window: [weekly(["fri", "fri"], "04:00", 30), weekly(["fri"], "04:00", 30)], layout: [[6000, 30]], total: 30 },
    { name: "a whole week", window: [weekly(["mon"], "00:00", 10080)], layout: [[0, 10080]], total: 10080 },
    { name: "a week-long window from Wednesday wraps onto itself", window: [weekly(["wed"], "12:00", 10080)], layout: [[0, 10080]], total: 10080 },
    // Zincati reports 3145 for this sample too.
    { name: "Zincati's sample", window: ZINCATI_SAMPLE, layout: [[0, 1440], [2820, 120], [4260, 120], [5730, 25], [8640, 1440]], total: 3145 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const schedule = scheduleOf(c.window);
      const layout = weekLayout(schedule, at("2026-12-02T12:00:00Z")).map((s) => [s.start_minute_of_week, s.length_minutes]);
      assert.deepEqual(layout, c.layout);
      assert.equal(totalMinutes(schedule), c.total);
    });
  }

  it("counts cron windows in the week they fire, not in the weekly total", () => {
    const schedule = scheduleOf([weekly(["mon"], "10:00", 60), cron("0 4 1 * *", 30)]);
    assert.equal(totalMinutes(schedule), 60);
    // 2026-12-01 is a Tuesday: the monthly window shows in that week only.
    assert.deepEqual(weekLayout(schedule, at("2026-12-03T00:00:00Z")), [
      { start_minute_of_week: 600, length_minutes: 60 },
      { start_minute_of_week: 1440 + 240, length_minutes: 30 },
    ]);
    assert.deepEqual(weekLayout(schedule, at("2026-12-08T00:00:00Z")), [{ start_minute_of_week: 600, length_minutes: 60 }]);
  });

  it("lays a frequent cron window out as many short spans", () => {
    const layout = weekLayout(scheduleOf([cron("*/30 * * * *", 10)]), at("2026-12-02T00:00:00Z"));
    assert.equal(layout.length, 7 * 48);
    assert.deepEqual(layout[1], { start_minute_of_week: 30, length_minutes: 10 });
  });
});

describe("isOpen", () => {
  // Mon 2026-11-30 is a Monday.
  const schedule = scheduleOf([weekly(["mon"], "14:30", 120), weekly(["sun"], "23:00", 120), cron("0 3 * * 1-5", 60)]);
  const cases: [string, boolean, string][] = [
    ["2026-11-30T14:29:59.999Z", false, "just before the start"],
    ["2026-11-30T14:30:00Z", true, "the start minute is inside"],
    ["2026-11-30T16:29:59.999Z", true, "the last millisecond of the last minute"],
    ["2026-11-30T16:30:00Z", false, "start + L is outside (Zincati would still be open until 16:30:59)"],
    ["2026-12-06T22:59:00Z", false, "before the Sunday window"],
    ["2026-12-06T23:30:00Z", true, "Sunday part of the wrapped window"],
    ["2026-12-07T00:00:00Z", true, "Monday part of the wrapped window"],
    ["2026-12-07T00:59:59Z", true, "end of the wrapped window"],
    ["2026-12-07T01:00:00Z", false, "the wrapped window lasts exactly 120 minutes"],
    ["2026-12-01T03:00:00Z", true, "cron: Tuesday 03:00"],
    ["2026-12-01T03:59:00Z", true, "cron: last minute"],
    ["2026-12-01T04:00:00Z", false, "cron: s + L is outside"],
    ["2026-12-05T03:30:00Z", false, "cron: not on Saturday"],
  ];
  for (const [time, open, why] of cases) {
    it(`${time}: ${open ? "open" : "closed"} (${why})`, () => assert.equal(isOpen(schedule, at(time)), open));
  }
});

describe("nextOpening and currentWindowEnd", () => {
  const cases: { name: string; window: WindowSetting[]; now: string; next: string | null; end: string | null }[] = [
    { name: "closed: the next start later the same day", window: [weekly(["tue"], "23:00", 120)], now: "2026-12-01T10:00:00Z", next: "2026-12-01T23:00:00.000Z", end: null },
    { name: "closed at the exact end: the next week's start", window: [weekly(["tue"], "23:00", 120)], now: "2026-12-02T01:00:00Z", next: "2026-12-08T23:00:00.000Z", end: null },
    { name: "across the week boundary", window: [weekly(["mon"], "10:00", 60)], now: "2026-12-06T12:00:00Z", next: "2026-12-07T10:00:00.000Z", end: null },
    { name: "open: the current window's start and end", window: [weekly(["tue"], "23:00", 120)], now: "2026-12-02T00:15:00Z", next: "2026-12-01T23:00:00.000Z", end: "2026-12-02T01:00:00.000Z" },
    { name: "open on Monday in a window that began on Sunday", window: [weekly(["sun"], "23:00", 120)], now: "2026-12-07T00:30:00Z", next: "2026-12-06T23:00:00.000Z", end: "2026-12-07T01:00:00.000Z" },
    { name: "open at the start instant", window: [weekly(["tue"], "23:00", 120)], now: "2026-12-01T23:00:00Z", next: "2026-12-01T23:00:00.000Z", end: "2026-12-02T01:00:00.000Z" },
    { name: "a weekly and a cron window touching make one window", window: [weekly(["tue"], "02:00", 60), cron("0 3 * * *", 30)], now: "2026-12-01T02:10:00Z", next: "2026-12-01T02:00:00.000Z", end: "2026-12-01T03:30:00.000Z" },
    { name: "Zincati's sample, open on Monday", window: ZINCATI_SAMPLE, now: "2026-11-30T12:00:00Z", next: "2026-11-29T00:00:00.000Z", end: "2026-12-01T00:00:00.000Z" },
    { name: "cron weekdays: Friday after the window opens Monday", window: [cron("0 3 * * 1-5", 60)], now: "2026-12-04T05:00:00Z", next: "2026-12-07T03:00:00.000Z", end: null },
    { name: "cron every 30 minutes: between windows", window: [cron("*/30 * * * *", 10)], now: "2026-12-01T12:10:00Z", next: "2026-12-01T12:30:00.000Z", end: null },
    { name: "cron every 30 minutes: inside one", window: [cron("*/30 * * * *", 10)], now: "2026-12-01T12:35:00Z", next: "2026-12-01T12:30:00.000Z", end: "2026-12-01T12:40:00.000Z" },
    { name: "cron on 29 February is found years ahead", window: [cron("0 0 29 2 *", 60)], now: "2026-03-01T00:00:00Z", next: "2028-02-29T00:00:00.000Z", end: null },
    { name: "always open: no start, no end", window: [weekly(["mon"], "00:00", 10080)], now: "2026-12-01T00:00:00Z", next: null, end: null },
    { name: "always open with cron", window: [cron("*/5 * * * *", 5)], now: "2026-12-01T00:00:00Z", next: null, end: null },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const schedule = scheduleOf(c.window);
      assert.equal(iso(nextOpening(schedule, at(c.now))), c.next);
      assert.equal(iso(currentWindowEnd(schedule, at(c.now))), c.end);
    });
  }

  it("the next opening is strictly after now and the schedule is open there", () => {
    const schedule = scheduleOf(ZINCATI_SAMPLE);
    for (let t = Date.parse("2026-11-30T00:00:00Z"); t < Date.parse("2026-12-07T00:00:00Z"); t += 37 * 60_000) {
      const now = new Date(t);
      const next = nextOpening(schedule, now);
      assert.ok(next);
      if (isOpen(schedule, now)) continue;
      assert.ok(next.getTime() > t);
      assert.equal(isOpen(schedule, next), true);
      assert.equal(isOpen(schedule, new Date(next.getTime() - 1)), false);
    }
  });
});

describe("describeNextOpening", () => {
  const rome = (window: WindowSetting[]) => scheduleOf(window, "Europe/Rome");
  it("says when the next window opens, in the zone's words", () => {
    const text = describeNextOpening(rome([weekly(["tue"], "23:00", 120)]), at("2026-11-29T19:00:00+01:00"));
    assert.equal(text, "next window opens Tue 2026-12-01 23:00 CET, in 2 days 4 hours");
  });
  it("says when the open window closes", () => {
    const text = describeNextOpening(rome([weekly(["tue"], "23:00", 120)]), at("2026-12-01T23:40:00+01:00"));
    assert.equal(text, "a window is open now (since Tue 2026-12-01 23:00 CET) and closes Wed 2026-12-02 01:00 CET, in 1 hour 20 minutes");
  });
  it("says when the windows never close", () => {
    const text = describeNextOpening(rome([weekly(["mon"], "00:00", 10080)]), at("2026-12-01T23:40:00+01:00"));
    assert.match(text, /never closes/);
  });
  it("formats durations with the two largest units", () => {
    const minute = 60_000;
    const cases: [number, string][] = [
      [30_000, "less than a minute"],
      [minute, "1 minute"],
      [65 * minute, "1 hour 5 minutes"],
      [120 * minute + 59_999, "2 hours"],
      [(2 * 24 * 60 + 4 * 60 + 59) * minute, "2 days 4 hours"],
      [(24 * 60 + 5) * minute, "1 day"],
    ];
    for (const [ms, text] of cases) assert.equal(formatDuration(ms), text);
  });
});

describe("buildSchedule rejects what cannot be a window", () => {
  const cases: [string, PeriodicSettings, RegExp][] = [
    ["no window at all", { time_zone: "UTC", window: [] }, /no maintenance window/],
    ["only empty day lists", { time_zone: "UTC", window: [weekly([], "10:00", 60)] }, /no maintenance window/],
    ["zero length", { time_zone: "UTC", window: [weekly(["mon"], "10:00", 0)] }, /length_minutes/],
    ["longer than a week", { time_zone: "UTC", window: [weekly(["mon"], "10:00", 10081)] }, /length_minutes/],
    ["a bad start time", { time_zone: "UTC", window: [weekly(["mon"], "24:00", 10)] }, /start_time/],
    ["a bad cron expression", { time_zone: "UTC", window: [cron("61 * * * *", 10)] }, /invalid cron/],
    ["a cron seconds field", { time_zone: "UTC", window: [cron("*/10 * * * * *", 10)] }, /seconds/],
  ];
  for (const [name, settings, message] of cases) {
    it(name, () => {
      assert.throws(
        () => buildSchedule(settings, "UTC"),
        (e: unknown) => isAgentError(e) && e.code === "STRATEGY_WINDOW" && message.test(e.message) && !!e.where,
      );
    });
  }
});
