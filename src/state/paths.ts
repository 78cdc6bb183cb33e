import { join } from "node:path";

/** Where the agent keeps what it remembers across restarts, relative to the filesystem root. */
export const STATE_PATH = "var/lib/update-agent/state.json";

export function statePath(root: string): string {
  return join(root, STATE_PATH);
}
