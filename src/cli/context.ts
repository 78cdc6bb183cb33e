import type { AgentError } from "../errors.js";

/** What every `agentctl` subcommand gets: where the node's files are and where to write. */
export interface CliContext {
  /** Root prefix for every node path (`--root DIR`, default `/`). */
  root: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

export interface CommandModule {
  /** One line for `agentctl --help`. */
  summary: string;
  /** Runs the subcommand with its own arguments; resolves to the process exit code. */
  run(args: string[], ctx: CliContext): Promise<number>;
}

/** Every `--json` document is printed the same way: indented by two, one trailing newline. */
export function jsonText(document: unknown): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

/** A problem that does not stop the command (an unusable state file, a config warning), on stderr. */
export function warn(ctx: Pick<CliContext, "stderr">, warning: AgentError): void {
  ctx.stderr(`agentctl: warning: ${warning.describe()}\n`);
}
