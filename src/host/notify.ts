/**
 * sd_notify through the `systemd-notify` CLI: Node cannot send unix datagrams, and the npm addon
 * needs a compiler at install time. One short-lived child per message is cheap at our cadence.
 *
 * Who systemd credits a message to matters. Run as root, `systemd-notify` sends on behalf of its
 * parent (us), so `--no-block` is race-free. Run unprivileged, the message comes from the child's
 * own pid, which systemd can only match to our unit while the child is alive: the blocking form's
 * barrier keeps it alive until systemd has read the message (and needs `NotifyAccess=all`).
 * `--pid` is never passed: it only adds `MAINPID=`, it does not change who is allowed to send.
 */
import { execFile } from "node:child_process";
import { errnoCode } from "../errors.js";
import type { Logger } from "./log.js";

export interface Notifier {
  /** `READY=1`: start-up finished (also ends a reload). */
  ready(): Promise<void>;
  /** `STATUS=<text>`, shown by `systemctl status` and as rpm-ostree's DriverState. */
  status(text: string): Promise<void>;
  /** `WATCHDOG=1`. */
  watchdog(): Promise<void>;
  /** `RELOADING=1` (with `MONOTONIC_USEC=`, which Type=notify-reload needs); send `ready()` when done. */
  reloading(): Promise<void>;
  /** `STOPPING=1`. */
  stopping(): Promise<void>;
  /** `EXTEND_TIMEOUT_USEC=<usec>`, during a legitimately long start or stop step. */
  extendTimeout(usec: number): Promise<void>;
}

export interface NotifierOptions {
  env: NodeJS.ProcessEnv;
  /** Our effective uid; decides between `--no-block` (root) and the barrier form. */
  uid?: number;
  log: Pick<Logger, "debug" | "info" | "warn">;
  /** The CLI to run; tests point it elsewhere. */
  command?: string;
  timeoutMs?: number;
}

export const NOTIFY_TIMEOUT_MS = 5_000;

export const noopNotifier: Notifier = {
  ready: async () => {},
  status: async () => {},
  watchdog: async () => {},
  reloading: async () => {},
  stopping: async () => {},
  extendTimeout: async () => {},
};

/**
 * The environment for every child other than `systemd-notify`: a child that inherited
 * NOTIFY_SOCKET could tell systemd we are ready (or stopping) when we are not; WATCHDOG_* are ours too.
 */
export function childEnv<T extends string | undefined>(env: Readonly<Record<string, T>>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [key, value] of Object.entries(env)) {
    if (key !== "NOTIFY_SOCKET" && !key.startsWith("WATCHDOG_")) out[key] = value;
  }
  return out;
}

/** The arguments for one notification; a pure function of who we are and what we say. */
export function notifyArgs(uid: number, assignments: readonly string[]): string[] {
  return uid === 0 ? ["--no-block", ...assignments] : [...assignments];
}

/** Status text must stay one `KEY=VALUE` line: a newline would start a new assignment. */
export function statusAssignment(text: string): string {
  return `STATUS=${text.replace(/\s*[\r\n]+\s*/g, " ")}`;
}

