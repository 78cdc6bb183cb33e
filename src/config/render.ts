/**
 * How `agentctl config` prints a configuration: pure text from a LoadedConfig, so the output is table-tested.
 */
import type { AgentError } from "../errors.js";
import { formatKeyPath, SETTING_PATHS, valueAt, WINDOW_KEY } from "./keys.js";
import type { LoadedConfig } from "./index.js";
import { DEFAULT_SOURCE } from "./merge.js";
import type { WindowSettings } from "./schema.js";

/** Bumped when a field of `config show --json` changes meaning or disappears. */
export const SHOW_JSON_VERSION = 1;

function formatValue(value: unknown): string {
  if (value === undefined) return "(unset)";
  if (Array.isArray(value)) return `[${value.map(formatValue).join(", ")}]`;
  return JSON.stringify(value);
}

function formatWindow(window: WindowSettings): string {
  const schedule =
    window.kind === "cron"
      ? `cron = ${JSON.stringify(window.cron)}`
      : `days = ${formatValue(window.days)}, start_time = ${JSON.stringify(window.start_time)}`;
  return `{ ${schedule}, length_minutes = ${window.length_minutes} }`;
}

/** `key = value` lines in schema order, each followed by its source; windows one per line. */
function settingLines(config: LoadedConfig): { assignment: string; source: string }[] {
  const lines: { assignment: string; source: string }[] = [];
  for (const path of SETTING_PATHS) {
    const key = formatKeyPath(path);
    if (key === WINDOW_KEY) {
      const windows = config.settings.updates.periodic.window;
      if (windows.length === 0) lines.push({ assignment: `${key} = []`, source: config.sources[key] ?? DEFAULT_SOURCE });
      windows.forEach((window, i) => {
        const entry = `${key}[${i}]`;
        lines.push({ assignment: `${entry} = ${formatWindow(window)}`, source: config.sources[entry] ?? DEFAULT_SOURCE });
      });
      continue;
    }
    lines.push({ assignment: `${key} = ${formatValue(valueAt(config.settings, path))}`, source: config.sources[key] ?? DEFAULT_SOURCE });
  }
  return lines;
}

export function warningLine(warning: AgentError): string {
  return `warning: ${warning.describe()}`;
}

export function renderShow(config: LoadedConfig): string {
  const lines = settingLines(config);
  // Align the sources, but do not let one long URL push every comment off the screen.
  const width = Math.min(64, Math.max(...lines.map((l) => l.assignment.length)));
  const out = [
    `# ${config.fragments.length} fragment${config.fragments.length === 1 ? "" : "s"} applied, in order:`,
    ...config.fragments.map((f) => `#   ${f}`),
    ...lines.map((l) => `${l.assignment.padEnd(width)}  # ${l.source}`),
  ];
  if (config.warnings.length > 0) out.push("", ...config.warnings.map(warningLine));
  return `${out.join("\n")}\n`;
}

export function showJson(config: LoadedConfig): Record<string, unknown> {
  return {
    format_version: SHOW_JSON_VERSION,
    settings: config.settings,
    sources: config.sources,
    fragments: config.fragments,
    warnings: config.warnings.map((w) => w.toJSON()),
  };
}
