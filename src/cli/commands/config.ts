/**
 * `agentctl config show [--json]`: the effective configuration, each value with the fragment it came from.
 * `agentctl config validate [--json] [PATH ...]`: check the root's fragments, or the given files as one set.
 * Exit codes: 0 valid (warnings are printed but do not fail), 1 invalid, 2 usage.
 */
import { AgentError, isAgentError } from "../../errors.js";
import { loadConfig, type LoadedConfig } from "../../config/index.js";
import { renderShow, showJson, SHOW_JSON_VERSION, warningLine } from "../../config/render.js";
import { jsonText, type CliContext } from "../context.js";

export const summary = "show or validate the configuration (config.d fragments)";

const USAGE = "usage: agentctl [--root DIR] config show [--json] | config validate [--json] [PATH ...]";

interface Invalid {
  problems: AgentError[];
  warnings: AgentError[];
  fragments: string[];
}

/** A configuration error from loadConfig carries every problem; anything else is not ours to explain. */
function asInvalid(e: unknown): Invalid {
  if (!isAgentError(e) || !Array.isArray(e.details?.["problems"])) throw e;
  const details = e.details as { problems: AgentError[]; warnings?: AgentError[]; fragments?: string[] };
  return { problems: details.problems, warnings: details.warnings ?? [], fragments: details.fragments ?? [] };
}

async function load(ctx: CliContext, files?: string[]): Promise<LoadedConfig | Invalid> {
  try {
    return await loadConfig({ root: ctx.root, files });
  } catch (e) {
    return asInvalid(e);
  }
}

function reportInvalid(invalid: Invalid, json: boolean, ctx: CliContext): number {
  if (json) {
    const body = {
      format_version: SHOW_JSON_VERSION,
      valid: false,
      fragments: invalid.fragments,
      problems: invalid.problems.map((p) => p.toJSON()),
      warnings: invalid.warnings.map((w) => w.toJSON()),
    };
    ctx.stdout(jsonText(body));
  } else {
    ctx.stderr([...invalid.problems.map((p) => p.describe()), ...invalid.warnings.map(warningLine), ""].join("\n"));
  }
  return 1;
}

function parseFlags(args: string[]): { json: boolean; paths: string[] } {
  const paths: string[] = [];
  let json = false;
  let onlyPaths = false;
  for (const arg of args) {
    if (!onlyPaths && arg === "--json") json = true;
    else if (!onlyPaths && arg === "--") onlyPaths = true;
    else if (!onlyPaths && arg.startsWith("-")) throw new AgentError("USAGE", `unknown option '${arg}'`, { hint: USAGE });
    else paths.push(arg);
  }
  return { json, paths };
}

async function show(args: string[], ctx: CliContext): Promise<number> {
  const { json, paths } = parseFlags(args);
  if (paths.length > 0) throw new AgentError("USAGE", "config show takes no paths", { hint: USAGE });
  const config = await load(ctx);
  if ("problems" in config) return reportInvalid(config, json, ctx);
  ctx.stdout(json ? jsonText(showJson(config)) : renderShow(config));
  return 0;
}

async function validate(args: string[], ctx: CliContext): Promise<number> {
  const { json, paths } = parseFlags(args);
  const config = await load(ctx, paths.length > 0 ? paths : undefined);
  if ("problems" in config) return reportInvalid(config, json, ctx);
  if (json) {
    const body = {
      format_version: SHOW_JSON_VERSION,
      valid: true,
      fragments: config.fragments,
      problems: [],
      warnings: config.warnings.map((w) => w.toJSON()),
    };
    ctx.stdout(jsonText(body));
    return 0;
  }
  if (config.warnings.length > 0) ctx.stderr(`${config.warnings.map(warningLine).join("\n")}\n`);
  const count = config.fragments.length;
  ctx.stdout(`configuration is valid (${count} fragment${count === 1 ? "" : "s"})\n`);
  return 0;
}

export async function run(args: string[], ctx: CliContext): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "show") return show(rest, ctx);
  if (sub === "validate") return validate(rest, ctx);
  if (sub === "--help" || sub === "-h" || sub === "help") {
    ctx.stdout(`${USAGE}\n`);
    return 0;
  }
  throw new AgentError("USAGE", sub === undefined ? "config needs a subcommand" : `unknown config subcommand '${sub}'`, {
    hint: USAGE,
  });
}
