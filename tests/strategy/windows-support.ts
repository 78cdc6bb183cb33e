/** Window settings for the maintenance-window tests (tests/strategy/windows*.test.ts), as the config loader hands them over. */
import type { Weekday, WindowSetting } from "../../src/strategy/windows/index.js";

export const weekly = (days: Weekday[], start_time: string, length_minutes: number): WindowSetting => ({
  kind: "weekly",
  days,
  start_time,
  length_minutes,
});

export const cron = (expression: string, length_minutes: number): WindowSetting => ({ kind: "cron", cron: expression, length_minutes });
