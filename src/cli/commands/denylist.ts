/**
 * `agentctl denylist [list] [--json]` and `agentctl denylist remove VERSION|PAYLOAD [--json]`: the releases the
 * agent will not install by itself (failed deploys, failed boots, rollbacks, the fleet's shared list).
 *
 * `remove` edits the state file, and only while agentd is stopped: a running agentd owns that file and rewrites
 * it from memory on every change, so an entry removed behind its back would come back.
 * Exit codes: 0 done, 1 not found / agentd running / the state file cannot be used, 2 usage.
 */
import type { DenylistEntry } from "../../agent/state.js";
import { agentStateFile } from "../../agent/store.js";
import { releaseLabel } from "../../health/record.js";
import { parseCommandArgs, usageError } from "../args.js";
import { jsonText, warn, type CliContext } from "../context.js";
import { queryDaemon } from "../daemon.js";
import { localZone, readStateReadOnly } from "../node-files.js";
import { DENYLIST_FORMAT_VERSION, matchingEntries, renderDenylist } from "../render/denylist.js";
import { release } from "../render/words.js";

export const summary = "list the releases agentd will not install, or remove one (with agentd stopped)";

const USAGE = `usage: agentctl [--root DIR] denylist [list] [--json]
       agentctl [--root DIR] denylist remove VERSION|PAYLOAD [--json]

  list      every entry: payload, version, reason, when and where it came from (the default)
  remove    let the agent install a release again; a version removes every build of it.
            Stop agentd first (systemctl stop update-agent): it owns the state file while it runs.
`;

export async function run(args: string[], ctx: CliContext): Promise<number> {
  const options = parseOptions(args);
  if (options === "help") {
    ctx.stdout(USAGE);
    return 0;
  }
  return options.action === "list" ? list(ctx, options.json) : remove(ctx, options.release, options.json);
}

async function list(ctx: CliContext, json: boolean): Promise<number> {
  // A running agentd's list is the one in force (it may have learned fleet entries since its last save).
  const live = await queryDaemon(ctx.env);
  let entries: DenylistEntry[];
  if (live) {
    entries = live.denylist;
  } else {
    const disk = await readStateReadOnly(ctx.root);
    if (disk.warning) warn(ctx, disk.warning);
    entries = disk.state.denylist;
  }
  if (json) ctx.stdout(jsonText({ format_version: DENYLIST_FORMAT_VERSION, denylist: entries }));
  else ctx.stdout(renderDenylist(entries, new Date(), localZone(ctx.root)));
  return 0;
}

async function remove(ctx: CliContext, target: string, json: boolean): Promise<number> {
  if (await queryDaemon(ctx.env)) {
    ctx.stderr(
      "agentctl: agentd is running and owns the state file: an entry removed now would come back at its next save.\n" +
        "Stop it first (systemctl stop update-agent), run this again, then start it (systemctl start update-agent).\n",
    );
    return 1;
  }
  // Read without side effects first: a refused removal must leave an unusable file where it is, for the admin.
  const disk = await readStateReadOnly(ctx.root);
  if (disk.warning) {
    ctx.stderr(`agentctl: ${disk.warning.describe()}\nNothing was removed.\n`);
    return 1;
  }
  const removed = matchingEntries(disk.state.denylist, target);
  if (removed.length === 0) {
    const known = disk.state.denylist.map(releaseLabel);
    ctx.stderr(`agentctl: '${target}' is not on the denylist (${known.length === 0 ? "the denylist is empty" : `entries: ${known.join(", ")}`})\n`);
    return 1;
  }
  const next = { ...disk.state, denylist: disk.state.denylist.filter((e) => !removed.includes(e)) };
  await agentStateFile(ctx.root).save(next);
  if (json) {
    ctx.stdout(jsonText({ format_version: DENYLIST_FORMAT_VERSION, removed, denylist: next.denylist }));
  } else {
    for (const e of removed) ctx.stdout(`removed ${release(e, true)} from the denylist (was: ${e.reason})\n`);
    ctx.stdout("agentd may install it again once it is started.\n");
    if (removed.some((e) => e.source === "fleet")) {
      ctx.stdout("Note: a fleet entry comes back from the group's shared store unless it is removed there too.\n");
    }
  }
  return 0;
}

type DenylistOptions = { action: "list"; json: boolean } | { action: "remove"; release: string; json: boolean };

function parseOptions(args: string[]): DenylistOptions | "help" {
  const { values, positionals } = parseCommandArgs("denylist", {
    args,
    strict: true,
    allowPositionals: true,
    options: { json: { type: "boolean", default: false }, help: { type: "boolean", short: "h", default: false } },
  });
  if (values.help) return "help";
  const [action = "list", ...rest] = positionals;
  if (action === "list") {
    if (rest.length > 0) throw usage(`list takes no arguments, got '${rest.join(" ")}'`);
    return { action, json: values.json };
  }
  if (action === "remove") {
    if (rest.length !== 1 || rest[0] === "") throw usage("remove needs exactly one VERSION or PAYLOAD");
    return { action, release: rest[0]!, json: values.json };
  }
  throw usage(`unknown action '${action}' (expected list or remove)`);
}

function usage(message: string) {
  return usageError("denylist", message);
}
