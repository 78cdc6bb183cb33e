/**
 * `agentctl health [--run] [-v] [--json]`: the boot verification and the last health-check run agentd recorded,
 * check by check; `--run` runs the checks now (as root), for the admin only: it never changes the boot verdict.
 * Exit codes: 0 healthy, degraded or not run yet, 1 a required check failed (or --run without root), 2 usage.
 */
import { loadConfig } from "../../config/index.js";
import { runHealthChecks } from "../../health/checks.js";
import type { HealthReport } from "../../health/report.js";
import { parseCommandArgs } from "../args.js";
import { jsonText, warn, type CliContext } from "../context.js";
import { localZone, readStateReadOnly } from "../node-files.js";
import { renderHealthPage } from "../render/health.js";

export const summary = "show the last health-check results and boot verification, or run the checks now (--run)";

const USAGE = `usage: agentctl [--root DIR] health [--run] [-v] [--json]

  --run           run the required and wanted checks now (root only); the boot verdict is not changed
  -v, --verbose   show the output of passing checks too (failing ones always show it)
  --json          { format_version, ran_now, health, boot }

exit: 0 healthy, degraded or not run yet, 1 a required check failed, 2 usage
`;

export const HEALTH_FORMAT_VERSION = 1;

export interface HealthDeps {
  /** process.getuid; undefined where there are no uids. */
  getuid: () => number | undefined;
}

export function run(args: string[], ctx: CliContext): Promise<number> {
  return runHealth(args, ctx, { getuid: () => process.getuid?.() });
}

export async function runHealth(args: string[], ctx: CliContext, deps: HealthDeps): Promise<number> {
  const options = parseOptions(args);
  if (options === "help") {
    ctx.stdout(USAGE);
    return 0;
  }
  const disk = await readStateReadOnly(ctx.root);
  if (disk.warning) warn(ctx, disk.warning);

  let report: HealthReport | undefined = disk.state.last_health;
  if (options.run) {
    if (deps.getuid() !== 0) {
      ctx.stderr("agentctl: health --run must be run as root: agentd runs the checks as root, and as another user they fail for the wrong reasons\n");
      return 1;
    }
    report = await runChecksNow(ctx);
  }

  const boot = disk.state.boot;
  if (options.json) {
    ctx.stdout(jsonText({ format_version: HEALTH_FORMAT_VERSION, ran_now: options.run, health: report ?? null, boot: boot ?? null }));
  } else {
    ctx.stdout(renderHealthPage({ report, boot, now: new Date(), zone: localZone(ctx.root), verbose: options.verbose, ranNow: options.run }));
  }
  return report?.verdict === "unhealthy" ? 1 : 0;
}

async function runChecksNow(ctx: CliContext): Promise<HealthReport> {
  // A config error propagates: main prints the loader's message and exits 1.
  const { settings, warnings } = await loadConfig({ root: ctx.root });
  for (const warning of warnings) warn(ctx, warning);
  if (!settings.health.enabled) ctx.stderr("agentctl: note: health.enabled is false, so agentd itself does not run these checks\n");
  return runHealthChecks({
    root: ctx.root,
    greenbootDirs: settings.health.greenboot_dirs,
    timeoutMs: settings.health.check_timeout_secs * 1000,
    // As under systemd: no variables from the admin's shell, so a check behaves as it does at boot.
    env: {},
  });
}

interface HealthOptions {
  run: boolean;
  verbose: boolean;
  json: boolean;
}

function parseOptions(args: string[]): HealthOptions | "help" {
  const { values } = parseCommandArgs("health", {
    args,
    strict: true,
    allowPositionals: false,
    options: {
      run: { type: "boolean", default: false },
      verbose: { type: "boolean", short: "v", default: false },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help";
  return { run: values.run, verbose: values.verbose, json: values.json };
}
