/**
 * The e2e box itself, without the agent: it boots systemd with its journal, system bus and logind; a
 * Type=notify unit with a watchdog behaves as the agent's will; reboots and power-offs end PID 1 the
 * way the harness expects; the disk survives a reboot; the rpm-ostreed simulator runs as the box's
 * rpm-ostreed. One box serves the whole file, in order. Needs root (docs/e2e.md).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { at, bootedFrom, OCI_RELEASES } from "../sim/sample-releases.js";
import { Box, EXIT_POWEROFF, EXIT_REBOOT } from "./box.js";
import { buildRootfs } from "./rootfs.js";
import { installSimulator, SIM_UNIT, type BoxSimulator } from "./sim-in-box.js";

const NOT_ROOT = process.getuid?.() !== 0 ? "the e2e box needs root" : false;
const OS_PATH = "/org/projectatomic/rpmostree1/fedora_coreos";
const GET_OS = ["busctl", "call", "org.projectatomic.rpmostree1", "/org/projectatomic/rpmostree1/Sysroot", "org.projectatomic.rpmostree1.Sysroot", "GetOS", "s", ""];

const REQUEST_SIM_NAME = `
from gi.repository import Gio, GLib
bus = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
bus.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "RequestName",
              GLib.Variant("(su)", ("org.projectatomic.rpmostree1", 4)), None, Gio.DBusCallFlags.NONE, -1, None)
`;

/** Becomes ready, then pings the watchdog until /run/watchdog-probe/stop appears, then hangs. */
const WATCHDOG_PROBE = `#!/bin/sh
systemd-notify --ready
while :; do
  if [ -e /run/watchdog-probe/stop ]; then rm -f /run/watchdog-probe/stop; exec sleep infinity; fi
  systemd-notify WATCHDOG=1
  sleep 0.5
done
`;

/** Type=notify units, readiness sent the two ways the agent's notifier sends it (src/host/notify.ts). */
const UNITS: Record<string, string> = {
  // root: `systemd-notify --no-block` speaks for its parent, the main process.
  "notify-root.service": `[Service]
Type=notify
ExecStart=/bin/sh -c 'sleep 0.2; systemd-notify --no-block --ready; exec sleep infinity'
TimeoutStartSec=20
`,
  // unprivileged: the blocking form, credited to the child itself, hence NotifyAccess=all.
  "notify-user.service": `[Service]
Type=notify
User=nobody
NotifyAccess=all
ExecStart=/bin/sh -c 'sleep 0.2; systemd-notify --ready; exec sleep infinity'
TimeoutStartSec=20
`,
  "watchdog-probe.service": `[Service]
Type=notify
User=nobody
NotifyAccess=all
RuntimeDirectory=watchdog-probe
ExecStart=/usr/local/bin/watchdog-probe
WatchdogSec=2
Restart=on-watchdog
RestartSec=500ms
TimeoutStartSec=20
`,
  // Counts its boots: reboots the box twice, then powers it off.
  "reboot-cycle.service": `[Unit]
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'n=$(( $(cat /var/lib/reboot-cycle 2>/dev/null || echo 0) + 1 )); echo $n > /var/lib/reboot-cycle; if [ $n -lt 3 ]; then systemctl reboot --no-block; else systemctl poweroff --no-block; fi'
[Install]
WantedBy=multi-user.target
`,
};

