import { parseArgs, type ParseArgsConfig } from "node:util";
import { AgentError } from "../errors.js";

/** A usage error for `agentctl COMMAND`: main prints it with a pointer to the command's help and exits 2. */
export function usageError(command: string, message: string): AgentError {
  return new AgentError("USAGE", message, { hint: `see agentctl ${command} --help` });
}

/** node:util's parseArgs, with its complaints (unknown option, missing value) turned into usage errors. */
export function parseCommandArgs<T extends ParseArgsConfig>(command: string, config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (e) {
    throw usageError(command, e instanceof Error ? e.message : String(e));
  }
}
