#!/usr/bin/python3
"""
rpm-ostreed simulator: speaks rpm-ostree's D-Bus API (from the upstream introspection XML) on a real
bus, with a real peer-to-peer transaction server, so update-agent can be tested end to end without an
ostree system. Run with Debian's /usr/bin/python3 (python3-gi). See docs/simulator.md.

  rpm-ostreed-sim.py serve --state-dir DIR [--address ADDR] [--reboot-command CMD]
  rpm-ostreed-sim.py boot-pending --state-dir DIR [--fallback]
                                   (offline "reboot": what a reboot would boot; --fallback: the bootloader
                                    falls back to the deployment booted before)
  rpm-ostreed-sim.py dump --state-dir DIR             (offline: the state file)

`serve` prints one line `READY {"name": ..., "os": ..., "pid": ...}` on stdout once it owns the bus name.
"""
import argparse
import json
import os
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

DEFAULT_XML = os.path.join(HERE, "..", "fixtures", "rpm-ostree", "org.projectatomic.rpmostree1.xml")


def serve(args):
    import gi

    gi.require_version("Gio", "2.0")
    from gi.repository import GLib

    from rpmostreed_sim.daemon import BUS_NAME, Daemon

    address = args.address or os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
    if not address:
        sys.exit("rpmostreed-sim: no bus address (--address or DBUS_SYSTEM_BUS_ADDRESS)")
    daemon = Daemon(address=address, state_dir=args.state_dir, xml_path=args.xml,
                    reboot_command=args.reboot_command, force_close_ms=args.force_close_ms,
                    driver_unit=args.driver_unit)
    loop = GLib.MainLoop()

    def stop():
        if daemon.active is not None:
            daemon.active.close()
        loop.quit()
        return GLib.SOURCE_REMOVE

    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGTERM, stop)
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGINT, stop)

    def ready():
        print("READY " + json.dumps({"name": BUS_NAME, "os": daemon.os_path, "pid": os.getpid()}), flush=True)

    daemon.own_name(ready)
    loop.run()


def boot_pending(args):
    from rpmostreed_sim.sysroot import Sysroot

    print(json.dumps(Sysroot(args.state_dir).boot_pending(fallback=args.fallback)))


def dump(args):
    from rpmostreed_sim.sysroot import Sysroot

    print(json.dumps(Sysroot(args.state_dir).state, indent=1))


def main():
    parser = argparse.ArgumentParser(prog="rpm-ostreed-sim")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run the simulated daemon")
    p.add_argument("--state-dir", required=True)
    p.add_argument("--address", help="bus address (default: $DBUS_SYSTEM_BUS_ADDRESS)")
    p.add_argument("--xml", default=DEFAULT_XML, help="introspection XML to export")
    p.add_argument("--reboot-command", help="shell command run when a reboot is requested (e2e: systemctl reboot)")
    p.add_argument("--force-close-ms", type=int, default=30_000,
                   help="how long a finished transaction's server waits for late clients (rpm-ostree: 30 s)")
    p.add_argument("--driver-unit", default="update-agent.service",
                   help="unit recorded for the update driver when the caller's cgroup names none")
    p.set_defaults(func=serve)
    p = sub.add_parser("boot-pending", help="offline reboot: boot the finalized / rolled-back-to deployment")
    p.add_argument("--state-dir", required=True)
    p.add_argument("--fallback", action="store_true",
                   help="the new default deployment fails to boot and the bootloader falls back to the previous one")
    p.set_defaults(func=boot_pending)
    p = sub.add_parser("dump", help="print the state file")
    p.add_argument("--state-dir", required=True)
    p.set_defaults(func=dump)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
