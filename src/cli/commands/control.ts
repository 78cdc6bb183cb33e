/**
 * `agentctl check | apply-now | pause | resume [--json]`: ask the running agentd to do something, over its D-Bus API.
 * Exit codes: 0 done, 1 refused (not root: agentd takes these calls from root only) or failed, 2 usage,
 * 3 agentd is not running (as `agentctl status`).
 */
import { Duration, DateTime } from "luxon";
import type { StatusView } from "../../agent/view.js";
import { AgentClient } from "../../api/agent-client.js";
import { isAgentError } from "../../errors.js";
import { parseCommandArgs, usageError } from "../args.js";
import { jsonText, type CliContext, type CommandModule } from "../context.js";
import { busSocketMissing, EXIT_NOT_RUNNING } from "../daemon.js";
import { localZone } from "../node-files.js";
import { timeInWords } from "../render/words.js";

export const CONTROL_FORMAT_VERSION = 1;

type Member = "CheckNow" | "ApplyNow" | "PauseUntil" | "Resume";

interface ControlOptions {
  json: boolean;
  help: boolean;
  until: string | undefined;
  for: string | undefined;
}

function parseControlArgs(name: string, args: readonly string[], pauseOptions: boolean): ControlOptions {
  const { values } = parseCommandArgs(name, {
    args: [...args],
    strict: true,
    allowPositionals: false,
    options: {
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
      ...(pauseOptions ? { until: { type: "string" as const }, for: { type: "string" as const } } : {}),
    },
  });
  const text = (v: unknown) => (typeof v === "string" ? v : undefined);
  return { json: values.json === true, help: values.help === true, until: text(values.until), for: text(values.for) };
}

/**
 * Makes one D-Bus call after making sure agentd is there (so "not running" is exit 3, never a timeout), and turns
 * a refusal into a clear message. Resolves to the status agentd reported before the call, or to an exit code.
 */
async function callDaemon(ctx: CliContext, member: Member, body?: { signature: string; body: unknown[] }): Promise<StatusView | number> {
  // One connection for both calls; no socket means no agentd (as queryDaemon decides).
  const client = busSocketMissing(ctx.env) ? undefined : AgentClient.connect(ctx.env);
  try {
    const view = await client?.status();
    if (!client || !view) {
      ctx.stderr("agentctl: agentd is not running, so there is nothing to ask (start it with: systemctl start update-agent)\n");
      return EXIT_NOT_RUNNING;
    }
    await client.control(member, body);
    return view;
  } catch (e) {
    if (isAgentError(e) && e.code === "PERMISSION_DENIED") {
      ctx.stderr(`agentctl: must be run as root: agentd accepts ${member} from root only (${e.message})\n`);
      return 1;
    }
    throw e;
  } finally {
    client?.close();
  }
}

function printJson(ctx: CliContext, action: string, more: Record<string, unknown> = {}): void {
  ctx.stdout(jsonText({ format_version: CONTROL_FORMAT_VERSION, action, ...more }));
}

/** A command that makes one argument-less call and prints a fixed line (check, resume). */
function plainControl(name: string, member: Member, summary: string, doneMessage: string): CommandModule {
  return {
    summary,
    async run(args, ctx) {
      const options = parseControlArgs(name, args, false);
      if (options.help) {
        ctx.stdout(`usage: agentctl ${name} [--json]\n${summary}\n`);
        return 0;
      }
      const done = await callDaemon(ctx, member);
      if (typeof done === "number") return done;
      if (options.json) printJson(ctx, name);
      else ctx.stdout(doneMessage);
      return 0;
    },
  };
}

export const check = plainControl(
  "check",
  "CheckNow",
  "ask agentd to check for an update now, without waiting for its next poll",
  "agentd is checking for an update now; `agentctl status` shows the outcome under 'Last check'.\n",
);

export const applyNow: CommandModule = {
  summary: "reboot into the staged update as soon as the reboot lock allows, skipping maintenance windows",
  async run(args, ctx) {
    const options = parseControlArgs("apply-now", args, false);
    if (options.help) {
      ctx.stdout(`usage: agentctl apply-now [--json]\n${applyNow.summary}\n`);
      return 0;
    }
    const before = await callDaemon(ctx, "ApplyNow");
    if (typeof before === "number") return before;
    if (options.json) printJson(ctx, "apply-now", { state: before.state, target: before.target, forced_reboot: before.state === "staged" });
    else ctx.stdout(applyNowMessage(before));
    return 0;
  },
};

