import { isAgentError } from "../errors.js";
import type { ErrorRecord } from "./state.js";

/** The admin-readable line for any error: an AgentError's description, else its message. */
export function describeError(e: unknown): string {
  if (isAgentError(e)) return e.describe();
  return e instanceof Error ? e.message : String(e);
}

/** An error as the state file and status keep it: code, the admin-readable line, when. */
export function errorRecord(e: unknown, now: Date): ErrorRecord {
  return { code: isAgentError(e) ? e.code : "INTERNAL", message: describeError(e), at: now.toISOString() };
}
