/** Windows in words, for `agentctl windows`, status and logs. */
import { DateTime } from "luxon";
import { currentWindow, nextOpening, OPEN_SPAN_HORIZON_MS } from "./timeline.js";
import type { Schedule } from "./types.js";
import { DAY_MS, MINUTE_MS, WEEK_MS } from "./zone.js";

/**
 * One sentence about the next opening, e.g. "next window opens Tue 2026-12-01 23:00 CET, in 2 days 4 hours",
 * or, when a window is open, when it opened and when it closes.
 */
export function describeNextOpening(schedule: Schedule, now: Date): string {
  const zone = schedule.timeZone;
  const open = currentWindow(schedule, now);
  if (open) {
    if (!open.start && !open.end) return "a window is open now and never closes: the windows cover the whole week";
    const since = open.start ? `since ${formatInstant(open.start, zone)}` : `for more than ${horizonWeeks()} weeks`;
    if (!open.end) return `a window is open now (${since}) and stays open for more than ${horizonWeeks()} weeks`;
    const closes = `${formatInstant(open.end, zone)}, in ${formatDuration(open.end.getTime() - now.getTime())}`;
    return `a window is open now (${since}) and closes ${closes}`;
  }
  return describeOpeningAt(schedule, now, nextOpening(schedule, now));
}

/** The closed case of `describeNextOpening`, for a caller that already has `nextOpening(schedule, now)`. */
export function describeOpeningAt(schedule: Schedule, now: Date, next: Date | null): string {
  if (!next) return "no window opens in the next four years";
  return `next window opens ${formatInstant(next, schedule.timeZone)}, in ${formatDuration(next.getTime() - now.getTime())}`;
}

/** `Tue 2026-12-01 23:00 CET`: the wall-clock reading in `zone`, with the zone's abbreviation. */
export function formatInstant(instant: Date, zone: string): string {
  const local = DateTime.fromJSDate(instant, { zone }).setLocale("en-US");
  return `${local.toFormat("ccc yyyy-MM-dd HH:mm")} ${zoneAbbreviation(local)}`;
}

/** ISO 8601 with the zone's offset, e.g. `2026-12-01T23:00:00+01:00`. */
export function formatIso(instant: Date, zone: string): string {
  return DateTime.fromJSDate(instant, { zone }).toISO({ suppressMilliseconds: true }) ?? instant.toISOString();
}

/** `2 days 4 hours`, `3 hours 5 minutes`, `1 minute`: the largest unit and the next one, rounded down. */
export function formatDuration(ms: number): string {
  const minutes = Math.floor(ms / MINUTE_MS);
  if (minutes < 1) return "less than a minute";
  const units: [number, string][] = [
    [Math.floor(minutes / (DAY_MS / MINUTE_MS)), "day"],
    [Math.floor(minutes / 60) % 24, "hour"],
    [minutes % 60, "minute"],
  ];
  const largest = units.findIndex(([n]) => n > 0);
  return units
    .slice(largest, largest + 2)
    .filter(([n]) => n > 0)
    .map(([n, unit]) => `${n} ${unit}${n === 1 ? "" : "s"}`)
    .join(" ");
}

/**
 * ICU's en-US names only US zones ("EST"); en-GB adds the European ones ("CET", "BST"). Elsewhere we get "GMT+9",
 * which is still unambiguous.
 */
function zoneAbbreviation(local: DateTime): string {
  const us = local.toFormat("ZZZZ");
  if (!/^GMT[+-]/.test(us)) return us;
  return local.setLocale("en-GB").toFormat("ZZZZ");
}

function horizonWeeks(): number {
  return OPEN_SPAN_HORIZON_MS / WEEK_MS;
}
