/**
 * The rpm-ostreed simulator inside an e2e box, as the box's rpm-ostreed.service on its system bus
 * (units in tests/e2e/units/). Its state lives on the box's disk (/var/lib/rpm-ostreed-sim), so it
 * survives the box's reboots, and the simulator applies a reboot by itself: every boot of the box has
 * its own boot id (docs/e2e.md, "Reboots").
 *
 *   const sim = await installSimulator(box, { booted, available: OCI_RELEASES });
 *   await sim.start();                  // or let the first D-Bus call activate it
 *   await sim.control.setFaults({ deployFailures: 1 });
 *   const dump = await sim.dump();
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { controlSendArgs, initialStateFiles, parseCallLog, simControl } from "../sim/control.js";
import type { SimCall, SimControl, SimDeploymentSpec, SimDump, SimFaults, SimRelease } from "../sim/harness.js";
import type { Box } from "./box.js";

const UNITS = join(dirname(fileURLToPath(import.meta.url)), "units");
export const SIM_UNIT = "rpm-ostreed.service";
export const SIM_STATE_DIR = "/var/lib/rpm-ostreed-sim";

export interface BoxSimulatorOptions {
  booted: SimDeploymentSpec;
  rollback?: SimDeploymentSpec;
  /** The remote, oldest first. */
  available: SimRelease[];
  faults?: SimFaults;
  osname?: string;
  /** More `serve` options, e.g. `["--force-close-ms", "2000"]`. */
  serveArgs?: string[];
}

export interface BoxSimulator {
  readonly unit: string;
  readonly stateDir: string;
  readonly control: SimControl;
  /** Starts the unit and waits until it owns its bus name. */
  start(): Promise<void>;
  dump(): Promise<SimDump>;
  calls(): Promise<SimCall[]>;
}

/** Installs the unit, bus policy and activation file, and writes the simulator's initial state. */
export async function installSimulator(box: Box, options: BoxSimulatorOptions): Promise<BoxSimulator> {
  await box.copyIn(join(UNITS, "rpm-ostreed.service"), `/etc/systemd/system/${SIM_UNIT}`, { mode: 0o644 });
  await box.copyIn(join(UNITS, "org.projectatomic.rpmostree1.conf"), "/etc/dbus-1/system.d/org.projectatomic.rpmostree1.conf", { mode: 0o644 });
  await box.copyIn(
    join(UNITS, "org.projectatomic.rpmostree1.service"),
    "/usr/share/dbus-1/system-services/org.projectatomic.rpmostree1.service",
    { mode: 0o644 },
  );
  // The same files the simulator's own harness writes (tests/sim/harness.ts).
  for (const [name, text] of Object.entries(initialStateFiles(options))) await box.writeFile(`${SIM_STATE_DIR}/${name}`, text);
  if (options.serveArgs) await box.writeFile("/etc/default/rpm-ostreed-sim", `SIM_ARGS=${options.serveArgs.join(" ")}\n`);
  await box.run(["systemctl", "daemon-reload"]);
  // dbus-daemon reads the new policy and activation file now, not at its next inotify wake-up.
  await box.run(["busctl", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "ReloadConfig"]);

  const controlCall = async (member: string, ...args: string[]): Promise<string> =>
    (await box.run(["dbus-send", "--system", ...controlSendArgs(member, args)])).trim();

  return {
    unit: SIM_UNIT,
    stateDir: SIM_STATE_DIR,
    control: simControl(controlCall, (text) => box.writeFile(`${SIM_STATE_DIR}/releases.json`, text)),
    async start() {
      await box.run(["systemctl", "start", SIM_UNIT]);
      await box.waitForUnit(SIM_UNIT, "active");
    },
    async dump() {
      return JSON.parse(await controlCall("Dump")) as SimDump;
    },
    async calls() {
      return parseCallLog((await box.exec(["cat", `${SIM_STATE_DIR}/calls.jsonl`])).stdout);
    },
  };
}
