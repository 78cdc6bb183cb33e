/**
 * When a schedule is open, as pure functions of (schedule, now).
 *
 * The one rule: an instant is inside a window when the zone's wall clock at that instant reads a time inside the
 * window. Everything else follows from it, DST included: when the clocks spring forward a window loses the
 * skipped part (and is skipped only if it lies wholly in the gap); when they fall back, wall times in the
 * repeated hour happen twice and so does the part of a window there. Cron windows obey the same rule: each wall
 * time the expression matches opens a window of `length_minutes` on the wall clock.
 */
import { mergeIntervals } from "./schedule.js";
import type { CronWindow, Interval, Schedule, WeekSpan } from "./types.js";
import {
  DAY_MS,
  HOUR_MS,
  MINUTE_MS,
  WEEK_MS,
  dayStartOf,
  offsetSegments,
  wallClockAt,
  weekStartOf,
} from "./zone.js";

/** How far `nextOpening` looks: four years, so a cron window on 29 February is still found. */
export const LOOKAHEAD_MS = 4 * 366 * DAY_MS;
/** A window open for longer than this, before or after now, is reported without a start or an end. */
export const OPEN_SPAN_HORIZON_MS = 5 * WEEK_MS;
const FIRST_LOOKAHEAD_CHUNK_MS = 8 * DAY_MS;

/** The merged window that contains `now`: `null` start/end when it reaches beyond `OPEN_SPAN_HORIZON_MS`. */
export interface CurrentWindow {
  start: Date | null;
  end: Date | null;
}

export function isOpen(schedule: Schedule, now: Date): boolean {
  const wall = wallClockAt(schedule.timeZone, now.getTime());
  return wallWindows(schedule, wall, wall).some((w) => w.start <= wall && wall < w.end);
}

/**
 * When closed: the first instant after `now` at which a window opens, or null if none does within four years.
 * When open: the start of the window open now (overlapping and touching windows count as one), or null if it
 * has been open for longer than `OPEN_SPAN_HORIZON_MS` (windows covering the whole week never open or close).
 */
export function nextOpening(schedule: Schedule, now: Date): Date | null {
  if (isOpen(schedule, now)) return currentWindow(schedule, now)?.start ?? null;
  const t = now.getTime();
  let chunk = FIRST_LOOKAHEAD_CHUNK_MS;
  for (let from = t; from < t + LOOKAHEAD_MS; from += chunk, chunk *= 2) {
    const to = Math.min(from + chunk, t + LOOKAHEAD_MS);
    // Closed at `now`, so no interval contains it and the first one found starts strictly later.
    const first = openIntervals(schedule, from, to).find((i) => i.start > t);
    if (first) return new Date(first.start);
  }
  return null;
}

/** When open, the instant the window open now closes (null when it stays open past the horizon); null when closed. */
export function currentWindowEnd(schedule: Schedule, now: Date): Date | null {
  return currentWindow(schedule, now)?.end ?? null;
}

/** The merged window containing `now`, or null when closed. */
export function currentWindow(schedule: Schedule, now: Date): CurrentWindow | null {
  if (!isOpen(schedule, now)) return null;
  const t = now.getTime();
  let back = DAY_MS;
  let ahead = DAY_MS;
  while (true) {
    const containing = openIntervals(schedule, t - back, t + ahead).find((i) => i.start <= t && t < i.end);
    if (!containing) return null;
    // An interval touching the edge of what we looked at may go on beyond it: look further before trusting it.
    const startKnown = containing.start > t - back;
    const endKnown = containing.end < t + ahead;
    const done = (startKnown || back >= OPEN_SPAN_HORIZON_MS) && (endKnown || ahead >= OPEN_SPAN_HORIZON_MS);
    if (done) {
      return {
        start: startKnown ? new Date(containing.start) : null,
        end: endKnown ? new Date(containing.end) : null,
      };
    }
    if (!startKnown) back = Math.min(back * 4, OPEN_SPAN_HORIZON_MS);
    if (!endKnown) ahead = Math.min(ahead * 4, OPEN_SPAN_HORIZON_MS);
  }
}

/**
 * The wall-clock week containing `weekStart` (any instant of it), Monday 00:00 to Monday 00:00 in the schedule's
 * zone: weekly and cron windows merged, split at the week's edges, in minutes of the week.
 */
export function weekLayout(schedule: Schedule, weekStart: Date): WeekSpan[] {
  const week = weekStartOf(wallClockAt(schedule.timeZone, weekStart.getTime()));
  const weekEnd = week + WEEK_MS;
  return wallWindows(schedule, week, weekEnd)
    .map((w) => ({ start: Math.max(w.start, week), end: Math.min(w.end, weekEnd) }))
    .filter((w) => w.end > w.start)
    .map((w) => ({
      start_minute_of_week: Math.round((w.start - week) / MINUTE_MS),
      length_minutes: Math.round((w.end - w.start) / MINUTE_MS),
    }));
}

/**
 * The instants in `[from, to)` at which the schedule is open, merged and clipped to `[from, to)`. Within an
 * offset segment wall = instant + offset, so a wall-clock window maps back by subtracting the offset; clipping
 * to the segment is what shortens windows at a spring-forward and repeats them at a fall-back.
 */
export function openIntervals(schedule: Schedule, from: number, to: number): Interval[] {
  const open: Interval[] = [];
  for (const segment of offsetSegments(schedule.timeZone, from, to)) {
    const { offsetMs } = segment;
    for (const w of wallWindows(schedule, segment.start + offsetMs, segment.end + offsetMs)) {
      const start = Math.max(w.start - offsetMs, segment.start);
      const end = Math.min(w.end - offsetMs, segment.end);
      if (end > start) open.push({ start, end });
    }
  }
  return mergeIntervals(open);
}

/** The schedule's windows on the wall-clock axis that overlap or touch `[fromWall, toWall]`, merged. */
export function wallWindows(schedule: Schedule, fromWall: number, toWall: number): Interval[] {
  const windows: Interval[] = [];
  for (let week = weekStartOf(fromWall); week <= toWall; week += WEEK_MS) {
    for (const span of schedule.weekly) {
      const start = week + span.start_minute_of_week * MINUTE_MS;
      const end = start + span.length_minutes * MINUTE_MS;
      if (end >= fromWall && start <= toWall) windows.push({ start, end });
    }
  }
  for (const cron of schedule.cron) windows.push(...cronWallWindows(cron, fromWall, toWall));
  return mergeIntervals(windows);
}

function cronWallWindows(cron: CronWindow, fromWall: number, toWall: number): Interval[] {
  const lengthMs = cron.lengthMinutes * MINUTE_MS;
  const windows: Interval[] = [];
  for (let day = dayStartOf(fromWall - lengthMs); day <= toWall; day += DAY_MS) {
    if (!cronFiresOn(cron, day)) continue;
    for (const hour of cron.hours) {
      for (const minute of cron.minutes) {
        const start = day + hour * HOUR_MS + minute * MINUTE_MS;
        if (start > toWall) break;
        if (start + lengthMs >= fromWall) windows.push({ start, end: start + lengthMs });
      }
    }
  }
  return windows;
}

/** Whether the day-of-month, month and day-of-week fields accept the wall-clock day starting at `day`. */
function cronFiresOn(cron: CronWindow, day: number): boolean {
  const firstFiring = day + (cron.hours[0] ?? 0) * HOUR_MS + (cron.minutes[0] ?? 0) * MINUTE_MS;
  return cron.parsed.includesDate(new Date(firstFiring));
}
