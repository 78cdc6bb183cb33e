/**
 * Fragments, in application order → one Settings plus where each value came from. Pure.
 * Scalars (and lists other than windows): the last fragment that sets a key wins. Windows accumulate.
 */
import { formatKeyPath, SETTING_PATHS, WINDOW_KEY } from "./keys.js";
import type { FragmentSettings } from "./fragment.js";
import { defaultSettings, type Settings } from "./schema.js";

/** The source of a value no fragment sets. */
export const DEFAULT_SOURCE = "default";

export interface MergedSettings {
  settings: Settings;
  /** Dotted key (`updates.strategy`, `updates.periodic.window[0]`) → fragment path or "default". */
  sources: Record<string, string>;
}

export function mergeFragments(fragments: readonly FragmentSettings[]): MergedSettings {
  const settings = defaultSettings();
  const sources: Record<string, string> = {};
  for (const path of SETTING_PATHS) sources[formatKeyPath(path)] = DEFAULT_SOURCE;

  for (const fragment of fragments) {
    for (const [key, { path, value }] of fragment.values) {
      setAt(settings, path, value);
      sources[key] = fragment.file;
    }
    for (const window of fragment.windows) {
      sources[`${WINDOW_KEY}[${settings.updates.periodic.window.length}]`] = fragment.file;
      settings.updates.periodic.window.push(window);
      sources[WINDOW_KEY] = fragment.file;
    }
  }
  return { settings, sources };
}

function setAt(settings: Settings, path: readonly string[], value: unknown): void {
  let node = settings as unknown as Record<string, unknown>;
  for (const segment of path.slice(0, -1)) node = node[segment] as Record<string, unknown>;
  node[path.at(-1)!] = value;
}
