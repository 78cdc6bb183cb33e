/**
 * What every way of running the simulator shares (tests/sim/harness.ts on a private bus, tests/e2e/sim-in-box.ts
 * as a box's rpm-ostreed.service): the files its state directory starts with, its call log, and its control
 * interface as `dbus-send` reaches it.
 */
import type { SimCall, SimControl, SimFaults, SimulatorOptions } from "./harness.js";

const CONTROL = { dest: "org.projectatomic.rpmostree1", path: "/org/updateagent/Simulator", iface: "org.updateagent.Simulator" };

/** The `dbus-send` arguments after the bus option (`--system`, `--bus=…`) for one control call. */
export function controlSendArgs(member: string, args: readonly string[]): string[] {
  return ["--print-reply=literal", `--dest=${CONTROL.dest}`, CONTROL.path, `${CONTROL.iface}.${member}`, ...args];
}

/** The files a fresh state directory holds (init.json, releases.json, faults.json), by name. */
export function initialStateFiles(options: Pick<SimulatorOptions, "osname" | "booted" | "rollback" | "available" | "faults">): Record<string, string> {
  const init = { osname: options.osname ?? "fedora-coreos", booted: options.booted, rollback: options.rollback ?? null };
  return {
    "init.json": JSON.stringify(init, null, 1),
    "releases.json": releasesFile(options.available),
    "faults.json": JSON.stringify(options.faults ?? {}, null, 1),
  };
}

/** releases.json, which the daemon reads again at every request. */
function releasesFile(releases: SimulatorOptions["available"]): string {
  return JSON.stringify(releases, null, 1);
}

/** calls.jsonl: one JSON object a line. */
export function parseCallLog(text: string): SimCall[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as SimCall);
}

/**
 * The control API over `call` (one control method call, its `--print-reply=literal` output trimmed) and
 * `writeReleases` (replaces releases.json in the state directory).
 */
export function simControl(call: (member: string, ...args: string[]) => Promise<string>, writeReleases: (text: string) => Promise<void> | void): SimControl {
  return {
    async setFaults(faults) {
      await call("SetFaults", `string:${JSON.stringify(faults)}`);
    },
    async faults() {
      return JSON.parse(await call("GetFaults")) as Required<SimFaults>;
    },
    async startForeignTransaction(durationMs, title = "upgrade (another client)") {
      await call("StartForeignTransaction", `uint32:${durationMs}`, `string:${title}`);
    },
    async setAvailable(releases) {
      await writeReleases(releasesFile(releases));
    },
  };
}
