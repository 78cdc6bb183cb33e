#!/usr/bin/python3
"""A systemd-logind double for tests, on a private bus (GDBus, so the wire format is a real one).

Usage: logind-double.py BUS_ADDRESS STATE_JSON

Owns org.freedesktop.login1 and exports
  /org/freedesktop/login1                 org.freedesktop.login1.Manager
      ListSessions() -> a(susso)          (id, uid, user, seat, object path)
      ListInhibitors() -> a(ssssuu)       (what, who, why, mode, uid, pid)
  /org/freedesktop/login1/session/<id>    org.freedesktop.login1.Session
      properties Id, Name, TTY, Type, Class, Remote, State, Active, Service (read-only)

STATE_JSON is {"sessions": [{"id", "uid", "user", "seat"?, "tty"?, "type"?, "class"?, "remote"?,
"state"?, "service"?, "active"?}], "inhibitors": [{"what", "who", "why", "mode", "uid", "pid"}]}.
It is re-read on every call, so a test changes the world by rewriting the file. Session objects
are (un)registered to match the file on every ListSessions call, as a client must call that first
to learn the paths. Prints "ready" on stdout once the name is owned.
"""
import json
import signal
import sys

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

MANAGER_PATH = "/org/freedesktop/login1"
SESSION_PREFIX = "/org/freedesktop/login1/session/"

MANAGER_XML = """
<node>
  <interface name="org.freedesktop.login1.Manager">
    <method name="ListSessions">
      <arg name="sessions" type="a(susso)" direction="out"/>
    </method>
    <method name="ListInhibitors">
      <arg name="inhibitors" type="a(ssssuu)" direction="out"/>
    </method>
    <method name="Reboot">
      <arg name="interactive" type="b" direction="in"/>
    </method>
  </interface>
</node>
"""

SESSION_XML = """
<node>
  <interface name="org.freedesktop.login1.Session">
    <property name="Id" type="s" access="read"/>
    <property name="Name" type="s" access="read"/>
    <property name="TTY" type="s" access="read"/>
    <property name="Type" type="s" access="read"/>
    <property name="Class" type="s" access="read"/>
    <property name="Remote" type="b" access="read"/>
    <property name="State" type="s" access="read"/>
    <property name="Active" type="b" access="read"/>
    <property name="Service" type="s" access="read"/>
  </interface>
</node>
"""


def bus_label_escape(label):
    """systemd's bus_label_escape(): "3" -> "_33", "c1" -> "c1"."""
    if label == "":
        return "_"
    out = []
    for i, ch in enumerate(label):
        if (ch.isascii() and ch.isalnum() and not (i == 0 and ch.isdigit())):
            out.append(ch)
        else:
            out.extend("_%02x" % b for b in ch.encode("utf-8"))
    return "".join(out)


def session_path(session_id):
    return SESSION_PREFIX + bus_label_escape(session_id)


class Logind:
    def __init__(self, connection, state_path):
        self.connection = connection
        self.state_path = state_path
        self.session_info = Gio.DBusNodeInfo.new_for_xml(SESSION_XML).interfaces[0]
        self.registered = {}  # session id -> registration id
        manager_info = Gio.DBusNodeInfo.new_for_xml(MANAGER_XML).interfaces[0]
        connection.register_object(MANAGER_PATH, manager_info, self.on_manager_call, None, None)
        self.sync_sessions()

    def load(self):
        with open(self.state_path, encoding="utf-8") as f:
            state = json.load(f)
        return state.get("sessions", []), state.get("inhibitors", [])

    def sync_sessions(self):
        sessions, _ = self.load()
        wanted = {s["id"] for s in sessions}
        for session_id in list(self.registered):
            if session_id not in wanted:
                self.connection.unregister_object(self.registered.pop(session_id))
        for session_id in wanted - set(self.registered):
            self.registered[session_id] = self.connection.register_object(
                session_path(session_id), self.session_info, None, self.on_session_property, None
            )
        return sessions

    def on_manager_call(self, _conn, _sender, _path, _iface, method, _params, invocation):
        if method == "ListSessions":
            sessions = self.sync_sessions()
            rows = [
                (s["id"], s.get("uid", 1000), s.get("user", "core"), s.get("seat", ""), session_path(s["id"]))
                for s in sessions
            ]
            invocation.return_value(GLib.Variant("(a(susso))", (rows,)))
        elif method == "ListInhibitors":
            _, inhibitors = self.load()
            rows = [
                (i["what"], i["who"], i["why"], i["mode"], i.get("uid", 0), i.get("pid", 1)) for i in inhibitors
            ]
            invocation.return_value(GLib.Variant("(a(ssssuu))", (rows,)))
        elif method == "Reboot":
            # Recorded next to the state file; the test harness decides what a reboot means.
            with open(self.state_path + ".reboots", "a", encoding="utf-8") as f:
                f.write("reboot\n")
            invocation.return_value(None)
        else:
            invocation.return_dbus_error("org.freedesktop.DBus.Error.UnknownMethod", method)

    def on_session_property(self, _conn, _sender, path, _iface, prop):
        sessions, _ = self.load()
        session = next((s for s in sessions if session_path(s["id"]) == path), None)
        if session is None:
            return None
        values = {
            "Id": ("s", session["id"]),
            "Name": ("s", session.get("user", "core")),
            "TTY": ("s", session.get("tty", "")),
            "Type": ("s", session.get("type", "tty")),
            "Class": ("s", session.get("class", "user")),
            "Remote": ("b", session.get("remote", False)),
            "State": ("s", session.get("state", "active")),
            "Active": ("b", session.get("active", True)),
            "Service": ("s", session.get("service", "login")),
        }
        signature, value = values[prop]
        return GLib.Variant(signature, value)


def main():
    address, state_path = sys.argv[1], sys.argv[2]
    connection = Gio.DBusConnection.new_for_address_sync(
        address,
        Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
        None,
        None,
    )
    Logind(connection, state_path)
    loop = GLib.MainLoop()

    def acquired(_conn, _name):
        print("ready", flush=True)

    def lost(_conn, name):
        print("lost " + name, file=sys.stderr, flush=True)
        loop.quit()

    Gio.bus_own_name_on_connection(
        connection, "org.freedesktop.login1", Gio.BusNameOwnerFlags.NONE, acquired, lost
    )
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    loop.run()


if __name__ == "__main__":
    main()
