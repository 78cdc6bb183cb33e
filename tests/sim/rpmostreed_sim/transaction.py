"""
One rpm-ostree transaction: a GDBusServer on a unix:path socket (a private peer-to-peer D-Bus, no
bus daemon, no Hello) exporting org.projectatomic.rpmostree1.Transaction at "/".

Semantics copied from rpmostreed-transaction.cxx:
  - nothing runs until a client calls Start(); the first Start returns true, later ones false;
  - Start on a finished transaction re-emits Finished to that connection alone;
  - if the initiating bus name vanishes before Start, the transaction is cancelled;
  - signals go to every peer connection; after Finished the server lingers `force_close_ms`
    (rpm-ostree: 30 s) for late clients, then closes them all.

The work is a generator (`body(txn)`) that yields how many milliseconds to wait before the next step,
or HANG to never continue (only Cancel ends it). Raising TransactionFailed ends with Finished(false, msg).
"""
import os
import sys
import traceback

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

from .model import TransactionFailed  # noqa: E402

IFACE = "org.projectatomic.rpmostree1.Transaction"
HANG = object()


class Transaction:
    def __init__(self, *, bus, iface_info, method, params, sender, title, body, socket_path, force_close_ms,
                 on_finished, log_call):
        self.method = method
        self.params = params
        self.sender = sender
        self.title = title
        self._iface_info = iface_info
        self._body = body
        self._on_finished = on_finished
        self._log_call = log_call
        self._force_close_ms = force_close_ms
        self._socket_path = socket_path
        self._bus = bus
        self.peers = []
        self.started = False
        self.finished = None
        self._gen = None
        self._timer = 0
        self._closed = False
        if os.path.exists(socket_path):
            os.unlink(socket_path)
        guid = Gio.dbus_generate_guid()
        self.server = Gio.DBusServer.new_sync(f"unix:path={socket_path}", Gio.DBusServerFlags.NONE, guid, None, None)
        self.server.connect("new-connection", self._on_new_connection)
        self.server.start()
        os.chmod(socket_path, 0o666)
        # clients must use the address verbatim, guid included (some GLib versions append it themselves)
        address = self.server.get_client_address()
        self.address = address if "guid=" in address else f"{address},guid={guid}"
        self._watch = 0
        if bus is not None and sender and sender.startswith(":"):
            self._watch = bus.signal_subscribe("org.freedesktop.DBus", "org.freedesktop.DBus", "NameOwnerChanged",
                                               "/org/freedesktop/DBus", sender, Gio.DBusSignalFlags.NONE,
                                               self._on_owner_changed)

    # --- peer side ------------------------------------------------------------------------------

    def _on_new_connection(self, _server, connection):
        connection.register_object("/", self._iface_info, self._on_method_call, self._on_get_property, None)
        self.peers.append(connection)
        return True

    def _on_get_property(self, _conn, _sender, _path, _iface, name):
        if name == "Title":
            return GLib.Variant("s", self.title)
        if name == "InitiatingClientDescription":
            return GLib.Variant("s", f"client {self.sender}")
        return None

    def _on_method_call(self, connection, _sender, path, iface, method, params, invocation):
        self._log_call(iface, method, params, "peer", path)
        if method == "Start":
            first = not self.started and self.finished is None
            if first:
                self.start()
            invocation.return_value(GLib.Variant("(b)", (first,)))
            if self.finished is not None:
                self._emit_to(connection, "Finished", "(bs)", self.finished)
        elif method == "Cancel":
            invocation.return_value(None)
            self.cancel()
        else:
            invocation.return_dbus_error("org.freedesktop.DBus.Error.UnknownMethod", f"No method {method}")

    def _on_owner_changed(self, _conn, _sender, _path, _iface, _signal, params):
        _name, _old, new = params.unpack()
        if new == "" and not self.started and self.finished is None:
            self.finish(False, "client disconnected before calling Start")

    # --- signals -----------------------------------------------------------------------------------

    def _emit_to(self, connection, name, signature, values):
        if connection.is_closed():
            return
        body = GLib.Variant(signature, values) if signature else None
        try:
            connection.emit_signal(None, "/", IFACE, name, body)
        except GLib.Error as e:  # a peer that went away between the check and the send
            print(f"rpmostreed-sim: could not send {name}: {e.message}", file=sys.stderr)

    def emit(self, name, signature=None, values=None):
        for connection in self.peers:
            self._emit_to(connection, name, signature, values)

    def message(self, text):
        self.emit("Message", "(s)", (text,))

    def task(self, text):
        self.emit("TaskBegin", "(s)", (text,))
        self.emit("TaskEnd", "(s)", (f"{text}... done",))

    def percent(self, text, value):
        self.emit("PercentProgress", "(su)", (text, value))

    def download(self, *, start, elapsed, fetched, requested, transferred, rate):
        self.emit("DownloadProgress", "((tt)(uu)(uuu)(uuut)(uu)(tt))",
                  ((start, elapsed), (requested - fetched, 0), (fetched, fetched, 0), (0, 0, 0, 0),
                   (fetched, requested), (transferred, rate)))

    def progress_end(self):
        self.emit("ProgressEnd")

    # --- running -----------------------------------------------------------------------------------

    def start(self):
        self.started = True
        self._unwatch()
        self._gen = self._body(self)
        self._timer = GLib.idle_add(self._step)

    def _step(self):
        self._timer = 0
        try:
            delay = next(self._gen)
        except StopIteration:
            self.finish(True, "")
            return False
        except TransactionFailed as e:
            self.finish(False, str(e))
            return False
        except Exception as e:  # a simulator bug: fail the transaction visibly, keep the daemon up
            traceback.print_exc()
            self.finish(False, f"rpmostreed-sim internal error: {e}")
            return False
        if delay is HANG:
            return False
        self._timer = GLib.timeout_add(max(0, int(delay)), self._step)
        return False

    def cancel(self):
        if self.finished is not None:
            return
        if self._timer:
            GLib.source_remove(self._timer)
            self._timer = 0
        if self._gen is not None:
            self._gen.close()
        self.finish(False, "Operation was cancelled")

    def finish(self, success, message):
        if self.finished is not None:
            return
        self.finished = (success, message)
        self._unwatch()
        self.emit("Finished", "(bs)", self.finished)
        self._on_finished(self)
        GLib.timeout_add(self._force_close_ms, self.close)

    def close(self):
        if self._closed:
            return False
        self._closed = True
        if self._timer:
            GLib.source_remove(self._timer)
            self._timer = 0
        for connection in self.peers:
            if not connection.is_closed():
                connection.close_sync(None)
        self.server.stop()
        if os.path.exists(self._socket_path):
            os.unlink(self._socket_path)
        return False

    def _unwatch(self):
        if self._watch and self._bus is not None:
            self._bus.signal_unsubscribe(self._watch)
        self._watch = 0
