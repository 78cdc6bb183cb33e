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
