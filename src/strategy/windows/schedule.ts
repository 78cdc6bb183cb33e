/**
 * From validated `updates.periodic` settings to a `Schedule`: the weekly windows laid out on Zincati's week
 * model (minute 0 = Monday 00:00, windows past Sunday 24:00 split to Monday 00:00, overlaps merged) and the cron
 * windows compiled once.
 */
import { CronExpressionParser } from "cron-parser";
import { AgentError } from "../../errors.js";
import type { CronWindow, Interval, PeriodicSettings, Schedule, WeeklyWindowSetting } from "./types.js";
import { WEEKDAYS } from "./types.js";
import { MINUTES_PER_WEEK } from "./zone.js";

const MINUTES_PER_DAY = 24 * 60;

/**
 * Compiles the windows of `periodic` for the zone `timeZone` (already resolved by `resolveTimeZone`).
 * Throws STRATEGY_WINDOW when a window is malformed or when there is no window at all: a periodic strategy
 * without windows would never reboot (Zincati: "weekly calendar length is zero").
 */
export function buildSchedule(periodic: PeriodicSettings, timeZone: string): Schedule {
  const weekly: Interval[] = [];
  const cron: CronWindow[] = [];
  periodic.window.forEach((window, index) => {
    const where = `updates.periodic.window[${index}]`;
    requireLength(window.length_minutes, where);
    if (window.kind === "cron") cron.push(compileCron(window.cron, window.length_minutes, `${where}.cron`));
    else weekly.push(...weeklySpans(window, where));
  });
  const schedule: Schedule = {
    timeZone,
    configuredTimeZone: periodic.time_zone,
    weekly: mergeIntervals(weekly).map((i) => ({ start_minute_of_week: i.start, length_minutes: i.end - i.start })),
    cron,
  };
  if (schedule.weekly.length === 0 && cron.length === 0) {
    throw new AgentError("STRATEGY_WINDOW", "the periodic strategy has no maintenance window, so it would never reboot", {
      where: "updates.periodic.window",
      hint: 'add a [[updates.periodic.window]] with days, start_time and length_minutes, or cron = "..." and length_minutes',
    });
  }
  return schedule;
}

/**
 * Minutes per week covered by the weekly windows, overlaps counted once: Zincati's "total schedule length".
 * Cron windows are not weekly (they may fire monthly), so they are not part of this number; `weekLayout` shows
 * them for a given week.
 */
export function totalMinutes(schedule: Schedule): number {
  return schedule.weekly.reduce((sum, span) => sum + span.length_minutes, 0);
}

/** Sorted union of intervals; touching intervals are joined, so a window split at the week boundary rejoins. */
export function mergeIntervals(intervals: readonly Interval[]): Interval[] {
  const sorted = [...intervals].filter((i) => i.end > i.start).sort((a, b) => a.start - b.start);
  const merged: Interval[] = [];
  for (const interval of sorted) {
    const last = merged[merged.length - 1];
    if (last && interval.start <= last.end) last.end = Math.max(last.end, interval.end);
    else merged.push({ ...interval });
  }
  return merged;
}

function weeklySpans(window: WeeklyWindowSetting, where: string): Interval[] {
  const startOfDay = parseStartTime(window.start_time, `${where}.start_time`);
  const spans: Interval[] = [];
  for (const day of window.days) {
    const dayIndex = WEEKDAYS.indexOf(day);
    if (dayIndex < 0) {
      throw new AgentError("STRATEGY_WINDOW", `unknown day '${day}'`, {
        where: `${where}.days`,
        hint: "use mon, tue, wed, thu, fri, sat or sun",
      });
    }
    const start = dayIndex * MINUTES_PER_DAY + startOfDay;
    const end = start + window.length_minutes;
    // A window running past Sunday 24:00 continues on Monday 00:00 of the same week model (Zincati's wrap split).
    spans.push({ start, end: Math.min(end, MINUTES_PER_WEEK) });
    if (end > MINUTES_PER_WEEK) spans.push({ start: 0, end: end - MINUTES_PER_WEEK });
  }
  return spans;
}

function parseStartTime(value: string, where: string): number {
  const match = /^(\d{1,2}):(\d{1,2})$/.exec(value);
  const hours = Number(match?.[1]);
  const minutes = Number(match?.[2]);
  if (!match || hours > 23 || minutes > 59) {
    throw new AgentError("STRATEGY_WINDOW", `invalid start_time '${value}'`, { where, hint: 'use "HH:MM", e.g. "23:30"' });
  }
  return hours * 60 + minutes;
}

function requireLength(length: number, where: string): void {
  if (!Number.isInteger(length) || length <= 0 || length > MINUTES_PER_WEEK) {
    throw new AgentError("STRATEGY_WINDOW", `invalid length_minutes ${length}`, {
      where: `${where}.length_minutes`,
      hint: `use a whole number of minutes from 1 to ${MINUTES_PER_WEEK} (one week)`,
    });
  }
}

function compileCron(expression: string, lengthMinutes: number, where: string): CronWindow {
  let parsed;
  try {
    // tz UTC on purpose: we feed wall-clock readings encoded as UTC (see zone.ts), so DST never reaches the parser.
    parsed = CronExpressionParser.parse(expression, { tz: "UTC" });
  } catch (e) {
    throw new AgentError("STRATEGY_WINDOW", `invalid cron expression '${expression}': ${(e as Error).message}`, {
      where,
      hint: 'use five fields: minute hour day-of-month month day-of-week, e.g. "0 3 * * 1-5"',
      cause: e,
    });
  }
  const { second, minute, hour } = parsed.fields;
  if (second.values.length !== 1 || second.values[0] !== 0) {
    throw new AgentError("STRATEGY_WINDOW", `cron expression '${expression}' has a seconds field`, {
      where,
      hint: "windows have minute resolution: use five fields (minute hour day-of-month month day-of-week)",
    });
  }
  return {
    expression,
    lengthMinutes,
    parsed,
    hours: numbers(hour.values),
    minutes: numbers(minute.values),
  };
}

function numbers(values: readonly (number | string)[]): number[] {
  return values.filter((v): v is number => typeof v === "number").sort((a, b) => a - b);
}
