/**
 * `agentctl windows [--now ISO8601] [--json]`: this week's maintenance windows as a grid, and when the next one
 * opens. The report itself is a pure function of (settings, zone, now); `run` only loads and prints.
 */
import { DateTime } from "luxon";
import { loadConfig } from "../../config/index.js";
import { AgentError } from "../../errors.js";
import { systemClock } from "../../host/clock.js";
import {
  buildSchedule,
  currentWindowEnd,
  describeNextOpening,
  formatInstant,
  formatIso,
  isOpen,
  nextOpening,
  renderWeekGrid,
  resolveTimeZone,
  totalMinutes,
  upcomingOpening,
  weekLayout,
  type PeriodicSettings,
  type Schedule,
  type WeekSpan,
} from "../../strategy/windows/index.js";
import { jsonText, warn, type CliContext } from "../context.js";

export const summary = "show this week's maintenance windows (periodic strategy) and when the next one opens";

const USAGE = "usage: agentctl [--root DIR] windows [--now ISO8601] [--json]";
const LOCK_STRATEGIES: readonly string[] = ["fleet_lock", "etcd_lock"];

/** What the report needs from the settings (`settings.updates`). */
export interface WindowSettingsView {
  strategy: string;
  /** Lock strategies honour the windows when this is true. */
  lock_only_in_windows?: boolean;
  periodic: PeriodicSettings;
}

/** The `--json` document; the first four names are a stable contract. */
export interface WindowsReport {
  time_zone: string;
  total_minutes: number;
  next_window_start: string | null;
  windows: WeekSpan[];
  configured_time_zone: string;
  strategy: string;
  /** Whether the agent waits for these windows (periodic, or a lock strategy with lock_only_in_windows). */
  in_effect: boolean;
  now: string;
  open_now: boolean;
  current_window_end: string | null;
  /** The opening after the current window closes; same as next_window_start when closed. */
  following_window_start: string | null;
  /** Local date of the Monday that `windows` is laid out from. */
  week_of: string;
  cron_windows: { cron: string; length_minutes: number }[];
}

export interface WindowsOptions {
  now: string | undefined;
  json: boolean;
}

export function parseWindowsArgs(args: readonly string[]): WindowsOptions | "help" {
  const options: WindowsOptions = { now: undefined, json: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--help" || arg === "-h") return "help";
    if (arg === "--json") options.json = true;
    else if (arg === "--now") {
      options.now = args[++i];
      if (options.now === undefined) throw new AgentError("USAGE", "--now needs a time", { hint: USAGE });
    } else if (arg.startsWith("--now=")) options.now = arg.slice("--now=".length);
    else throw new AgentError("USAGE", `unknown argument '${arg}'`, { hint: USAGE });
  }
  return options;
}

/** An ISO 8601 time; without an offset it is read on the wall clock of `zone`, like the windows themselves. */
export function parseNow(value: string, zone: string): Date {
  const parsed = DateTime.fromISO(value, { zone });
  if (!parsed.isValid) {
    throw new AgentError("USAGE", `--now: '${value}' is not an ISO 8601 time`, {
      hint: "e.g. --now 2026-12-01T18:40:00+01:00, or 2026-12-01T18:40 on the windows' time zone",
    });
  }
  return parsed.toJSDate();
}

export function windowsInEffect(updates: WindowSettingsView): boolean {
  return updates.strategy === "periodic" || (updates.lock_only_in_windows === true && LOCK_STRATEGIES.includes(updates.strategy));
}

