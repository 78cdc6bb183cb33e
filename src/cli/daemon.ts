/** Whether agentd is on the system bus, and its status document when it is; shared by the commands that ask it. */
import { existsSync } from "node:fs";
import type { StatusView } from "../agent/view.js";
import { AgentClient } from "../api/agent-client.js";
import { systemBusAddress } from "../host/dbus.js";

/** systemctl's "not running": `agentctl status` without a daemon, and the control commands with nobody to ask. */
export const EXIT_NOT_RUNNING = 3;

/**
 * The running daemon's status, or undefined when agentd is not on the bus. A system bus whose socket does not
 * exist has no agentd on it; asking would only wait for the client's timeout.
 */
export async function queryDaemon(env: NodeJS.ProcessEnv): Promise<StatusView | undefined> {
  if (busSocketMissing(env)) return undefined;
  const client = AgentClient.connect(env);
  try {
    return await client.status();
  } finally {
    client.close();
  }
}

/** True when every address of the system bus is a `unix:path=` socket that does not exist. */
export function busSocketMissing(env: NodeJS.ProcessEnv, exists: (path: string) => boolean = existsSync): boolean {
  const addresses = systemBusAddress(env).split(";").filter((a) => a.trim() !== "");
  return addresses.every((address) => {
    const path = /^unix:(?:.*,)?path=([^,]+)/.exec(address.trim())?.[1];
    return path !== undefined && !exists(decodeURIComponent(path));
  });
}
