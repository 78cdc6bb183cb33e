/**
 * The configuration domain: config.d fragments (Zincati's keys and ours) → validated Settings.
 *
 * loadConfig reads and never writes, so a reload (SIGHUP) can call it again and keep the old settings when it
 * throws. Every problem in every fragment is collected before it throws, in one AgentError.
 */
import { AgentError } from "../errors.js";
import { discoverFragments, explicitFragments, type Discovery } from "./discover.js";
import { checkFragment, type FragmentSettings } from "./fragment.js";
import { mergeFragments } from "./merge.js";
import { parseFragmentText } from "./parse.js";
import { checkRules } from "./rules.js";
import type { Settings } from "./schema.js";

export { CONFIG_DIRS } from "./discover.js";
export { defaultSettings } from "./schema.js";
export type { Settings, Strategy, WindowSettings, CronWindow } from "./schema.js";
export { templateUrl, isTemplated } from "./template.js";
export { WEEKDAYS, type Weekday } from "./values.js";

export interface LoadedConfig {
  settings: Settings;
  /** Dotted key path (`updates.strategy`, `updates.periodic.window[0]`) → fragment file path, or "default". */
  sources: Record<string, string>;
  /** Fragment files applied, in order. */
  fragments: string[];
  /** Unknown keys, ignored files, settings without effect: each names its file (and key). */
  warnings: AgentError[];
}

export interface LoadConfigOptions {
  /** Root prefix of every node path (`--root`), `/` on a node. */
  root: string;
  /** Validate exactly these fragment files (as a set, by the merge rules) instead of the root's directories. */
  files?: string[] | undefined;
}

/**
 * Throws an AgentError coded CONFIG_UNREADABLE, CONFIG_SYNTAX or CONFIG_INVALID; `details.problems` lists every
 * problem as an AgentError whose `where` is `PATH: KEY` (or `PATH:LINE:COLUMN` for syntax errors), and
 * `details.warnings` / `details.fragments` are what a successful load would have returned.
 */
export async function loadConfig(opts: LoadConfigOptions): Promise<LoadedConfig> {
  const discovery = opts.files ? await explicitFragments(opts.root, opts.files) : await discoverFragments(opts.root);
  return assembleConfig(discovery);
}

/** The pure part of loadConfig: fragment texts, in application order → settings, or one error listing all problems. */
export function assembleConfig(discovery: Discovery): LoadedConfig {
  const problems = [...discovery.problems];
  const warnings = [...discovery.warnings];
  const checked: FragmentSettings[] = [];
  for (const { file, format, text } of discovery.fragments) {
    const raw = parseFragmentText(file, format, text);
    if (raw instanceof AgentError) {
      problems.push(raw);
      continue;
    }
    const fragment = checkFragment(file, raw);
    problems.push(...fragment.problems);
    warnings.push(...fragment.warnings);
    checked.push(fragment);
  }
  const merged = mergeFragments(checked);
  const rules = checkRules(merged, checked.flatMap((f) => f.tainted));
  problems.push(...rules.problems);
  warnings.push(...rules.warnings);
  const fragments = discovery.fragments.map((f) => f.file);
  if (problems.length > 0) throw configError(problems, { warnings, fragments });
  return { ...merged, fragments, warnings };
}

/** The most basic problem names the error: a file that cannot be read hides what is wrong inside it. */
const CODE_PRECEDENCE = ["CONFIG_UNREADABLE", "CONFIG_SYNTAX", "CONFIG_INVALID"] as const;

function configError(problems: AgentError[], context: { warnings: AgentError[]; fragments: string[] }): AgentError {
  const details = { problems, ...context };
  if (problems.length === 1) {
    const [only] = problems as [AgentError];
    return new AgentError(only.code, only.message, { where: only.where, hint: only.hint, details });
  }
  const code = CODE_PRECEDENCE.find((c) => problems.some((p) => p.code === c)) ?? "CONFIG_INVALID";
  return new AgentError(code, `${problems.length} configuration problems: ${problems.map((p) => p.describe()).join("; ")}`, {
    hint: "`agentctl config validate` lists them one per line",
    details,
  });
}
