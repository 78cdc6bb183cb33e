/**
 * `agentctl status [--json] [--pending-exit-77] [-v]`: what agentd is doing and why, read over D-Bus.
 * Without a daemon it says so on stderr and shows what the state file knows.
 * Exit codes (systemctl's): 0 running, 3 not running, 77 with --pending-exit-77 when a reboot into a staged
 * update is pending (rpm-ostree's), 2 usage.
 */
import { statusView } from "../../agent/view.js";
import { parseCommandArgs } from "../args.js";
import { jsonText, warn, type CliContext } from "../context.js";
import { EXIT_NOT_RUNNING, queryDaemon } from "../daemon.js";
import { localZone, readStateReadOnly } from "../node-files.js";
import { renderStatus, statusJson } from "../render/status.js";

export const summary = "show what agentd is doing: state, staged update, why a reboot waits, last check and errors";

const USAGE = `usage: agentctl [--root DIR] status [--json] [--pending-exit-77] [-v]

  -v, --verbose       full payloads, the denylist entries, when the state last changed
  --json              the status document (format_version 1)
  --pending-exit-77   exit 77 when a reboot into a staged update is pending

exit: 0 agentd is running, 3 it is not (the state file is shown), 77 see --pending-exit-77
`;

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
  if (disk.warning) warn(ctx, disk.warning);
  const view = live ?? statusView(disk.state, { strategy: "unknown" }, "not-running");

  if (options.json) {
    ctx.stdout(jsonText(statusJson(view)));
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