describe("the e2e box", { skip: NOT_ROOT }, () => {
  let box: Box;
  let sim: BoxSimulator;

  before(async () => {
    const rootfs = await buildRootfs(); // cached; a cold build is about a minute
    box = await Box.boot({ rootfs, bootTimeoutMs: 60_000 });
  });
  after(async () => {
    await box?.destroy();
  });

  it("boots systemd as its PID 1 to multi-user.target, in a container of its own", async () => {
    assert.match((await box.exec(["systemctl", "is-system-running"])).stdout.trim(), /^(running|degraded)$/);
    assert.equal((await box.readFile("/proc/1/comm")).trim(), "systemd");
    assert.equal((await box.systemctlShow("multi-user.target", ["ActiveState"])).ActiveState, "active");
    assert.equal((await box.exec(["systemd-detect-virt", "--container"])).stdout.trim(), "container-other");
    assert.equal((await box.run(["hostname"])).trim(), "e2e-box");
  });

  it("has its own journald, system bus and logind", async () => {
    for (const unit of ["systemd-journald.service", "dbus.service", "systemd-logind.service"]) {
      await box.waitForUnit(unit, "running");
    }
    const names = await box.run(["busctl", "list", "--no-legend"]);
    assert.match(names, /^org\.freedesktop\.login1 /m);
    assert.match(names, /^org\.freedesktop\.systemd1 /m);
    await box.run(["systemd-cat", "-t", "e2e-probe", "echo", "hello from the box"]);
    assert.equal(await box.waitForJournal(undefined, /hello from the box/), "hello from the box");
  });

  it("runs the host's node and sees the checkout read-only", async () => {
    assert.equal((await box.run(["/usr/bin/node", "-p", "process.version"])).trim(), process.version);
    assert.equal((await box.exec(["test", "-f", "/opt/update-agent/package.json"])).code, 0);
    const write = await box.exec(["touch", "/opt/update-agent/written-from-the-box"]);
    assert.notEqual(write.code, 0);
    assert.match(write.stderr, /Read-only file system/);
  });

  it("starts Type=notify units once they send READY=1 through systemd-notify", async () => {
    await box.writeFile("/usr/local/bin/watchdog-probe", WATCHDOG_PROBE, { mode: 0o755 });
    for (const [name, text] of Object.entries(UNITS)) await box.writeFile(`/etc/systemd/system/${name}`, text);
    await box.run(["systemctl", "daemon-reload"]);
    // `systemctl start` returns once the unit is ready, and fails if READY=1 never arrives.
    await box.run(["systemctl", "start", "notify-root.service", "notify-user.service"]);
    for (const unit of ["notify-root.service", "notify-user.service"]) {
      assert.deepEqual(await box.systemctlShow(unit, ["ActiveState", "SubState", "Type"]), { ActiveState: "active", SubState: "running", Type: "notify" });
    }
  });

  it("kills and restarts a unit that stops pinging its watchdog", async () => {
    await box.run(["systemctl", "start", "watchdog-probe.service"]);
    const first = await box.systemctlShow("watchdog-probe.service", ["ActiveState", "NRestarts", "MainPID", "WatchdogUSec"]);
    assert.deepEqual({ ...first, MainPID: undefined }, { ActiveState: "active", NRestarts: "0", MainPID: undefined, WatchdogUSec: "2s" });

    await box.run(["touch", "/run/watchdog-probe/stop"]);
    await box.waitForJournal("watchdog-probe.service", /Watchdog timeout/);
    await waitFor(async () => Number((await box.systemctlShow("watchdog-probe.service", ["NRestarts"])).NRestarts) >= 1);
    await box.waitForUnit("watchdog-probe.service", "running");
    const second = await box.systemctlShow("watchdog-probe.service", ["MainPID"]);
    assert.notEqual(second.MainPID, first.MainPID);
  });

  it("keeps an unprivileged user from root-only actions", async () => {
    assert.equal((await box.run(["id", "-un"], { user: "nobody" })).trim(), "nobody");
    const start = await box.exec(["systemctl", "stop", "notify-root.service"], { user: "nobody" });
    assert.notEqual(start.code, 0);
    assert.match(start.stderr, /Access denied|authentication required/i);
    assert.notEqual((await box.exec(["touch", "/etc/written-by-nobody"], { user: "nobody" })).code, 0);
    assert.equal((await box.systemctlShow("notify-root.service", ["ActiveState"])).ActiveState, "active");
  });

  it("runs the rpm-ostreed simulator as the box's rpm-ostreed, started by D-Bus activation", async () => {
    sim = await installSimulator(box, { booted: bootedFrom(at(OCI_RELEASES, 0), "oci"), available: OCI_RELEASES });
    assert.equal((await box.run(GET_OS)).trim(), `o "${OS_PATH}"`);
    await box.waitForUnit(SIM_UNIT, "running");
    // Callers need no privileges to talk to it (the real daemon would then ask polkit) …
    assert.equal((await box.run(GET_OS, { user: "nobody" })).trim(), `o "${OS_PATH}"`);
    // … but only root may own its name.
    const own = await box.exec(["python3", "-c", REQUEST_SIM_NAME], { user: "nobody" });
    assert.notEqual(own.code, 0);
    assert.match(own.stderr, /AccessDenied/);
    const dump = await sim.dump();
    assert.equal(dump.records.find((r) => r.booted)?.version, at(OCI_RELEASES, 0).version);
    assert.deepEqual(dump.boots, []);
  });

  it("reboots: PID 1 ends with 129, and the next boot has a new boot id and the same disk", async () => {
    await box.writeFile("/var/lib/e2e-marker", "written before the reboot\n");
    const bootId = await box.readFile("/proc/sys/kernel/random/boot_id");
    const machineId = await box.readFile("/etc/machine-id");

    await box.exec(["systemctl", "reboot"]);
    assert.equal(await box.waitForExit(), EXIT_REBOOT);
    assert.match(await box.bootAgain(), /^(running|degraded)$/);

    assert.equal(await box.readFile("/var/lib/e2e-marker"), "written before the reboot\n");
    assert.notEqual(await box.readFile("/proc/sys/kernel/random/boot_id"), bootId);
    assert.equal(await box.readFile("/etc/machine-id"), machineId);
    const boots = (await box.run(["journalctl", "--list-boots"])).split("\n").filter((line) => /^\s*-?\d+ [0-9a-f]{32} /.test(line));
    assert.equal(boots.length, 2);
    // The simulator's state is on the disk too, and it noticed the reboot by the new boot id.
    assert.equal((await box.run(GET_OS)).trim(), `o "${OS_PATH}"`);
    assert.equal((await sim.dump()).boots.length, 1);
  });

  it("powers off: PID 1 ends with 130, from inside or on SIGRTMIN+4 from outside", async () => {
    assert.equal(await box.poweroff(), EXIT_POWEROFF);
    assert.match(await box.bootAgain(), /^(running|degraded)$/);
    assert.equal(await box.poweroff({ fromOutside: true }), EXIT_POWEROFF);
  });

  it("follows the box through the reboots it makes by itself until it powers off", async () => {
    await box.bootAgain();
    await box.run(["systemctl", "enable", "reboot-cycle.service"]);
    const bootsBefore = box.boots;
    const reboots: number[] = [];
    await box.exec(["systemctl", "start", "--no-block", "reboot-cycle.service"]);
    assert.equal(await box.runUntilPoweroff({ onReboot: (boot) => void reboots.push(boot) }), EXIT_POWEROFF);
    assert.deepEqual(reboots, [bootsBefore, bootsBefore + 1]);
    assert.deepEqual(box.exits.slice(-3), [EXIT_REBOOT, EXIT_REBOOT, EXIT_POWEROFF]);
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
