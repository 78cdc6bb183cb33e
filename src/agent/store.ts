/** The agent's state file: `<root>/var/lib/update-agent/state.json`, schema-versioned, written atomically. */
import { StateFile, statePath } from "../state/index.js";
import { AgentStateSchema, initialAgentState, STATE_SCHEMA_VERSION, type AgentState } from "./state.js";

export function agentStateFile(root: string, log?: (level: "warn" | "info", msg: string) => void): StateFile<AgentState> {
  return new StateFile<AgentState>({
    path: statePath(root),
    schemaVersion: STATE_SCHEMA_VERSION,
    schema: AgentStateSchema,
    initial: initialAgentState,
    ...(log ? { log } : {}),
  });
}
