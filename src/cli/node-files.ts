/** What agentctl reads from the node's own files, without agentd: the state file (read-only) and the wall-clock zone. */
import type { AgentState } from "../agent/state.js";
import { agentStateFile } from "../agent/store.js";
import type { AgentError } from "../errors.js";
import { resolveTimeZone } from "../strategy/windows/index.js";

export interface StateSnapshot {
  state: AgentState;
  /** Why the file could not be used; the state is then the initial one. */
  warning?: AgentError;
}

/**
 * Reads the state file without ever changing it. The agent's own loader moves an unusable file aside;
 * a status command must not, least of all behind a running daemon that owns the file.
 */
export async function readStateReadOnly(root: string): Promise<StateSnapshot> {
  const { state, warnings } = await agentStateFile(root).peek();
  return warnings[0] ? { state, warning: warnings[0] } : { state };
}

/** The node's wall-clock zone; a broken /etc/localtime should not stop status from showing, so UTC then. */
export function localZone(root: string): string {
  try {
    return resolveTimeZone(root, "localtime");
  } catch {
    return "UTC";
  }
}
