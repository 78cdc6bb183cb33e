/**
 * A picture of one wall-clock week: 7 rows (Mon..Sun) by 24 hour columns, each cell telling whether that hour
 * is wholly, partly or not inside a window, with "now" and the next opening marked.
 */
import { DateTime } from "luxon";
import { currentWindowEnd, isOpen, nextOpening, weekLayout } from "./timeline.js";
import type { Schedule, WeekSpan } from "./types.js";
import { DAY_MS, WEEK_MS, minuteOfWeek, offsetTransitions, wallClockAt, weekStartOf } from "./zone.js";

export const CELL = { full: "##", partial: "++", none: ".." } as const;
export const NOW_MARK = "@";
export const NEXT_MARK = ">";
const DAY_LABELS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const ROW_LABEL_WIDTH = 6;

export type HourCoverage = "full" | "partial" | "none";

/** Coverage of each hour of the week (index = day * 24 + hour) by the merged layout. */
export function hourCoverage(layout: readonly WeekSpan[]): HourCoverage[] {
  return Array.from({ length: 7 * 24 }, (_, hour) => {
    const from = hour * 60;
    const to = from + 60;
    let covered = 0;
    for (const span of layout) {
      const end = span.start_minute_of_week + span.length_minutes;
      covered += Math.max(0, Math.min(end, to) - Math.max(span.start_minute_of_week, from));
    }
    return covered >= 60 ? "full" : covered > 0 ? "partial" : "none";
  });
}

/**
 * The opening worth pointing at: the next one when closed; when open, the first one after the current window
 * closes (its own start is already behind us).
 */
export function upcomingOpening(schedule: Schedule, now: Date): Date | null {
  if (!isOpen(schedule, now)) return nextOpening(schedule, now);
  const end = currentWindowEnd(schedule, now);
  return end ? nextOpening(schedule, end) : null;
}

/** The grid, its legend and notes on clock changes that week, as lines. */
export function renderWeekGrid(schedule: Schedule, now: Date): string[] {
  const zone = schedule.timeZone;
  const nowWall = wallClockAt(zone, now.getTime());
  const week = weekStartOf(nowWall);
  const coverage = hourCoverage(weekLayout(schedule, now));
  const marks = new Map<number, string>([[Math.floor(minuteOfWeek(nowWall) / 60), NOW_MARK]]);
  const upcoming = upcomingOpening(schedule, now);
  if (upcoming) {
    const upcomingWall = wallClockAt(zone, upcoming.getTime());
    if (upcomingWall < week + WEEK_MS) {
      const hour = Math.floor(minuteOfWeek(upcomingWall) / 60);
      marks.set(hour, (marks.get(hour) ?? "") + NEXT_MARK);
    }
  }
  const header = " ".repeat(ROW_LABEL_WIDTH) + Array.from({ length: 24 }, (_, h) => ` ${pad2(h)}`).join("");
  const rows = DAY_LABELS.map((label, day) => {
    const dayOfMonth = new Date(week + day * DAY_MS).getUTCDate();
    const cells = Array.from({ length: 24 }, (_, h) => {
      const index = day * 24 + h;
      return ` ${cellText(coverage[index] ?? "none", marks.get(index))}`;
    });
    return `${label} ${pad2(dayOfMonth)}`.padEnd(ROW_LABEL_WIDTH) + cells.join("");
  });
  const legend =
    `${CELL.full} whole hour in a window   ${CELL.partial} part of the hour   ${CELL.none} no window   ` +
    `${NOW_MARK} now   ${NEXT_MARK} next window opens`;
  return [header, ...rows, legend, ...clockChangeNotes(zone, week)];
}

/** A marked cell keeps one character of its coverage so the window shape stays readable. */
function cellText(coverage: HourCoverage, mark: string | undefined): string {
  const text = CELL[coverage];
  if (!mark) return text;
  return mark.length >= 2 ? mark.slice(0, 2) : mark + text[1];
}

/** Clock changes whose wall time falls in the week, said in wall-clock terms since the grid is wall-clock. */
function clockChangeNotes(zone: string, week: number): string[] {
  // Wall and absolute time differ by at most a day, so this range covers the wall-clock week.
  const transitions = offsetTransitions(zone, week - DAY_MS, week + WEEK_MS + DAY_MS);
  return transitions
    .filter((t) => t.at + t.offsetBeforeMs >= week && t.at + t.offsetBeforeMs < week + WEEK_MS)
    .map((t) => {
      const before = t.at + t.offsetBeforeMs;
      const after = t.at + t.offsetAfterMs;
      const day = DateTime.fromMillis(before, { zone: "UTC" }).toFormat("ccc yyyy-MM-dd");
      const [from, to] = [hhmm(before), hhmm(after)];
      return after > before
        ? `note: on ${day} clocks go forward from ${from} to ${to}; ${from}-${to} does not happen, windows there are shortened or skipped`
        : `note: on ${day} clocks go back from ${from} to ${to}; ${to}-${from} happens twice, windows there are open both times`;
    });
}

function hhmm(wall: number): string {
  const d = new Date(wall);
  return `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}