export function createNotifier(options: NotifierOptions): Notifier {
  const { env, log } = options;
  const socket = env.NOTIFY_SOCKET;
  if (socket === undefined || socket === "") return noopNotifier;

  const uid = options.uid ?? process.getuid?.() ?? -1;
  const command = options.command ?? "systemd-notify";
  const timeoutMs = options.timeoutMs ?? NOTIFY_TIMEOUT_MS;
  const notifyEnv = { ...childEnv(env), NOTIFY_SOCKET: socket };
  let disabled = false;
  let failing = false;
  // One message at a time, in order: RELOADING before READY, the last STATUS wins.
  let queue: Promise<void> = Promise.resolve();

  const deliver = (assignments: string[]) =>
    new Promise<void>((resolve) => {
      if (disabled) return resolve();
      execFile(command, notifyArgs(uid, assignments), { env: notifyEnv, timeout: timeoutMs }, (error, _stdout, stderr) => {
        if (!error) {
          if (failing) log.info("sd_notify messages are accepted again");
          failing = false;
          return resolve();
        }
        if (errnoCode(error) === "ENOENT") {
          disabled = true;
          log.warn(`${command} is not installed; service notifications (readiness, status, watchdog) are disabled`, {
            hint: "install systemd, or run the service with Type=simple and no WatchdogSec",
          });
          return resolve();
        }
        const reason = error.killed
          ? `timed out after ${timeoutMs / 1000} s`
          : stderr.trim() || error.message.split("\n")[0];
        // Repeats (say, every watchdog ping) would flood the journal; say it once per outage.
        const fields = { message: assignments.join(" "), socket };
        if (failing) log.debug(`failed to notify the service manager: ${reason}`, fields);
        else log.warn(`failed to notify the service manager: ${reason}`, fields);
        failing = true;
        resolve();
      });
    });

  const send = (...assignments: string[]): Promise<void> => {
    const next = queue.then(() => deliver(assignments));
    queue = next;
    return next;
  };

  return {
    ready: () => send("READY=1"),
    status: (text) => send(statusAssignment(text)),
    watchdog: () => send("WATCHDOG=1"),
    reloading: () => send("RELOADING=1", `MONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`),
    stopping: () => send("STOPPING=1"),
    extendTimeout: (usec) => send(`EXTEND_TIMEOUT_USEC=${Math.max(0, Math.round(usec))}`),
  };
}

export interface WatchdogOptions {
  env: NodeJS.ProcessEnv;
  notifier: Pick<Notifier, "watchdog">;
  /**
   * The agent loop's own liveness (e.g. "the last tick finished within N intervals"). Never tie
   * this to network reachability, or an outage turns into a restart loop.
   */
  isAlive: () => boolean;
  log: Pick<Logger, "debug" | "notice" | "warn" | "error">;
  /** Our pid, compared with WATCHDOG_PID. */
  pid?: number;
}

/**
 * Pings `WATCHDOG=1` every WATCHDOG_USEC/2 while the loop is alive, so a wedged agent is restarted
 * by systemd. Returns a function that stops the pings. The timer never keeps the process alive.
 */
export function startWatchdog(options: WatchdogOptions): () => void {
  const { env, notifier, isAlive, log } = options;
  const pid = options.pid ?? process.pid;
  const rawUsec = env.WATCHDOG_USEC;
  if (rawUsec === undefined || rawUsec === "") return () => {};
  const usec = Number(rawUsec);
  if (!Number.isSafeInteger(usec) || usec <= 0) {
    log.warn("ignoring WATCHDOG_USEC: not a positive whole number of microseconds", { WATCHDOG_USEC: rawUsec });
    return () => {};
  }
  const watchdogPid = env.WATCHDOG_PID;
  if (watchdogPid !== undefined && watchdogPid !== "" && Number(watchdogPid) !== pid) {
    log.debug("the watchdog belongs to another process; not pinging", { WATCHDOG_PID: watchdogPid, pid });
    return () => {};
  }

  let inFlight = false;
  let withheld = false;
  const tick = () => {
    let alive: boolean;
    try {
      alive = isAlive();
    } catch {
      alive = false;
    }
    if (!alive) {
      if (!withheld) {
        log.error("the agent loop has stopped making progress; withholding watchdog pings so systemd restarts the service");
      }
      withheld = true;
      return;
    }
    if (withheld) log.notice("the agent loop is making progress again; watchdog pings resumed");
    withheld = false;
    // A hung ping must not pile up children behind it.
    if (inFlight) return;
    inFlight = true;
    void notifier.watchdog().finally(() => (inFlight = false));
  };

  const intervalMs = Math.max(1, Math.floor(usec / 2 / 1000));
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  tick();
  return () => clearInterval(timer);
}
