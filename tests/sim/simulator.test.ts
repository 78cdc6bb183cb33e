/**
 * The simulator itself: it must look like rpm-ostreed on the wire (same interfaces as the upstream
 * XML, same transaction protocol, same busy/join rules) and keep its deployments like a sysroot does
 * across daemon restarts and reboots. Everything here goes through a real private dbus-daemon.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DBusError, Message, Variant, type MessageBus } from "@jellybrick/dbus-next";
import { connectSystemBus } from "../../src/host/dbus.js";
import { openPeerConnection, rawConnectionClass, type PeerConnection, type PeerSignal } from "../../src/deploy/peer-connection.js";
import { startPrivateBus, type PrivateBus } from "../helpers/dbus-daemon.js";
import { startSimulator, type Simulator, type SimulatorOptions } from "./harness.js";
import { interfaceShapes } from "./introspection.js";
import { at, bootedFrom, OCI_RELEASES } from "./sample-releases.js";

const XML = readFileSync(new URL("../fixtures/rpm-ostree/org.projectatomic.rpmostree1.xml", import.meta.url), "utf8");
const NAME = "org.projectatomic.rpmostree1";
const SYSROOT_PATH = "/org/projectatomic/rpmostree1/Sysroot";
const OS_PATH = "/org/projectatomic/rpmostree1/fedora_coreos";
const OS = "org.projectatomic.rpmostree1.OS";
const TXN = "org.projectatomic.rpmostree1.Transaction";
const digest1 = at(OCI_RELEASES, 1).payload.split("@")[1]!;
const deployArgs = (): unknown[] => [digest1, { "lock-finalization": new Variant("b", true) }];

let bus: PrivateBus | undefined;
let client: MessageBus | undefined;
before(async () => {
  bus = await startPrivateBus();
  client = connectSystemBus({ DBUS_SYSTEM_BUS_ADDRESS: bus.address });
});
after(async () => {
  client?.disconnect();
  await bus?.stop();
});

async function withSim(options: Partial<SimulatorOptions>, body: (sim: Simulator) => Promise<void>): Promise<void> {
  const sim = await startSimulator({
    busAddress: bus!.address,
    booted: bootedFrom(at(OCI_RELEASES, 0), "oci"),
    available: OCI_RELEASES,
    ...options,
  });
  try {
    await body(sim);
  } finally {
    await sim.stop();
  }
}

async function call(path: string, iface: string, member: string, signature = "", body: unknown[] = [], on = client!): Promise<unknown[]> {
  const reply = await on.call(new Message({ destination: NAME, path, interface: iface, member, signature, body }));
  return reply?.body ?? [];
}

async function callError(promise: Promise<unknown>): Promise<DBusError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof DBusError) return e;
    throw e;
  }
  throw new Error("expected a D-Bus error");
}

interface Peer {
  connection: PeerConnection;
  signals: PeerSignal[];
  finished: Promise<unknown[]>;
  start(): Promise<boolean>;
}

async function peer(address: string): Promise<Peer> {
  const signals: PeerSignal[] = [];
  let onFinished: (body: unknown[]) => void = () => {};
  const finished = new Promise<unknown[]>((resolve) => (onFinished = resolve));
  const connection = await openPeerConnection(address, {
    connectionClass: rawConnectionClass(client!),
    timeoutMs: 20_000,
    onSignal: (s) => {
      signals.push(s);
      if (s.member === "Finished") onFinished(s.body);
    },
  });
  return {
    connection,
    signals,
    finished,
    async start() {
      const [started] = await connection.call({ interface: TXN, member: "Start", timeoutMs: 20_000 });
      return started === true;
    },
  };
}

describe("simulator: interfaces", () => {
  it("exports exactly the interfaces of the upstream introspection XML", async () => {
    await withSim({ faults: { hangTransactions: 1 } }, async () => {
      const upstream = interfaceShapes(XML);
      const [sysrootXml] = await call(SYSROOT_PATH, "org.freedesktop.DBus.Introspectable", "Introspect");
      const [osXml] = await call(OS_PATH, "org.freedesktop.DBus.Introspectable", "Introspect");
      const exported = { ...interfaceShapes(String(sysrootXml)), ...interfaceShapes(String(osXml)) };
      for (const name of [`${NAME}.Sysroot`, OS, `${NAME}.OSExperimental`]) {
        assert.ok(Object.keys(upstream[name]?.methods ?? {}).length > 0, `the fixture defines ${name}`);
        assert.deepEqual(exported[name], upstream[name], name);
      }
      assert.equal(Object.keys(exported[OS]?.methods ?? {}).length, 27);

      const [address] = await call(OS_PATH, OS, "Deploy", "sa{sv}", deployArgs());
      const txn = await peer(String(address));
      try {
        const [txnXml] = await txn.connection.call({ interface: "org.freedesktop.DBus.Introspectable", member: "Introspect", timeoutMs: 20_000 });
        assert.ok(upstream[TXN]?.signals.DownloadProgress === "(tt),(uu),(uuu),(uuut),(uu),(tt)");
        assert.deepEqual(interfaceShapes(String(txnXml))[TXN], upstream[TXN]);
      } finally {
        txn.connection.close();
      }
    });
  });

  it("answers like rpm-ostreed for GetOS, unknown OS names, bad cleanup types and methods it does not simulate", async () => {
    await withSim({}, async () => {
      assert.deepEqual(await call(SYSROOT_PATH, `${NAME}.Sysroot`, "GetOS", "s", [""]), [OS_PATH]);
      const notFound = await callError(call(SYSROOT_PATH, `${NAME}.Sysroot`, "GetOS", "s", ["nope"]));
      assert.equal(notFound.text, 'OS name "nope" not found');
      const invalid = await callError(call(OS_PATH, OS, "Cleanup", "as", [["everything"]]));
      assert.equal(invalid.text, "Invalid cleanup type: everything");
      const unsupported = await callError(call(OS_PATH, OS, "ListRepos"));
      assert.equal(unsupported.type, "org.freedesktop.DBus.Error.NotSupported");
    });
  });
});

describe("simulator: transaction protocol", () => {
  it("starts once, attaches later clients, re-emits Finished to a client that comes after the end", async () => {
    await withSim({ faults: { progressSignals: 5, progressIntervalMs: 100 } }, async () => {
      const [address] = await call(OS_PATH, OS, "Deploy", "sa{sv}", deployArgs());
      const first = await peer(String(address));
      const second = await peer(String(address));
      try {
        assert.equal(await first.start(), true);
        assert.equal(await second.start(), false);
        assert.deepEqual(await first.finished, [true, ""]);
        assert.deepEqual(await second.finished, [true, ""]);
        assert.ok(second.signals.some((s) => s.member === "DownloadProgress"), "an attached client sees progress too");

        const late = await peer(String(address));
        try {
          assert.equal(await late.start(), false);
          assert.deepEqual(await late.finished, [true, ""]);
          assert.deepEqual(late.signals.map((s) => s.member), ["Finished"], "only Finished is replayed");
        } finally {
          late.connection.close();
        }
      } finally {
        first.connection.close();
        second.connection.close();
      }
    });
  });

  it("joins an identical call and refuses a different one with G_IO_ERROR_BUSY", async () => {
    await withSim({ faults: { hangTransactions: 1 } }, async (sim) => {
      const [address] = await call(OS_PATH, OS, "Deploy", "sa{sv}", deployArgs());
      const [again] = await call(OS_PATH, OS, "Deploy", "sa{sv}", deployArgs());
      assert.equal(again, address);
      const busy = await callError(call(OS_PATH, OS, "Cleanup", "as", [["pending-deploy"]]));
      assert.equal(busy.type, "org.gtk.GDBus.UnmappedGError.Quark._g_2dio_2derror_2dquark.Code26");
      assert.match(busy.text ?? "", /^Transaction in progress: /);
      assert.equal((await sim.dump()).transaction?.[0], "Deploy");
    });
  });

  it("cancels a transaction whose caller leaves the bus before calling Start", async () => {
    await withSim({}, async (sim) => {
      const leaving = connectSystemBus({ DBUS_SYSTEM_BUS_ADDRESS: bus!.address });
      await call(OS_PATH, OS, "Deploy", "sa{sv}", deployArgs(), leaving);
      assert.equal((await sim.dump()).transaction?.[0], "Deploy");
      leaving.disconnect();
      for (let i = 0; i < 200 && (await sim.dump()).transaction !== null; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal((await sim.dump()).transaction, null);
      assert.equal((await sim.dump()).records.some((r) => r.staged), false);
    });
  });
});

describe("simulator: sysroot across restarts and reboots", () => {
  async function stageAndRun(address: string): Promise<unknown[]> {
    const txn = await peer(address);
    try {
      await txn.start();
      return await txn.finished;
    } finally {
      txn.connection.close();
    }
  }

  it("keeps deployments and the driver across a daemon restart; a reboot clears the driver", async () => {
    await withSim({}, async (sim) => {
      const register = [{ "register-driver": new Variant("s", "update-agent") }];
      assert.deepEqual(await stageAndRun(String((await call(OS_PATH, OS, "Deploy", "sa{sv}", ["", ...register]))[0])), [true, ""]);
      assert.deepEqual(await stageAndRun(String((await call(OS_PATH, OS, "Deploy", "sa{sv}", deployArgs()))[0])), [true, ""]);
      await sim.restart();
      const dump = await sim.dump();
      assert.equal(dump.records[0]?.staged, true);
      assert.equal(dump["update-driver"]?.["driver-name"], "update-agent");

      // never finalized: a reboot does not apply a finalization-locked deployment
      const booted = await sim.bootPending();
      assert.equal(booted.version, at(OCI_RELEASES, 0).version);
      const after = await sim.dump();
      assert.equal(after.records.length, 1);
      assert.equal(after["update-driver"], null);
    });
  });

  it("notices a real reboot (a new kernel boot id) at start and boots what that reboot applied", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "ua-sim-reboot-"));
    try {
      await withSim({ stateDir }, async () => {
        await stageAndRun(String((await call(OS_PATH, OS, "Deploy", "sa{sv}", deployArgs()))[0]));
        const checksum = new Variant("s", digest1);
        await stageAndRun(String((await call(OS_PATH, OS, "FinalizeDeployment", "a{sv}", [{ checksum }]))[0]));
      });
      const statePath = join(stateDir, "state.json");
      const state = JSON.parse(readFileSync(statePath, "utf8")) as Record<string, unknown>;
      writeFileSync(statePath, JSON.stringify({ ...state, bootId: "a-previous-boot" }));
      await withSim({ stateDir }, async (sim) => {
        const dump = await sim.dump();
        assert.deepEqual(dump.records.map((r) => [r.version, r.booted]), [
          [at(OCI_RELEASES, 1).version, true],
          [at(OCI_RELEASES, 0).version, false],
        ]);
      });
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it("runs the reboot command on finalize, refuses new transactions, then boots the finalized deployment", async () => {
    await withSim({ rebootCommand: "touch rebooted" }, async (sim) => {
      await stageAndRun(String((await call(OS_PATH, OS, "Deploy", "sa{sv}", deployArgs()))[0]));
      const checksum = new Variant("s", digest1);
      assert.deepEqual(await stageAndRun(String((await call(OS_PATH, OS, "FinalizeDeployment", "a{sv}", [{ checksum }]))[0])), [true, ""]);
      const marker = join(sim.stateDir, "rebooted"); // the command runs in the state directory
      for (let i = 0; i < 200 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(existsSync(marker), "the reboot command ran");
      const refused = await callError(call(OS_PATH, OS, "Cleanup", "as", [["pending-deploy"]]));
      assert.equal(refused.text, "Reboot initiated, cannot start new transaction");

      const booted = await sim.bootPending();
      assert.equal(booted.version, at(OCI_RELEASES, 1).version);
      const dump = await sim.dump();
      assert.deepEqual(dump.records.map((r) => [r.version, r.booted]), [
        [at(OCI_RELEASES, 1).version, true],
        [at(OCI_RELEASES, 0).version, false],
      ]);
      assert.equal(dump.rebooting, false);
      assert.equal(dump.boots.length, 1);
    });
  });
});
