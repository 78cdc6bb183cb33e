/**
 * `agentctl status [--json] [--pending-exit-77] [-v]`: what agentd is doing and why, read over D-Bus.
 * Without a daemon it says so on stderr and shows what the state file knows.
 * Exit codes (systemctl's): 0 running, 3 not running, 77 with --pending-exit-77 when a reboot into a staged
 * update is pending (rpm-ostree's), 2 usage.
 */
import { existsSync } from "node:fs";
import type { AgentState } from "../../agent/state.js";
import { agentStateFile } from "../../agent/store.js";
import { statusView, type StatusView } from "../../agent/view.js";
import { AgentClient } from "../../api/agent-client.js";
import { AgentError } from "../../errors.js";
import { systemBusAddress } from "../../host/dbus.js";
import { resolveTimeZone } from "../../strategy/windows/index.js";
import { parseCommandArgs } from "../args.js";
import type { CliContext } from "../context.js";
import { renderStatus, statusJson } from "../render/status.js";

export const summary = "show what agentd is doing: state, staged update, why a reboot waits, last check and errors";

const USAGE = `usage: agentctl [--root DIR] status [--json] [--pending-exit-77] [-v]

  -v, --verbose       full payloads, the denylist entries, when the state last changed
  --json              the status document (format_version 1)
  --pending-exit-77   exit 77 when a reboot into a staged update is pending

exit: 0 agentd is running, 3 it is not (the state file is shown), 77 see --pending-exit-77
`;

export const EXIT_NOT_RUNNING = 3;
export const EXIT_PENDING_REBOOT = 77;

export async function run(args: string[], ctx: CliContext): Promise<number> {
  const options = parseOptions(args);
  if (options === "help") {
    ctx.stdout(USAGE);
    return 0;
  }
  const live = await queryDaemon(ctx.env);
  const disk = await readStateReadOnly(ctx.root);
  if (!live) ctx.stderr("agentctl: agentd is not running; showing what the state file knows\n");
  if (disk.warning) ctx.stderr(`agentctl: warning: ${disk.warning.describe()}\n`);
  const view = live ?? statusView(disk.state, { strategy: "unknown" }, "not-running");

  if (options.json) {
    ctx.stdout(`${JSON.stringify(statusJson(view), null, 2)}\n`);
  } else {
    ctx.stdout(
      renderStatus({ view, boot: disk.state.boot, lastHealth: disk.state.last_health, now: new Date(), zone: localZone(ctx.root), verbose: options.verbose }),
    );
  }
  // Without agentd nobody vouches for the state file's "staged", so "not running" wins over 77.
  if (!live) return EXIT_NOT_RUNNING;
  return options.pendingExit77 && view.pending_reboot ? EXIT_PENDING_REBOOT : 0;
}

interface StatusOptions {
  json: boolean;
  verbose: boolean;
  pendingExit77: boolean;
}

function parseOptions(args: string[]): StatusOptions | "help" {
  const { values } = parseCommandArgs("status", {
    args,
    strict: true,
    allowPositionals: false,
    options: {
      json: { type: "boolean", default: false },
      verbose: { type: "boolean", short: "v", default: false },
      "pending-exit-77": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help";
  return { json: values.json, verbose: values.verbose, pendingExit77: values["pending-exit-77"] };
}

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
