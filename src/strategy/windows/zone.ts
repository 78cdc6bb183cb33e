/**
 * Time zones for maintenance windows.
 *
 * Windows follow a zone's wall clock. We handle wall-clock readings as "wall milliseconds": the reading written
 * as if it were a UTC timestamp (`wall = instant + offset`). That axis has no DST, so window arithmetic on it is
 * plain addition; converting back to instants only happens in offset segments, where the offset is constant.
 */
import { readlinkSync } from "node:fs";
import { join, posix } from "node:path";
import { IANAZone } from "luxon";
import { AgentError } from "../../errors.js";
import type { Interval } from "./types.js";

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;
export const WEEK_MS = 7 * DAY_MS;
export const MINUTES_PER_WEEK = 7 * 24 * 60;
/** 1970-01-05 was a Monday: wall-clock weeks start at this offset from the epoch. */
const FIRST_MONDAY_MS = 4 * DAY_MS;
/**
 * Zones change offset at most a few times a year, months apart, so probing every 6 hours finds each change;
 * a bisection then pins it to the millisecond.
 */
const OFFSET_PROBE_STEP_MS = 6 * HOUR_MS;
const ZONEINFO_DIR = "/usr/share/zoneinfo/";

/** A stretch of time during which the zone's UTC offset does not change. */
export interface OffsetSegment extends Interval {
  offsetMs: number;
}

/** A change of the zone's offset: at instant `at` the wall clock jumps from `at + offsetBeforeMs` to `at + offsetAfterMs`. */
export interface OffsetTransition {
  at: number;
  offsetBeforeMs: number;
  offsetAfterMs: number;
}

/**
 * The IANA zone whose wall clock the windows follow. `localtime` is the target of `<root>/etc/localtime` below
 * /usr/share/zoneinfo/. A /etc/localtime that is not a symlink means UTC (Zincati), and so does a missing one (systemd).
 * Reads one symlink (through `readLink`, for tests); everything else is pure.
 */
export function resolveTimeZone(
  root: string,
  name: string,
  readLink: (path: string) => string = (path) => readlinkSync(path, "utf8"),
): string {
  if (name !== "localtime") return requireKnownZone(name, "updates.periodic.time_zone");
  const linkPath = join(root, "etc/localtime");
  let target: string;
  try {
    target = readLink(linkPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EINVAL" || code === "ENOENT") return "UTC";
    throw new AgentError("HOST_IO", `cannot read the local time zone link: ${(e as Error).message}`, {
      where: linkPath,
      cause: e,
    });
  }
  // The link is a path on the node, so a relative target is relative to /etc, never to the --root prefix.
  const absolute = posix.resolve("/etc", target);
  if (!absolute.startsWith(ZONEINFO_DIR)) {
    throw new AgentError("STRATEGY_WINDOW", `time_zone is 'localtime' but /etc/localtime points to '${target}', outside ${ZONEINFO_DIR}`, {
      where: linkPath,
      hint: "set the zone with `timedatectl set-timezone NAME`, or set updates.periodic.time_zone to an IANA name",
    });
  }
  return requireKnownZone(absolute.slice(ZONEINFO_DIR.length), linkPath);
}

function requireKnownZone(name: string, where: string): string {
  if (IANAZone.isValidZone(name)) return name;
  throw new AgentError("STRATEGY_WINDOW", `unknown time zone '${name}'`, {
    where,
    hint: "use an IANA name such as 'Europe/Rome' or 'America/Toronto', 'UTC', or 'localtime'",
  });
}

export function offsetMsAt(zone: string, instant: number): number {
  return IANAZone.create(zone).offset(instant) * MINUTE_MS;
}

/** The zone's wall-clock reading at `instant`, as wall milliseconds. */
export function wallClockAt(zone: string, instant: number): number {
  return instant + offsetMsAt(zone, instant);
}

/** Monday 00:00 of the wall-clock week containing `wall`. */
export function weekStartOf(wall: number): number {
  return wall - mod(wall - FIRST_MONDAY_MS, WEEK_MS);
}

export function dayStartOf(wall: number): number {
  return wall - mod(wall, DAY_MS);
}

/** Wall-clock minute of the week (0 = Monday 00:00), seconds dropped. */
export function minuteOfWeek(wall: number): number {
  return Math.floor((wall - weekStartOf(wall)) / MINUTE_MS);
}

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}

/** Offset changes of `zone` in `[from, to)`, in time order. */
export function offsetTransitions(zone: string, from: number, to: number): OffsetTransition[] {
  const transitions: OffsetTransition[] = [];
  let probe = from;
  let probeOffset = offsetMsAt(zone, from);
  while (probe < to) {
    const next = Math.min(probe + OFFSET_PROBE_STEP_MS, to);
    const nextOffset = offsetMsAt(zone, next);
    if (nextOffset === probeOffset) {
      probe = next;
      continue;
    }
    let before = probe;
    let after = next;
    while (after - before > 1) {
      const mid = Math.floor((before + after) / 2);
      if (offsetMsAt(zone, mid) === probeOffset) before = mid;
      else after = mid;
    }
    const offsetAfter = offsetMsAt(zone, after);
    if (after < to) transitions.push({ at: after, offsetBeforeMs: probeOffset, offsetAfterMs: offsetAfter });
    probe = after;
    probeOffset = offsetAfter;
  }
  return transitions;
}

/** `[from, to)` cut where the zone's offset changes. */
export function offsetSegments(zone: string, from: number, to: number): OffsetSegment[] {
  const segments: OffsetSegment[] = [];
  let start = from;
  let offsetMs = offsetMsAt(zone, from);
  for (const t of offsetTransitions(zone, from, to)) {
    if (t.at > start) segments.push({ start, end: t.at, offsetMs });
    start = t.at;
    offsetMs = t.offsetAfterMs;
  }
  if (to > start) segments.push({ start, end: to, offsetMs });
  return segments;
}
