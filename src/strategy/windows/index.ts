/**
 * Maintenance windows for the `periodic` strategy: build a `Schedule` once from the settings, then ask pure
 * questions of it at any instant. Semantics (wall clock, DST, differences from Zincati): docs/windows.md.
 */
export { buildSchedule, totalMinutes } from "./schedule.js";
export { resolveTimeZone } from "./zone.js";
export {
  currentWindow,
  currentWindowEnd,
  isOpen,
  nextOpening,
  openIntervals,
  weekLayout,
  type CurrentWindow,
} from "./timeline.js";
export { describeNextOpening, describeOpeningAt, formatDuration, formatInstant, formatIso } from "./describe.js";
export { renderWeekGrid, upcomingOpening } from "./grid.js";
export {
  WEEKDAYS,
  type CronWindowSetting,
  type PeriodicSettings,
  type Schedule,
  type WeekSpan,
  type Weekday,
  type WeeklyWindowSetting,
  type WindowSetting,
} from "./types.js";