/** The report for `updates` at `now`; `schedule` is built from `updates.periodic`. */
export function windowsReport(updates: WindowSettingsView, schedule: Schedule, now: Date): WindowsReport {
  const timeZone = schedule.timeZone;
  const next = nextOpening(schedule, now);
  const end = currentWindowEnd(schedule, now);
  const following = upcomingOpening(schedule, now);
  const iso = (d: Date | null) => (d ? formatIso(d, timeZone) : null);
  return {
    time_zone: timeZone,
    total_minutes: totalMinutes(schedule),
    next_window_start: iso(next),
    windows: weekLayout(schedule, now),
    configured_time_zone: updates.periodic.time_zone,
    strategy: updates.strategy,
    in_effect: windowsInEffect(updates),
    now: formatIso(now, timeZone),
    open_now: isOpen(schedule, now),
    current_window_end: iso(end),
    following_window_start: iso(following),
    week_of: DateTime.fromJSDate(now, { zone: timeZone }).startOf("week").toISODate() ?? "",
    cron_windows: schedule.cron.map((c) => ({ cron: c.expression, length_minutes: c.lengthMinutes })),
  };
}

/** The human report: heading, grid, legend, then the next opening in words. */
export function renderWindows(updates: WindowSettingsView, schedule: Schedule, now: Date): string {
  const timeZone = schedule.timeZone;
  const report = windowsReport(updates, schedule, now);
  const zoneName = report.configured_time_zone === timeZone ? timeZone : `${timeZone} (${report.configured_time_zone})`;
  const lines = [`Maintenance windows, week of Mon ${report.week_of}, wall clock of ${zoneName}`, ...renderWeekGrid(schedule, now), ""];
  const cron = report.cron_windows.map((c) => `cron "${c.cron}" for ${c.length_minutes} min`);
  lines.push(`weekly windows: ${report.total_minutes} minutes a week${cron.length ? `; plus ${cron.join(", ")}` : ""}`);
  lines.push(`now: ${formatInstant(now, timeZone)}`);
  lines.push(describeNextOpening(schedule, now));
  const following = report.following_window_start;
  if (report.open_now && following) {
    lines.push(`after that, the next window opens ${formatInstant(new Date(following), timeZone)}`);
  }
  if (!report.in_effect) {
    lines.push(`note: updates.strategy is "${updates.strategy}", so the agent does not wait for these windows`);
  }
  return lines.join("\n") + "\n";
}

function noWindowsReport(updates: WindowSettingsView, now: Date): WindowsReport {
  return {
    time_zone: "UTC",
    total_minutes: 0,
    next_window_start: null,
    windows: [],
    configured_time_zone: updates.periodic.time_zone,
    strategy: updates.strategy,
    in_effect: false,
    now: formatIso(now, "UTC"),
    open_now: false,
    current_window_end: null,
    following_window_start: null,
    week_of: DateTime.fromJSDate(now, { zone: "UTC" }).startOf("week").toISODate() ?? "",
    cron_windows: [],
  };
}

/** The command's whole output for loaded settings; `clockNow` is used unless `--now` was given. */
export function windowsOutput(
  updates: WindowSettingsView,
  root: string,
  options: WindowsOptions,
  clockNow: Date,
): string {
  const hasWindows = updates.periodic.window.some((w) => w.kind === "cron" || w.days.length > 0);
  if (!hasWindows && !windowsInEffect(updates)) {
    const now = options.now === undefined ? clockNow : parseNow(options.now, "UTC");
    if (options.json) return jsonText(noWindowsReport(updates, now));
    return `updates.strategy is "${updates.strategy}" and no maintenance windows are configured: updates are not held for a window\n`;
  }
  const schedule = buildSchedule(updates.periodic, resolveTimeZone(root, updates.periodic.time_zone));
  const now = options.now === undefined ? clockNow : parseNow(options.now, schedule.timeZone);
  if (options.json) return jsonText(windowsReport(updates, schedule, now));
  return renderWindows(updates, schedule, now);
}

export async function run(args: string[], ctx: CliContext): Promise<number> {
  const options = parseWindowsArgs(args);
  if (options === "help") {
    ctx.stdout(`${USAGE}\n${summary}\n`);
    return 0;
  }
  // A config error propagates: main prints the loader's message and exits 1.
  const { settings, warnings } = await loadConfig({ root: ctx.root });
  for (const warning of warnings) warn(ctx, warning);
  ctx.stdout(windowsOutput(settings.updates, ctx.root, options, systemClock.now()));
  return 0;
}
