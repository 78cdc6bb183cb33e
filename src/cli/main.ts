import { AgentError, isAgentError } from "../errors.js";
import type { CliContext, CommandModule } from "./context.js";

/** Subcommands, loaded on demand so `agentctl status` does not pay for the graph code. */
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  plan: () => import("./commands/plan.js"),
  config: () => import("./commands/config.js"),
  windows: () => import("./commands/windows.js"),
  status: () => import("./commands/status.js"),
  check: () => import("./commands/control.js").then((m) => m.check),
  "apply-now": () => import("./commands/control.js").then((m) => m.applyNow),
  pause: () => import("./commands/control.js").then((m) => m.pause),
  resume: () => import("./commands/control.js").then((m) => m.resume),
  denylist: () => import("./commands/denylist.js"),
  health: () => import("./commands/health.js"),
  lock: () => import("./commands/lock.js"),
};

/** Pulls the global `--root DIR` / `--root=DIR` out of argv, wherever it stands. */
export function extractRoot(argv: string[]): { root: string; rest: string[] } {
  let root = "/";
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--root") {
      const value = argv[i + 1];
      if (value === undefined) throw new AgentError("USAGE", "--root needs a directory");
      root = value;
      i++;
    } else if (a.startsWith("--root=")) {
      root = a.slice("--root=".length);
    } else {
      rest.push(a);
    }
  }
  return { root, rest };
}

async function usage(): Promise<string> {
  const names = Object.keys(COMMANDS).sort();
  const width = Math.max(...names.map((n) => n.length));
  const lines = await Promise.all(names.map(async (name) => `  ${name.padEnd(width)}  ${(await COMMANDS[name]!()).summary}`));
  return [
    "usage: agentctl [--root DIR] COMMAND [ARGS...] [--json]",
    "",
    "commands:",
    ...lines,
    "",
    "`agentctl COMMAND --help` for a command's options; docs/agentctl.md for everything.",
    "",
  ].join("\n");
}

export async function main(argv: string[], io: Partial<CliContext> = {}): Promise<number> {
  const stdout = io.stdout ?? ((t: string) => void process.stdout.write(t));
  const stderr = io.stderr ?? ((t: string) => void process.stderr.write(t));
  try {
    const { root, rest } = extractRoot(argv);
    const [name, ...args] = rest;
    if (name === undefined || name === "--help" || name === "-h" || name === "help") {
      stdout(await usage());
      return name === undefined ? 2 : 0;
    }
    const load = COMMANDS[name];
    if (!load) {
      stderr(`agentctl: unknown command '${name}'\n${await usage()}`);
      return 2;
    }
    const command = await load();
    return await command.run(args, { root, stdout, stderr, env: io.env ?? process.env });
  } catch (e) {
    if (isAgentError(e)) {
      stderr(`agentctl: ${e.describe()}\n`);
      return e.code === "USAGE" ? 2 : 1;
    }
    stderr(`agentctl: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
}
