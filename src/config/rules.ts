/**
 * Rules that span keys, judged on the merged settings. A problem is placed in the fragment that made the rule
 * apply (the one that chose the strategy, say), because that is the file the admin edits to fix it.
 */
import { AgentError } from "../errors.js";
import { WINDOW_KEY } from "./keys.js";
import { DEFAULT_SOURCE, type MergedSettings } from "./merge.js";

export interface RuleFindings {
  problems: AgentError[];
  warnings: AgentError[];
}

const LOCK_STRATEGIES: readonly string[] = ["fleet_lock", "etcd_lock"];
const NEEDS_WINDOW = "needs at least one window with days or a cron schedule";
const FLEET_LOCK_HINT = 'e.g. base_url = "https://fleet-lock.example.com/" under [updates.fleet_lock]';
const ETCD_HINT = 'e.g. endpoints = ["https://etcd-0.example.com:2379"] under [updates.etcd_lock]';

/** `tainted`: keys with a bad value in some fragment; rules over them would judge what is left, so they wait. */
export function checkRules({ settings, sources }: MergedSettings, tainted: readonly string[] = []): RuleFindings {
  const findings: RuleFindings = { problems: [], warnings: [] };
  const related = (key: string, t: string) =>
    key === t || key.startsWith(`${t}.`) || t.startsWith(`${key}.`) || t.startsWith(`${key}[`);
  const touches = (keys: string[]) => keys.some((key) => tainted.some((t) => related(key, t)));
  const at = (anchor: string, key: string) => `${sources[anchor] ?? DEFAULT_SOURCE}: ${key}`;
  const problem = (deps: string[], anchor: string, key: string, message: string, hint?: string) => {
    if (touches(deps)) return;
    findings.problems.push(new AgentError("CONFIG_INVALID", message, { where: at(anchor, key), hint }));
  };
  const warning = (deps: string[], anchor: string, key: string, message: string) => {
    if (!touches(deps)) findings.warnings.push(new AgentError("CONFIG_NO_EFFECT", message, { where: at(anchor, key) }));
  };

  const { strategy, lock_only_in_windows: lockOnlyInWindows, fleet_lock: fleetLock, etcd_lock: etcd } = settings.updates;
  const windows = settings.updates.periodic.window;
  const hasSchedule = windows.some((w) => w.kind === "cron" || w.days.length > 0);
  const STRATEGY = "updates.strategy";
  const LOCK_ONLY = "updates.lock_only_in_windows";

  if (strategy === "fleet_lock" && fleetLock.base_url === undefined) {
    const key = "updates.fleet_lock.base_url";
    problem([STRATEGY, key], STRATEGY, key, 'is required when updates.strategy is "fleet_lock"', FLEET_LOCK_HINT);
  }
  if (strategy === "etcd_lock" && etcd.endpoints.length === 0) {
    const key = "updates.etcd_lock.endpoints";
    problem([STRATEGY, key], STRATEGY, key, 'needs at least one http(s) URL when updates.strategy is "etcd_lock"', ETCD_HINT);
  }
  if (strategy === "periodic" && !hasSchedule) {
    problem([STRATEGY, WINDOW_KEY], STRATEGY, WINDOW_KEY, `${NEEDS_WINDOW} when updates.strategy is "periodic"`);
  }
  if (lockOnlyInWindows && !hasSchedule) {
    problem([LOCK_ONLY, WINDOW_KEY], LOCK_ONLY, WINDOW_KEY, `${NEEDS_WINDOW} when updates.lock_only_in_windows is true`);
  }
  if (lockOnlyInWindows && !LOCK_STRATEGIES.includes(strategy)) {
    warning([LOCK_ONLY, STRATEGY], LOCK_ONLY, LOCK_ONLY, 'has no effect unless updates.strategy is "fleet_lock" or "etcd_lock"');
  }
  if (windows.length > 0 && strategy !== "periodic" && !(lockOnlyInWindows && LOCK_STRATEGIES.includes(strategy))) {
    const message = 'has no effect unless updates.strategy is "periodic", or a lock strategy with updates.lock_only_in_windows = true';
    warning([STRATEGY, LOCK_ONLY, WINDOW_KEY], WINDOW_KEY, WINDOW_KEY, message);
  }
  const pair = (firstKey: string, first: unknown, secondKey: string, second: unknown) => {
    const deps = [firstKey, secondKey];
    if (first !== undefined && second === undefined) problem(deps, firstKey, secondKey, `is required with ${firstKey}`);
    if (first === undefined && second !== undefined) problem(deps, secondKey, firstKey, `is required with ${secondKey}`);
  };
  pair("updates.etcd_lock.cert_file", etcd.cert_file, "updates.etcd_lock.key_file", etcd.key_file);
  pair("updates.etcd_lock.username", etcd.username, "updates.etcd_lock.password_file", etcd.password_file);
  return findings;
}
