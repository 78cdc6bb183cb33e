/**
 * Shapes shared by the maintenance-window code: the validated settings it is built from (the contract with
 * src/config) and the compiled `Schedule` the pure functions work on.
 */
import type { CronExpression } from "cron-parser";

export const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** `[[updates.periodic.window]]` in the Zincati form: the same wall-clock slot on some days of the week. */
export interface WeeklyWindowSetting {
  kind: "weekly";
  days: Weekday[];
  /** Normalized `HH:MM`, local wall-clock time in the configured zone. */
  start_time: string;
  length_minutes: number;
}

/** `[[updates.periodic.window]]` with `cron = "..."`: a window opens at every wall-clock time the expression matches. */
export interface CronWindowSetting {
  kind: "cron";
  cron: string;
  length_minutes: number;
}

export type WindowSetting = WeeklyWindowSetting | CronWindowSetting;

/** `settings.updates.periodic` as the config loader hands it over. */
export interface PeriodicSettings {
  /** `UTC` (default), `localtime`, or an IANA name. */
  time_zone: string;
  window: WindowSetting[];
}

/** A span of the week in wall-clock minutes; minute 0 is Monday 00:00 in the schedule's zone. */
export interface WeekSpan {
  start_minute_of_week: number;
  length_minutes: number;
}

/** A compiled cron window: the expression is evaluated on the zone's wall clock, minute resolution. */
export interface CronWindow {
  expression: string;
  lengthMinutes: number;
  /** Parsed with tz UTC and fed wall-clock readings encoded as UTC, so cron-parser never sees a DST shift. */
  parsed: CronExpression;
  /** Sorted hours and minutes the expression fires at, on the days it matches. */
  hours: readonly number[];
  minutes: readonly number[];
}

export interface Schedule {
  /** IANA zone whose wall clock the windows follow (`localtime` already resolved). */
  timeZone: string;
  /** The zone as configured, e.g. `localtime`. */
  configuredTimeZone: string;
  /** The weekly windows merged and split at the week boundary, sorted: the same every week. */
  weekly: readonly WeekSpan[];
  cron: readonly CronWindow[];
}

/** A half-open span `[start, end)` in epoch milliseconds (absolute) or wall-clock milliseconds (see zone.ts). */
export interface Interval {
  start: number;
  end: number;
}
