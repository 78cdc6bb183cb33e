/**
 * Turning what the D-Bus library throws into AgentErrors an admin can act on, and recognising the
 * few rpm-ostreed replies the adapter handles itself (busy, no reply).
 */
import { DBusError } from "@jellybrick/dbus-next";
import { AgentError } from "../errors.js";

/** GDBus has no registered D-Bus name for GIO errors, so G_IO_ERROR_BUSY (26) travels like this. */
export const GIO_BUSY_ERROR = "org.gtk.GDBus.UnmappedGError.Quark._g_2dio_2derror_2dquark.Code26";
const NO_REPLY_ERROR = "org.freedesktop.DBus.Error.NoReply";

const DAEMON_MISSING = new Set([
  "org.freedesktop.DBus.Error.ServiceUnknown",
  "org.freedesktop.DBus.Error.NameHasNoOwner",
  "org.freedesktop.DBus.Error.Spawn.ChildExited",
  "org.freedesktop.DBus.Error.Spawn.ServiceNotFound",
]);
const DENIED = new Set(["org.freedesktop.DBus.Error.AccessDenied", "org.projectatomic.rpmostreed.Error.NotAuthorized"]);

export function dbusErrorName(error: unknown): string | undefined {
  return error instanceof DBusError ? error.type : undefined;
}

/** Another transaction holds the daemon (rpm-ostree's "Transaction in progress", or ostree/bootc's lock). */
export function isBusyError(error: unknown): boolean {
  if (!(error instanceof DBusError)) return false;
  return error.type === GIO_BUSY_ERROR || /^(System )?transaction in progress/i.test(error.text ?? "");
}

/** The bus gave up waiting: the daemon may have been caught in its idle exit. Worth one more try. */
export function isNoReplyError(error: unknown): boolean {
  return error instanceof DBusError && error.type === NO_REPLY_ERROR;
}

function hintFor(name: string | undefined): string | undefined {
  if (name === undefined) return "check that the system bus is running and reachable";
  if (DAEMON_MISSING.has(name)) return "is rpm-ostree installed? check `systemctl status rpm-ostreed`";
  if (DENIED.has(name)) return "the agent needs root, or polkit rules for the org.projectatomic.rpmostree1 actions";
  if (name === NO_REPLY_ERROR) return "rpm-ostreed did not answer in time (it may be restarting); the agent retries";
  return "see `journalctl -u rpm-ostreed` for the daemon's side";
}

/** Any failure of a D-Bus exchange with rpm-ostreed, as an AgentError whose `where` is the D-Bus member. */
export function fromDBusError(error: unknown, where: string): AgentError {
  if (error instanceof AgentError) return error;
  const name = dbusErrorName(error);
  if (error instanceof DBusError && isBusyError(error)) {
    return new AgentError("DEPLOY_BUSY", `rpm-ostreed is busy: ${error.text ?? error.type}`, {
      where,
      hint: "another rpm-ostree client is running a transaction (see `rpm-ostree status`)",
      details: { dbusError: name },
      cause: error,
    });
  }
  const text = error instanceof DBusError ? (error.text ?? error.type) : error instanceof Error ? error.message : String(error);
  const message = name === undefined ? `D-Bus connection failed: ${text}` : `rpm-ostreed replied ${name}: ${text}`;
  return new AgentError("DEPLOY_DBUS", message, {
    where,
    hint: hintFor(name),
    details: name === undefined ? undefined : { dbusError: name },
    cause: error,
  });
}
