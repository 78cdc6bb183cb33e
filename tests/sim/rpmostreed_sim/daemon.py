"""
The bus side of the simulated rpm-ostreed: owns org.projectatomic.rpmostree1, exports Sysroot and one
OS object with the interfaces read from the upstream introspection XML (so signatures are exact),
starts transactions, and serves the control interface org.updateagent.Simulator.
"""
import datetime
import json
import os
import subprocess
import sys

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

from . import model, work  # noqa: E402
from .faults import Faults  # noqa: E402
from .model import MethodError  # noqa: E402
from .sysroot import Sysroot  # noqa: E402
from .transaction import Transaction  # noqa: E402

BUS_NAME = "org.projectatomic.rpmostree1"
ROOT = "/org/projectatomic/rpmostree1"
SYSROOT_PATH = f"{ROOT}/Sysroot"
P = "org.projectatomic.rpmostree1."
CONTROL_PATH = "/org/updateagent/Simulator"
CONTROL_XML = """
<node>
  <interface name="org.updateagent.Simulator">
    <method name="Dump"><arg type="s" name="json" direction="out"/></method>
    <method name="GetFaults"><arg type="s" name="json" direction="out"/></method>
    <method name="SetFaults"><arg type="s" name="json" direction="in"/></method>
    <method name="BootPending"><arg type="s" name="json" direction="out"/></method>
    <method name="StartForeignTransaction">
      <arg type="u" name="duration_ms" direction="in"/><arg type="s" name="title" direction="in"/>
    </method>
  </interface>
</node>"""
GIO_BUSY = "gio:BUSY"
GIO_NOT_FOUND = "gio:NOT_FOUND"
NOT_SUPPORTED = "org.freedesktop.DBus.Error.NotSupported"
TRANSACTION_METHODS = {"Deploy", "UpdateDeployment", "Rebase", "FinalizeDeployment", "Rollback", "Cleanup"}


def escape_os_path(osname):
    """rpm-ostree's append_to_object_path: keep [A-Za-z0-9_], `-` and `/` become `_`, else `_XX`."""
    out = []
    for ch in osname:
        if ch.isascii() and (ch.isalnum() or ch == "_"):
            out.append(ch)
        elif ch in "-/":
            out.append("_")
        else:
            out.append("".join(f"_{b:02X}" for b in ch.encode()))
    return "".join(out)


def to_variant_dict(typed):
    return {k: GLib.Variant(sig, to_variant_dict(v) if sig == "a{sv}" else v) for k, (sig, v) in typed.items()}


