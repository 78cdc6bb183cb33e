/**
 * Test rig for the rpm-ostree adapter: one private dbus-daemon per test file, one simulator and one
 * DeploymentManager per test, always torn down (even when the test fails).
 */
import { after, before } from "node:test";
import { connectRpmOstree, type RpmOstreeOptions } from "../../src/deploy/rpm-ostree.js";
import type { DeploymentManager, StageProgress } from "../../src/deploy/port.js";
import { startPrivateBus, type PrivateBus } from "../helpers/dbus-daemon.js";
import { startSimulator, type Simulator, type SimulatorOptions } from "../sim/harness.js";

export interface Rig {
  bus: PrivateBus;
  sim: Simulator;
  manager: DeploymentManager;
  /** Another manager on the same bus (a second agent, or a second client in the same agent). */
  another(options?: RpmOstreeOptions): DeploymentManager;
}

/** Generous for 2 shared cores, short enough that a hang fails the test instead of the suite. */
export const TEST_TIMEOUTS: RpmOstreeOptions = {
  callTimeoutMs: 20_000,
  transactionStartTimeoutMs: 20_000,
  transactionTimeoutMs: 60_000,
  busyWait: { initialMs: 100, maxMs: 500, totalMs: 60_000 },
  noReplyDelayMs: 50,
};

/** Registers before/after hooks for the file's bus; returns `withRig` for the tests. */
export function useBus(): (
  sim: Omit<SimulatorOptions, "busAddress">,
  body: (rig: Rig) => Promise<void>,
  managerOptions?: RpmOstreeOptions,
) => Promise<void> {
  let bus: PrivateBus | undefined;
  before(async () => {
    bus = await startPrivateBus();
  });
  after(async () => {
    await bus?.stop();
  });
  return async (simOptions, body, managerOptions = {}) => {
    if (bus === undefined) throw new Error("the private bus did not start");
    const activeBus = bus;
    const env = { DBUS_SYSTEM_BUS_ADDRESS: activeBus.address };
    const managers: DeploymentManager[] = [];
    const open = (options: RpmOstreeOptions = {}): DeploymentManager => {
      const manager = connectRpmOstree({ env, ...TEST_TIMEOUTS, ...managerOptions, ...options });
      managers.push(manager);
      return manager;
    };
    const sim = await startSimulator({ busAddress: activeBus.address, ...simOptions });
    try {
      await body({ bus: activeBus, sim, manager: open(), another: open });
    } finally {
      for (const manager of managers) await manager.close();
      await sim.stop();
    }
  };
}

/** Collects progress reports in order. */
export function progressLog(): { reports: StageProgress[]; onProgress: (p: StageProgress) => void } {
  const reports: StageProgress[] = [];
  return { reports, onProgress: (p) => reports.push(p) };
}
