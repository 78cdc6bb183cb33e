/**
 * Health checks: which directories hold them, and running them into a HealthReport.
 *
 * update-agent's own directories come first, then greenboot's (/usr/lib before /etc, as greenboot orders them)
 * when `greenbootDirs` is on. Every directory runs; the same file name in two directories runs twice.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { runParts, type OutputStream, type PartResult, type PartsDir } from "../host/run-parts.js";
import { systemClock, type Clock } from "../host/clock.js";
import { GREENBOOT_CONF, parseGreenbootConf } from "./greenboot-conf.js";
import { healthVerdict, type HealthReport } from "./report.js";

export interface CheckDirs {
  required: PartsDir[];
  wanted: PartsDir[];
  green: PartsDir[];
  red: PartsDir[];
}

export interface CheckDirOptions {
  /** Also run greenboot's check, green.d and red.d directories, with greenboot's rules. */
  greenbootDirs: boolean;
  /** greenboot.conf's DISABLED_HEALTHCHECKS: skipped in greenboot's check directories, as greenboot does. */
  greenbootDisabled?: readonly string[];
}

/** Pure: the ordered directory sets under `root` (`/` on a node, a temp dir in tests). */
export function checkDirs(root: string, opts: CheckDirOptions): CheckDirs {
  const ours = (sub: string): PartsDir => ({ path: join(root, "etc/update-agent", sub) });
  const greenboot = (sub: string, withDisabled: boolean): PartsDir[] => {
    if (!opts.greenbootDirs) return [];
    const disabled =
      withDisabled && opts.greenbootDisabled && opts.greenbootDisabled.length > 0
        ? { names: opts.greenbootDisabled, source: `/${GREENBOOT_CONF} (DISABLED_HEALTHCHECKS)` }
        : undefined;
    return ["usr/lib/greenboot", "etc/greenboot"].map((base) => ({
      path: join(root, base, sub),
      greenboot: true,
      ...(disabled ? { disabled } : {}),
    }));
  };
  return {
    required: [ours("check/required.d"), ...greenboot("check/required.d", true)],
    wanted: [ours("check/wanted.d"), ...greenboot("check/wanted.d", true)],
    green: [ours("green.d"), ...greenboot("green.d", false)],
    red: [ours("red.d"), ...greenboot("red.d", false)],
  };
}

export interface RunChecksOptions {
  root: string;
  greenbootDirs: boolean;
  /** Per check. A check that hangs is killed and counts as failed. */
  timeoutMs: number;
  env: Record<string, string>;
  onLine?: (name: string, stream: OutputStream, line: string) => void;
  signal?: AbortSignal;
  clock?: Clock;
  killGraceMs?: number;
  tailLines?: number;
}

/** Environment variable telling a script which set it runs in: required, wanted, green or red. */
export const PHASE_VARIABLE = "UPDATE_AGENT_HEALTH_PHASE";

/**
 * Runs every required check, then every wanted check (all of them, even after a failure, so the report names
 * every failing check), and returns the verdict.
 */
export async function runHealthChecks(opts: RunChecksOptions): Promise<HealthReport> {
  const clock = opts.clock ?? systemClock;
  const startedAt = clock.now().toISOString();
  const warnings: string[] = [];
  const disabled = opts.greenbootDirs ? await readGreenbootDisabled(opts.root, warnings) : [];
  const dirs = checkDirs(opts.root, { greenbootDirs: opts.greenbootDirs, greenbootDisabled: disabled });
  const required = await runParts(partsOptions(opts, dirs.required, "required"));
  const wanted = await runParts(partsOptions(opts, dirs.wanted, "wanted"));
  for (const name of disabled) {
    const found = [...required, ...wanted].some((p) => p.name === name && p.skipped !== null);
    if (!found) warnings.push(`DISABLED_HEALTHCHECKS in /${GREENBOOT_CONF} names ${name}, which is not a health check (misspelled?)`);
  }
  return {
    verdict: healthVerdict(required, wanted),
    required,
    wanted,
    startedAt,
    finishedAt: clock.now().toISOString(),
    warnings,
  };
}

/** Runs green.d after a boot was found healthy. Failures are reported, never acted on. */
export function runGreen(opts: RunChecksOptions): Promise<PartResult[]> {
  return runParts(partsOptions(opts, checkDirs(opts.root, opts).green, "green"));
}

/** Runs red.d after a boot was found unhealthy, before any reboot or rollback. */
export function runRed(opts: RunChecksOptions): Promise<PartResult[]> {
  return runParts(partsOptions(opts, checkDirs(opts.root, opts).red, "red"));
}

function partsOptions(opts: RunChecksOptions, dirs: PartsDir[], phase: string) {
  return {
    dirs,
    timeoutMs: opts.timeoutMs,
    env: { ...opts.env, [PHASE_VARIABLE]: phase },
    ...(opts.onLine ? { onLine: opts.onLine } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.killGraceMs !== undefined ? { killGraceMs: opts.killGraceMs } : {}),
    ...(opts.tailLines !== undefined ? { tailLines: opts.tailLines } : {}),
  };
}

async function readGreenbootDisabled(root: string, warnings: string[]): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(join(root, GREENBOOT_CONF), "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "ENOENT") warnings.push(`cannot read /${GREENBOOT_CONF} (${code ?? String(e)}); no greenboot check is disabled`);
    return [];
  }
  const conf = parseGreenbootConf(text);
  for (const problem of conf.problems) warnings.push(`/${GREENBOOT_CONF} ${problem}`);
  return conf.disabledHealthchecks;
}
