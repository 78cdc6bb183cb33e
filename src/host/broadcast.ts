/**
 * Warning logged-in users before a reboot, wall(1)-style: the same text Zincati writes (with
 * "update-agent" as the sender), appended to each session's terminal device.
 */
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { AgentError } from "../errors.js";
import type { Logger } from "./log.js";
import type { InteractiveSession } from "./logind.js";

export const BROADCAST_SENDER = "update-agent";

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/** `1 second`, `2 seconds`, `1 minute`, `1 minute and 1 second`, `42 minutes and 23 seconds`. */
export function formatDuration(totalSeconds: number): string {
  const secs = Math.max(0, Math.round(totalSeconds));
  const minutes = Math.floor(secs / 60);
  const seconds = secs % 60;
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"}`;
  if (minutes === 0) return plural(seconds, "second");
  if (seconds === 0) return plural(minutes, "minute");
  return `${plural(minutes, "minute")} and ${plural(seconds, "second")}`;
}

/** strftime `%a %Y-%m-%d %H:%M:%S %Z` in UTC: `Fri 2021-05-14 20:48:42 UTC`. */
export function formatBroadcastTime(now: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return (
    `${WEEKDAYS[now.getUTCDay()]} ${now.getUTCFullYear()}-${pad(now.getUTCMonth() + 1)}-${pad(now.getUTCDate())} ` +
    `${pad(now.getUTCHours())}:${pad(now.getUTCMinutes())}:${pad(now.getUTCSeconds())} UTC`
  );
}

/** The whole message, starting with an empty line so it stands apart from whatever is on screen. */
export function formatBroadcast(version: string, remainingSecs: number, now: Date): string {
  return [
    "",
    `Broadcast message from ${BROADCAST_SENDER} at ${formatBroadcastTime(now)}:`,
    `New update ${version} is available and has been deployed.`,
    `If permitted by the update strategy, ${BROADCAST_SENDER} will reboot into this update when`,
    `all interactive users have logged out, or in ${formatDuration(remainingSecs)}, whichever comes`,
    "earlier. Please log out of all active sessions in order to let the auto-update",
    "process continue.",
    "",
  ].join("\n");
}

export interface BroadcastOptions {
  /** Root prefix for node paths; terminals are `<root>/dev/<tty>`. */
  root: string;
  sessions: readonly InteractiveSession[];
  message: string;
  log: Pick<Logger, "warn" | "error" | "debug">;
}

export interface BroadcastResult {
  /** Interactive sessions we tried to reach. */
  sessions: number;
  /** Sessions whose terminal took the whole message. */
  delivered: number;
  /** One HOST_IO error per terminal that could not be written, `where` = the device. */
  errors: AgentError[];
}

/** A tty name must stay under /dev: `pts/3`, `tty1`, `ttyS0`; never `../etc/passwd`. */
export function isSafeTtyName(tty: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_.-]*(\/[A-Za-z0-9_.-]+)*$/.test(tty) && !tty.split("/").includes("..");
}

/**
 * Appends `message` to each session's terminal (once per terminal, however many sessions share
 * it). Failures are collected, logged and returned; they never stop the other writes.
 */
export async function broadcast(options: BroadcastOptions): Promise<BroadcastResult> {
  const { root, sessions, message, log } = options;
  const outcomeByTty = new Map<string, Promise<AgentError | undefined>>();
  for (const session of sessions) {
    if (!outcomeByTty.has(session.tty)) outcomeByTty.set(session.tty, writeToTerminal(root, session.tty, message));
  }
  const outcomes = new Map<string, AgentError | undefined>();
  for (const [tty, outcome] of outcomeByTty) outcomes.set(tty, await outcome);

  const errors: AgentError[] = [];
  for (const error of outcomes.values()) {
    if (!error) continue;
    errors.push(error);
    log.error(error.message, { where: error.where });
  }
  const delivered = sessions.filter((s) => outcomes.get(s.tty) === undefined).length;
  if (delivered !== sessions.length) {
    log.warn(`${sessions.length} interactive sessions found, but only broadcasted to ${delivered}`);
  } else {
    log.debug("broadcast delivered", { sessions: delivered });
  }
  return { sessions: sessions.length, delivered, errors };
}

/**
 * A plain append, like wall: no O_CREAT (a missing device must not become a file under /dev),
 * O_NOCTTY (never become our controlling terminal), O_NONBLOCK (a terminal paused with Ctrl-S
 * must not hang the agent loop; it just misses the message).
 */
async function writeToTerminal(root: string, tty: string, message: string): Promise<AgentError | undefined> {
  const path = join(root, "dev", tty);
  const failed = (why: string, cause?: unknown) =>
    new AgentError("HOST_IO", `failed to write to ${path}: ${why}`, {
      where: path,
      hint: "the agent needs write access to terminals (SupplementaryGroups=tty)",
      cause,
    });
  if (!isSafeTtyName(tty)) return failed(`${JSON.stringify(tty)} is not a terminal name`);
  let handle;
  try {
    handle = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_NOCTTY | constants.O_NONBLOCK);
  } catch (e) {
    return failed((e as Error).message, e);
  }
  try {
    const data = Buffer.from(message);
    const { bytesWritten } = await handle.write(data);
    if (bytesWritten !== data.length) return failed(`the terminal took only ${bytesWritten} of ${data.length} bytes`);
    return undefined;
  } catch (e) {
    return failed((e as Error).message, e);
  } finally {
    await handle.close();
  }
}