/** What apply-now did, given the state it found: it only forces a reboot when an update is staged. */
export function applyNowMessage(view: StatusView): string {
  if (view.state === "staged" && view.target) {
    return [
      `agentd reboots into ${view.target.version} as soon as it may.`,
      "This skips the maintenance window and the grace period for logged-in users. It still waits for the",
      "reboot lock (fleet strategies), shutdown inhibitors and pre-reboot hooks. `agentctl status` shows what it waits for.",
      "",
    ].join("\n");
  }
  if (view.state === "finalizing" || view.state === "finalized") {
    return `agentd is already rebooting into ${view.target?.version ?? "the staged update"}.\n`;
  }
  return [
    `No update is staged (agentd is ${view.state}), so there is nothing to reboot into: agentd checks for an update now.`,
    "Run `agentctl apply-now` again once `agentctl status` shows it staged.",
    "",
  ].join("\n");
}

const PAUSE_USAGE = `usage: agentctl pause --until TIME | --for DURATION [--json]

  --until TIME      ISO 8601 (2026-12-01T10:00, on the node's clock unless it has an offset) or Unix seconds
  --for DURATION    e.g. 30m, 2h, 1d, 1h30m, 1w, or ISO 8601 (PT2H)

While paused, agentd does not check for, stage or reboot into updates on its own.
\`agentctl check\` still checks once, and \`agentctl resume\` ends the pause early.
`;

export const pause: CommandModule = {
  summary: "stop automatic updates until a time (--until TIME) or for a while (--for 2h)",
  async run(args, ctx) {
    const options = parseControlArgs("pause", args, true);
    if (options.help) {
      ctx.stdout(PAUSE_USAGE);
      return 0;
    }
    const zone = localZone(ctx.root);
    const until = pauseEnd(options, new Date(), zone);
    const done = await callDaemon(ctx, "PauseUntil", { signature: "t", body: [Math.ceil(until.getTime() / 1000)] });
    if (typeof done === "number") return done;
    if (options.json) {
      printJson(ctx, "pause", { paused_until: until.toISOString() });
    } else {
      const when = timeInWords(until.toISOString(), new Date(), zone);
      ctx.stdout(`paused until ${when}: agentd does not check for, stage or reboot into updates on its own until then (\`agentctl resume\` ends it early)\n`);
    }
    return 0;
  },
};

export const resume = plainControl(
  "resume",
  "Resume",
  "end a pause: agentd carries on with automatic updates now",
  "resumed: agentd carries on with automatic updates now\n",
);

/** `agentctl pause`'s arguments → the instant the pause ends; it must lie in the future. */
export function parsePauseUntil(args: readonly string[], now: Date, zone: string): Date {
  return pauseEnd(parseControlArgs("pause", args, true), now, zone);
}

function pauseEnd(options: ControlOptions, now: Date, zone: string): Date {
  if ((options.until === undefined) === (options.for === undefined)) throw pauseUsage("give exactly one of --until TIME or --for DURATION");
  const end = options.until !== undefined ? parseTime(options.until, zone) : new Date(now.getTime() + parseDuration(options.for!));
  if (end.getTime() <= now.getTime()) throw pauseUsage(`the pause would end in the past (${end.toISOString()})`);
  return end;
}

function parseTime(text: string, zone: string): Date {
  if (/^[0-9]+$/.test(text)) return new Date(Number(text) * 1000);
  const parsed = DateTime.fromISO(text, { zone });
  if (!parsed.isValid) throw pauseUsage(`--until: '${text}' is not an ISO 8601 time or Unix seconds`);
  return parsed.toJSDate();
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `1h30m` or ISO 8601 `PT1H30M`, in milliseconds. */
export function parseDuration(text: string): number {
  if (/^P/i.test(text)) {
    const iso = Duration.fromISO(text.toUpperCase());
    if (iso.isValid && iso.toMillis() > 0) return iso.toMillis();
  } else if (/^([0-9]+[smhdw])+$/i.test(text)) {
    let ms = 0;
    for (const [, n, unit] of text.toLowerCase().matchAll(/([0-9]+)([smhdw])/g)) ms += Number(n) * UNIT_MS[unit!]!;
    if (ms > 0) return ms;
  }
  throw pauseUsage(`--for: '${text}' is not a duration like 30m, 2h, 1d, 1h30m or PT2H`);
}

function pauseUsage(message: string) {
  return usageError("pause", message);
}
