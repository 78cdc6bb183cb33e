import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmodSync } from "node:fs";
import { promisify } from "node:util";
import type { MessageBus } from "@jellybrick/dbus-next";
import { startPrivateBus, type PrivateBus } from "../helpers/dbus-daemon.js";
import { connectSystemBus } from "../../src/host/dbus.js";
import { exportAgentService, type AgentControl, type ExportedAgentService } from "../../src/api/agent-service.js";
import { AgentClient } from "../../src/api/agent-client.js";
import { statusView } from "../../src/agent/view.js";
import { initialAgentState, type AgentState } from "../../src/agent/state.js";

const run = promisify(execFile);
const NOBODY = 65534;

function fakeAgent() {
  let state: AgentState = { ...initialAgentState(), phase: { kind: "idle" } };
  const calls: string[] = [];
  const control: AgentControl = {
    view: () => statusView(state, { strategy: "immediate", booted: { version: "41.0", payload: "abc" } }, "running"),
    checkNow: () => calls.push("check"),
    applyNow: () => calls.push("apply"),
    pauseUntil: (d) => calls.push(`pause ${d.toISOString()}`),
    resume: () => calls.push("resume"),
  };
  return { control, calls, set: (s: AgentState) => (state = s) };
}

async function dbusSendAsNobody(bus: PrivateBus, args: string[]) {
  return run("setpriv", ["--reuid", String(NOBODY), "--regid", String(NOBODY), "--clear-groups", "dbus-send", `--bus=${bus.address}`, "--print-reply", ...args]).then(
    (r) => ({ ok: true, out: r.stdout }),
    (e: { stderr: string }) => ({ ok: false, out: e.stderr }),
  );
}

for (const strict of [false, true]) {
  const label = strict ? "with the shipped bus policy" : "on a permissive bus";
  describe(label, () => {
  let bus: PrivateBus;
  let conn: MessageBus;
  let service: ExportedAgentService;
  let agent: ReturnType<typeof fakeAgent>;

  before(async () => {
    bus = await startPrivateBus(strict ? { strict: true, policyFiles: [new URL("../../units/org.updateagent.Agent.conf", import.meta.url).pathname] } : {});
    chmodSync(bus.dir, 0o755);
    agent = fakeAgent();
    conn = connectSystemBus({ DBUS_SYSTEM_BUS_ADDRESS: bus.address });
    service = await exportAgentService(conn, agent.control, [0]);
  });
  after(async () => {
    await service.close();
    conn.disconnect();
    await bus.stop();
  });

  test(`${label}: agentctl reads the status document`, async () => {
    const client = AgentClient.connect({ DBUS_SYSTEM_BUS_ADDRESS: bus.address });
    try {
      const view = await client.status();
      assert.equal(view?.state, "idle");
      assert.equal(view?.booted?.version, "41.0");
      assert.equal(view?.daemon, "running");
    } finally {
      client.close();
    }
  });

  test(`${label}: root may call the control methods`, async () => {
    const client = AgentClient.connect({ DBUS_SYSTEM_BUS_ADDRESS: bus.address });
    try {
      await client.control("CheckNow");
      await client.control("PauseUntil", { signature: "t", body: [1_800_000_000] });
      assert.deepEqual(agent.calls.slice(-2), ["check", "pause 2027-01-15T08:00:00.000Z"]);
    } finally {
      client.close();
    }
  });

  test(`${label}: an unprivileged user may read properties but not call methods`, async () => {
    const read = await dbusSendAsNobody(bus, ["--dest=org.updateagent.Agent", "/org/updateagent/Agent", "org.freedesktop.DBus.Properties.Get", "string:org.updateagent.Agent1", "string:State"]);
    assert.equal(read.ok, true, read.out);
    assert.match(read.out, /"idle"/);
    const before = agent.calls.length;
    const call = await dbusSendAsNobody(bus, ["--dest=org.updateagent.Agent", "/org/updateagent/Agent", "org.updateagent.Agent1.ApplyNow"]);
    assert.equal(call.ok, false);
    assert.match(call.out, /AccessDenied/);
    assert.equal(agent.calls.length, before, "the method must not have run");
  });
  });
}

test("a daemon that is not on the bus reads as not running", async () => {
  const bus = await startPrivateBus();
  const client = AgentClient.connect({ DBUS_SYSTEM_BUS_ADDRESS: bus.address });
  try {
    assert.equal(await client.status(), undefined);
    await assert.rejects(client.control("CheckNow"), { code: "DAEMON_UNAVAILABLE" });
  } finally {
    client.close();
    await bus.stop();
  }
});
