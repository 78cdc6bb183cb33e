/**
 * One fragment's raw table → the settings it sets, every problem in it, and warnings for unknown keys.
 * A bad value does not hide the others: it is reported, removed, and the rest of the fragment is checked
 * again, so `config validate` lists everything at once and the good values still take part in the merge.
 */
import { AgentError } from "../errors.js";
import { formatKeyPath, knownKeysAt, SETTING_PATHS, valueAt, WINDOW_KEY, type KeyPath } from "./keys.js";
import { isTable, type RawTable } from "./parse.js";
import { settingsSchema, type Settings, type WindowSettings } from "./schema.js";
import { closestName } from "./values.js";

export interface FragmentSettings {
  /** The fragment as it was named to the admin. */
  file: string;
  /** Settings this fragment writes, keyed by their dotted path, already normalized. */
  values: Map<string, { path: readonly string[]; value: unknown }>;
  /** Its `[[updates.periodic.window]]` entries, which add to those of earlier fragments. */
  windows: WindowSettings[];
  problems: AgentError[];
  warnings: AgentError[];
  /** Dotted keys (or tables) that had a bad value here, so rules over them are not judged on stale data. */
  tainted: string[];
}

interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  keys?: string[];
  params?: { hint?: unknown };
}

/** More passes than a fragment can need: each pass only removes what the previous one reported. */
const MAX_PASSES = 8;

export function checkFragment(file: string, raw: RawTable): FragmentSettings {
  const result: FragmentSettings = { file, values: new Map(), windows: [], problems: [], warnings: [], tainted: [] };
  const reported = new Set<string>();
  const report = (list: AgentError[], error: AgentError) => {
    const id = `${error.where}\0${error.message}`;
    if (!reported.has(id)) list.push(error);
    reported.add(id);
  };

  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const parsed = settingsSchema.safeParse(raw, { reportInput: true });
    if (parsed.success) {
      collectValues(raw, parsed.data, result);
      return result;
    }
    for (const issue of parsed.error.issues as unknown as Issue[]) {
      if (issue.code === "unrecognized_keys") {
        for (const key of issue.keys ?? []) {
          report(result.warnings, unknownKeyWarning(file, [...issue.path, key]));
          removeAt(raw, [...issue.path, key]);
        }
      } else {
        const key = formatKeyPath(issue.path);
        const hint = typeof issue.params?.hint === "string" ? issue.params.hint : undefined;
        report(
          result.problems,
          new AgentError("CONFIG_INVALID", issue.message, { where: `${file}: ${key}`, hint, details: { file, key } }),
        );
        const target = removalTarget(issue.path);
        result.tainted.push(formatKeyPath(target.filter((s) => typeof s !== "number")));
        removeAt(raw, target);
      }
    }
    compactWindows(raw);
  }
  return result; // unreachable in practice; the fragment then sets nothing, and its problems are reported
}

function collectValues(raw: RawTable, data: Settings, into: FragmentSettings): void {
  for (const path of SETTING_PATHS) {
    if (!hasAt(raw, path)) continue;
    const key = formatKeyPath(path);
    if (key === WINDOW_KEY) into.windows = data.updates.periodic.window;
    else into.values.set(key, { path, value: valueAt(data, path) });
  }
}

/** A bad value inside a window drops that window; anywhere else a bad list element drops the whole list. */
function removalTarget(path: PropertyKey[]): PropertyKey[] {
  const index = path.findIndex((s) => typeof s === "number");
  if (index === -1) return path;
  const list = path.slice(0, index);
  return formatKeyPath(list) === WINDOW_KEY ? path.slice(0, index + 1) : list;
}

const REMOVED = Symbol("removed");

function removeAt(raw: RawTable, path: readonly PropertyKey[]): void {
  let node: unknown = raw;
  for (const segment of path.slice(0, -1)) {
    node = isTable(node) || Array.isArray(node) ? (node as Record<PropertyKey, unknown>)[segment] : undefined;
  }
  const last = path.at(-1);
  if (last === undefined) return;
  if (Array.isArray(node) && typeof last === "number") node[last] = REMOVED;
  else if (isTable(node)) delete node[String(last)];
}

function compactWindows(raw: RawTable): void {
  const updates = raw["updates"];
  const periodic = isTable(updates) ? updates["periodic"] : undefined;
  if (isTable(periodic) && Array.isArray(periodic["window"])) {
    periodic["window"] = periodic["window"].filter((entry) => entry !== REMOVED);
  }
}

function hasAt(raw: RawTable, path: readonly string[]): boolean {
  let node: unknown = raw;
  for (const segment of path) {
    if (!isTable(node) || !Object.hasOwn(node, segment)) return false;
    node = node[segment];
  }
  return node !== undefined;
}

const MISPLACED_WINDOW_HINT =
  "reboot windows for fleet_lock and etcd_lock are [[updates.periodic.window]] entries with updates.lock_only_in_windows = true";

function unknownKeyWarning(file: string, path: KeyPath): AgentError {
  const key = formatKeyPath(path);
  return new AgentError("CONFIG_UNKNOWN_KEY", "unknown key, ignored", {
    where: `${file}: ${key}`,
    hint: key === "updates.fleet_lock.window" ? MISPLACED_WINDOW_HINT : suggestKey(path),
    details: { file, key },
  });
}

/** A sibling with a similar name, or the same name where it belongs (`[updates] time_zone` → updates.periodic.time_zone). */
function suggestKey(path: KeyPath): string | undefined {
  const name = String(path.at(-1));
  const parent = path.slice(0, -1);
  const sibling = closestName(name, knownKeysAt(parent) ?? []);
  if (sibling !== undefined) return `did you mean ${formatKeyPath([...parent, sibling])}?`;
  for (const setting of SETTING_PATHS) {
    const at = setting.indexOf(name);
    if (at !== -1) return `did you mean ${formatKeyPath(setting.slice(0, at + 1))}?`;
  }
  return undefined;
}
