/**
 * Who is logged in, and who is holding shutdown back, from systemd-logind over D-Bus. Asked over
 * the bus rather than through `loginctl`, whose JSON changed shape in systemd 254.
 * Each question opens its own short connection: it is asked about once a minute at most, and a
 * fresh connection survives logind or dbus restarts between questions.
 */
import { DBusError, Message, type MessageBus } from "@jellybrick/dbus-next";
import { AgentError } from "../errors.js";
import { connectSystemBus, plain } from "./dbus.js";

export interface InteractiveSession {
  id: string;
  user: string;
  /** As logind reports it, e.g. `pts/0` or `tty1` (a device under /dev). */
  tty: string;
}

export interface BlockInhibitor {
  /** Colon-separated, e.g. `shutdown:sleep`. */
  what: string;
  who: string;
  why: string;
  mode: string;
  uid: number;
  pid: number;
}

/** What the agent loop needs to know about people and programs on the node before rebooting it. */
export interface SessionWatcher {
  listInteractiveSessions(): Promise<InteractiveSession[]>;
  /** Inhibitors that block shutdown (`what` includes `shutdown`, mode `block`). */
  listBlockInhibitors(): Promise<BlockInhibitor[]>;
  /** A plain `systemctl reboot` through logind (polkit: org.freedesktop.login1.reboot). */
  reboot(): Promise<void>;
}

export interface LogindOptions {
  env: NodeJS.ProcessEnv;
  /** Per question; D-Bus's own default reply timeout is 25 s. */
  timeoutMs?: number;
}

const LOGIND = "org.freedesktop.login1";
const MANAGER_PATH = "/org/freedesktop/login1";
const MANAGER = "org.freedesktop.login1.Manager";
const SESSION = "org.freedesktop.login1.Session";
const PROPERTIES = "org.freedesktop.DBus.Properties";
/** A session listed a moment ago may be gone when we ask about it; that is not an error. */
const SESSION_GONE = new Set(["org.freedesktop.DBus.Error.UnknownObject", "org.freedesktop.login1.NoSuchSession", "org.freedesktop.DBus.Error.UnknownMethod"]);

export const LOGIND_TIMEOUT_MS = 25_000;

/** logind's TTY property is "" without a terminal; loginctl's JSON has said null and "n/a" too. */
export function hasTty(tty: unknown): tty is string {
  return typeof tty === "string" && tty !== "" && tty !== "n/a";
}

/**
 * A person at a terminal: a TTY, a user-class session (not a greeter or lock screen sitting on
 * tty1), and not already closing (logged out, with processes lingering).
 */
export function isInteractive(properties: Record<string, unknown>): boolean {
  const sessionClass = typeof properties.Class === "string" ? properties.Class : "";
  const userClass = sessionClass === "" || sessionClass.startsWith("user");
  return hasTty(properties.TTY) && userClass && properties.State !== "closing";
}

export function blocksShutdown(inhibitor: Pick<BlockInhibitor, "what" | "mode">): boolean {
  return inhibitor.mode === "block" && inhibitor.what.split(":").includes("shutdown");
}

export function createLogindWatcher(options: LogindOptions): SessionWatcher {
  const timeoutMs = options.timeoutMs ?? LOGIND_TIMEOUT_MS;
  return {
    listInteractiveSessions: () =>
      withLogind(options.env, timeoutMs, async (call) => {
        const rows = (await call(MANAGER_PATH, MANAGER, "ListSessions")) as unknown[][];
        const sessions: InteractiveSession[] = [];
        for (const [id, _uid, user, _seat, path] of rows) {
          let properties: Record<string, unknown>;
          try {
            properties = (await call(String(path), PROPERTIES, "GetAll", "s", [SESSION])) as Record<string, unknown>;
          } catch (e) {
            if (e instanceof DBusError && SESSION_GONE.has(e.type)) continue;
            throw e;
          }
          if (isInteractive(properties)) sessions.push({ id: String(id), user: String(user), tty: String(properties.TTY) });
        }
        return sessions;
      }),
    listBlockInhibitors: () =>
      withLogind(options.env, timeoutMs, async (call) => {
        const rows = (await call(MANAGER_PATH, MANAGER, "ListInhibitors")) as unknown[][];
        return rows
          .map(([what, who, why, mode, uid, pid]) => ({
            what: String(what),
            who: String(who),
            why: String(why),
            mode: String(mode),
            uid: Number(uid),
            pid: Number(pid),
          }))
          .filter(blocksShutdown);
      }),
    reboot: () =>
      withLogind(options.env, timeoutMs, async (call) => {
        await call(MANAGER_PATH, MANAGER, "Reboot", "b", [false]);
      }),
  };
}

type Call = (path: string, iface: string, member: string, signature?: string, body?: unknown[]) => Promise<unknown>;

/**
 * Runs `ask` on a fresh system-bus connection and always closes it. Any failure becomes HOST_IO
 * naming the D-Bus member that was in flight. The library never rejects a call when the
 * connection itself fails (it only emits an error), so that is raced in, with a timeout.
 */
async function withLogind<T>(env: NodeJS.ProcessEnv, timeoutMs: number, ask: (call: Call) => Promise<T>): Promise<T> {
  let member = `${MANAGER}.ListSessions`;
  let connectionFailed!: (error: Error) => void;
  const failure = new Promise<never>((_, reject) => (connectionFailed = reject));
  failure.catch(() => {});
  let bus: MessageBus | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    bus = connectSystemBus(env, (e) => connectionFailed(e));
    const call: Call = async (path, iface, name, signature, body) => {
      member = `${iface}.${name}`;
      const reply = await bus!.call(
        new Message({ destination: LOGIND, path, interface: iface, member: name, ...(signature ? { signature, body } : {}) }),
      );
      return plain(reply?.body[0]);
    };
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no reply from logind in ${timeoutMs / 1000} s`)), timeoutMs);
    });
    return await Promise.race([ask(call), failure, timeout]);
  } catch (e) {
    throw logindError(e, member);
  } finally {
    clearTimeout(timer);
    try {
      bus?.disconnect();
    } catch {
      // Already gone; nothing left to close.
    }
  }
}

function logindError(e: unknown, member: string): AgentError {
  if (e instanceof DBusError) {
    const absent = e.type === "org.freedesktop.DBus.Error.ServiceUnknown" || e.type === "org.freedesktop.DBus.Error.NameHasNoOwner";
    return new AgentError("HOST_IO", absent ? "systemd-logind is not running" : `logind refused: ${e.text || e.type}`, {
      where: member,
      hint: absent ? "start it: systemctl start systemd-logind" : undefined,
      details: { dbusError: e.type },
      cause: e,
    });
  }
  const message = e instanceof Error ? e.message : String(e);
  return new AgentError("HOST_IO", `cannot ask logind: ${message}`, {
    where: member,
    hint: "is the system bus running? (DBUS_SYSTEM_BUS_ADDRESS overrides its address)",
    cause: e,
  });
}