class Daemon:
    def __init__(self, *, address, state_dir, xml_path, reboot_command, force_close_ms, driver_unit):
        self.state_dir = state_dir
        self.sysroot = Sysroot(state_dir)
        with open("/proc/sys/kernel/random/boot_id", encoding="utf-8") as f:
            if self.sysroot.note_boot(f.read().strip()):
                print("rpmostreed-sim: the machine rebooted; booted the pending deployment", file=sys.stderr, flush=True)
        self.faults = Faults(state_dir)
        self.reboot_command = reboot_command
        self.force_close_ms = force_close_ms
        self.driver_unit = driver_unit
        self.os_path = f"{ROOT}/{escape_os_path(self.sysroot.osname)}"
        self.active = None
        self.clients = {}
        self.rebooting = False
        self._txn_serial = 0
        with open(xml_path, encoding="utf-8") as f:
            self.node = Gio.DBusNodeInfo.new_for_xml(f.read())
        self.bus = Gio.DBusConnection.new_for_address_sync(
            address,
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
            None, None)
        self.bus.register_object(SYSROOT_PATH, self.node.lookup_interface(P + "Sysroot"),
                                 self._on_call, self._on_get_property, None)
        for name in ("OS", "OSExperimental"):
            self.bus.register_object(self.os_path, self.node.lookup_interface(P + name),
                                     self._on_call, self._on_get_property, None)
        control = Gio.DBusNodeInfo.new_for_xml(CONTROL_XML).interfaces[0]
        self.bus.register_object(CONTROL_PATH, control, self._on_control, None, None)

    def own_name(self, on_ready):
        reply = self.bus.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                   "RequestName", GLib.Variant("(su)", (BUS_NAME, 4)), GLib.VariantType("(u)"),
                                   Gio.DBusCallFlags.NONE, 10_000, None)
        if reply.unpack()[0] != 1:
            raise SystemExit(f"rpmostreed-sim: could not own {BUS_NAME} (reply {reply.unpack()[0]})")
        on_ready()

    # --- calls log ---------------------------------------------------------------------------------

    def log_call(self, iface, method, params, caller, path):
        entry = {"at": datetime.datetime.now(datetime.timezone.utc).isoformat(), "interface": iface,
                 "method": method, "args": params.unpack() if params is not None else [], "caller": caller,
                 "path": path}
        with open(os.path.join(self.state_dir, "calls.jsonl"), "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, default=str) + "\n")

    # --- properties ----------------------------------------------------------------------------------

    def _deployment_variant(self, record):
        if record is None:
            return GLib.Variant("a{sv}", {})
        return GLib.Variant("a{sv}", to_variant_dict(model.deployment_dict(record, self.sysroot.osname)))

    def _on_get_property(self, _conn, _sender, _path, iface, name):
        s = self.sysroot
        if iface == P + "Sysroot":
            if name == "Booted":
                return GLib.Variant("o", self.os_path)
            if name == "Path":
                return GLib.Variant("s", "/")
            if name == "ActiveTransaction":
                a = self.active
                return GLib.Variant("(sss)", (a.method, a.sender, self.os_path) if a else ("", "", ""))
            if name == "ActiveTransactionPath":
                return GLib.Variant("s", self.active.address if self.active else "")
            if name == "AutomaticUpdatePolicy":
                return GLib.Variant("s", "none")
            if name == "Deployments":
                return GLib.Variant("aa{sv}", [to_variant_dict(model.deployment_dict(d, s.osname))
                                               for d in s.deployments])
        if name == "BootedDeployment":
            return self._deployment_variant(s.booted())
        if name == "DefaultDeployment":
            return self._deployment_variant(s.deployments[0])
        if name == "RollbackDeployment":
            return self._deployment_variant(s.rollback_target())
        if name == "CachedUpdate":
            return GLib.Variant("a{sv}", {})
        if name == "HasCachedUpdateRpmDiff":
            return GLib.Variant("b", False)
        if name == "Name":
            return GLib.Variant("s", s.osname)
        return None

    # --- methods -------------------------------------------------------------------------------------

    def _on_call(self, _conn, sender, path, iface, method, params, invocation):
        self.log_call(iface, method, params, sender, path)
        try:
            error = self.faults.consume_keyed("callErrors", method)
            if error:
                raise MethodError(error.get("name", "org.freedesktop.DBus.Error.Failed"),
                                  error.get("message", f"{method} failed (simulated)"))
            result = self._dispatch(sender, iface, method, params)
            invocation.return_value(result)
        except MethodError as e:
            if e.name.startswith("gio:"):
                # GIO errors travel as org.gtk.GDBus.UnmappedGError.Quark._g_2dio_2derror_2dquark.Code<N>
                code = getattr(Gio.IOErrorEnum, e.name[len("gio:"):])
                invocation.return_error_literal(Gio.io_error_quark(), code, e.message)
            else:
                invocation.return_dbus_error(e.name, e.message)

    def _dispatch(self, sender, iface, method, params):
        args = params.unpack()
        if iface == P + "Sysroot":
            if method == "GetOS":
                if args[0] not in ("", self.sysroot.osname):
                    raise MethodError(GIO_NOT_FOUND, f'OS name "{args[0]}" not found')
                return GLib.Variant("(o)", (self.os_path,))
            if method == "RegisterClient":
                self.clients[sender] = {"id": args[0].get("id", ""), "unit": self._caller_unit(sender)}
                return None
            if method == "UnregisterClient":
                self.clients.pop(sender, None)
                return None
            if method in ("Reload", "ReloadConfig"):
                return None  # the simulated sysroot is always in sync with its state file
        if iface == P + "OS" and method in TRANSACTION_METHODS:
            return GLib.Variant("(s)", (self._transaction(sender, method, params, args),))
        raise MethodError(NOT_SUPPORTED, f"rpmostreed-sim does not simulate {iface}.{method}")

    def _transaction(self, sender, method, params, args):
        if self.rebooting:
            raise MethodError("org.freedesktop.DBus.Error.Failed", "Reboot initiated, cannot start new transaction")
        if self.active is not None:
            if self.active.method == method and self.active.params.equal(params):
                print(f"rpmostreed-sim: client {sender} joining existing transaction", file=sys.stderr, flush=True)
                return self.active.address
            raise MethodError(GIO_BUSY, f"Transaction in progress: {self.active.title}")
        body = self._body_for(sender, method, args)
        return self._begin(method, params, sender, f"{method.lower()} {json.dumps(args, default=str)[:120]}",
                           body).address

    def _body_for(self, sender, method, args):
        s, f = self.sysroot, self.faults
        if method == "Deploy":
            options = {**args[1], "_caller-unit": self._caller_unit(sender)}
            return work.deploy(s, f, revision=args[0], options=options)
        if method == "UpdateDeployment":
            modifiers, options = args
            options = {**options, "_caller-unit": self._caller_unit(sender)}
            return work.deploy(s, f, revision=modifiers.get("set-revision", ""), options=options,
                               refspec=modifiers.get("set-refspec"))
        if method == "Rebase":
            options, refspec, _packages = args
            options = {**options, "_caller-unit": self._caller_unit(sender)}
            return work.deploy(s, f, revision=options.get("revision", ""), options=options, refspec=refspec)
        if method == "FinalizeDeployment":
            return work.finalize(s, f, options=args[0], request_reboot=self._request_reboot)
        if method == "Rollback":
            return work.rollback(s, f, options=args[0], request_reboot=self._request_reboot)
        invalid = [e for e in args[0] if e not in ("base", "pending-deploy", "rollback-deploy", "repomd")]
        if invalid:
            raise MethodError("org.freedesktop.DBus.Error.InvalidArgs", f"Invalid cleanup type: {invalid[0]}")
        return work.cleanup(s, f, elements=args[0])

    def _begin(self, method, params, sender, title, body):
        self._txn_serial += 1
        socket_path = os.path.join(self.state_dir, f"txn-{self._txn_serial}.sock")
        self.active = Transaction(bus=self.bus, iface_info=self.node.lookup_interface(P + "Transaction"),
                                  method=method, params=params, sender=sender, title=title, body=body,
                                  socket_path=socket_path, force_close_ms=self.force_close_ms,
                                  on_finished=self._on_finished, log_call=self.log_call)
        return self.active

    def _on_finished(self, txn):
        if self.active is txn:
            self.active = None
        print(f"rpmostreed-sim: {txn.method} finished: {txn.finished}", file=sys.stderr, flush=True)

    def _request_reboot(self):
        self.rebooting = True
        if self.reboot_command:
            subprocess.Popen(self.reboot_command, shell=True, cwd=self.state_dir,
                             env={**os.environ, "SIM_STATE_DIR": self.state_dir})

    def _caller_unit(self, sender):
        """The caller's systemd unit from its cgroup, as rpm-ostree finds it; else the configured default."""
        try:
            pid = self.bus.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                     "GetConnectionUnixProcessID", GLib.Variant("(s)", (sender,)),
                                     GLib.VariantType("(u)"), Gio.DBusCallFlags.NONE, 5_000, None).unpack()[0]
            with open(f"/proc/{pid}/cgroup", encoding="utf-8") as f:
                for part in reversed(f.read().strip().split("/")):
                    if part.endswith(".service"):
                        return part
        except (GLib.Error, OSError):
            pass
        return self.driver_unit

    # --- control interface (org.updateagent.Simulator) ------------------------------------------------

    def dump(self):
        s = self.sysroot
        a = self.active
        return {
            "deployments": [model.plain_dict(model.deployment_dict(d, s.osname)) for d in s.deployments],
            "records": s.deployments,
            "transaction": [a.method, a.sender, self.os_path] if a else None,
            "update-driver": s.state.get("driver"),
            "clients": [{"sender": k, **v} for k, v in self.clients.items()],
            "rebooting": self.rebooting,
            "rebootRequests": s.state.get("rebootRequests", []),
            "boots": s.state.get("boots", []),
        }

    def _on_control(self, _conn, _sender, _path, _iface, method, params, invocation):
        try:
            if method == "Dump":
                invocation.return_value(GLib.Variant("(s)", (json.dumps(self.dump()),)))
            elif method == "GetFaults":
                invocation.return_value(GLib.Variant("(s)", (json.dumps(self.faults.all()),)))
            elif method == "SetFaults":
                self.faults.update(json.loads(params.unpack()[0]))
                invocation.return_value(None)
            elif method == "BootPending":
                if self.active is not None:
                    self.active.cancel()
                booted = self.sysroot.boot_pending()
                self.clients.clear()
                self.rebooting = False
                invocation.return_value(GLib.Variant("(s)", (json.dumps(booted),)))
            elif method == "StartForeignTransaction":
                duration, title = params.unpack()
                if self.active is not None:
                    raise MethodError(GIO_BUSY, f"Transaction in progress: {self.active.title}")
                self._begin("Upgrade", params, ":1.foreign", title or "upgrade", work.foreign(duration)).start()
                invocation.return_value(None)
        except (MethodError, ValueError) as e:
            invocation.return_dbus_error("org.updateagent.Simulator.Error", str(e))
