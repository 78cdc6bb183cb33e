import { isAgentError } from "../errors.js";
import type { ErrorRecord } from "./state.js";

/** An error as the state file and status keep it: code, the admin-readable line, when. */
export function errorRecord(e: unknown, now: Date): ErrorRecord {
  if (isAgentError(e)) return { code: e.code, message: e.describe(), at: now.toISOString() };
  return { code: "INTERNAL", message: e instanceof Error ? e.message : String(e), at: now.toISOString() };
}
