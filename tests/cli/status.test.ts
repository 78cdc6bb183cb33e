import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { initialAgentState } from "../../src/agent/state.js";
import { busSocketMissing } from "../../src/cli/daemon.js";
import { startPrivateBus } from "../helpers/dbus-daemon.js";
import { agentctl, BOOTED, field, makeRoot, NO_BUS, removeRoots, serveAgent, stagedState, TARGET, writeState, type ServedAgent } from "./helpers.js";

after(removeRoots);

describe("agentctl status with agentd running", () => {
  let agent: ServedAgent;
  const root = makeRoot();
  before(async () => {
    agent = await serveAgent(stagedState(), { strategy: "periodic", booted: BOOTED, staged: { ...TARGET, finalizationLocked: true } });
  });
  after(() => agent.stop());

  test("shows the daemon's view: booted, staged, and why the reboot waits; exit 0", async () => {
    const { code, stdout, stderr } = await agentctl(agent.env, "--root", root, "status");
    assert.equal(code, 0);
    assert.equal(stderr, "");
    assert.equal(field(stdout, "Daemon"), "running");
    assert.equal(field(stdout, "Strategy"), "periodic");
    assert.equal(field(stdout, "Booted"), "41.20251110.3.0 (5a3b6c7d8e9f)");
    assert.equal(field(stdout, "Staged"), "41.20251125.3.0 (9f8e7d6c5b4a)");
    assert.equal(field(stdout, "Waiting"), "maintenance window: waiting for the next maintenance window");
    assert.match(stdout, /^ +opens Tue 2026-12-01 23:00 UTC, /m);
  });

  test("--pending-exit-77: 77 while a reboot into a staged update is pending, 0 otherwise", async () => {
    assert.equal((await agentctl(agent.env, "--root", root, "status", "--pending-exit-77")).code, 77);
    agent.setState({ ...initialAgentState(), phase: { kind: "idle" } });
    try {
      assert.equal((await agentctl(agent.env, "--root", root, "status", "--pending-exit-77")).code, 0);
      assert.equal((await agentctl(agent.env, "--root", root, "status")).code, 0);
    } finally {
      agent.setState(stagedState());
    }
  });

  test("--json: the status document with format_version 1", async () => {
    const { code, stdout } = await agentctl(agent.env, "--root", root, "status", "--json");
    assert.equal(code, 0);
    const doc = JSON.parse(stdout);
    assert.equal(doc.format_version, 1);
    assert.equal(doc.daemon, "running");
    assert.equal(doc.state, "staged");
    assert.equal(doc.pending_reboot, true);
    assert.deepEqual(doc.waiting, { kind: "window", message: "waiting for the next maintenance window", until: "2026-12-01T23:00:00Z" });
    assert.deepEqual(doc.staged, { ...{ version: TARGET.version, payload: TARGET.payload }, finalization_locked: true });
    for (const key of ["status_text", "strategy", "booted", "target", "progress", "last_check", "last_error", "paused_until", "deadend_reason", "denylist", "last_state_change"]) {
      assert.ok(key in doc, `${key} is part of the contract`);
    }
  });

  test("adds the boot verification recorded in the state file", async () => {
    const withBoot = makeRoot();
    writeState(withBoot, stagedState({ boot: { kind: "verified", release: { version: "41.20251110.3.0", payload: BOOTED.payload }, attempts: 2, at: "2026-11-10T08:00:00Z" } }));
    const { stdout } = await agentctl(agent.env, "--root", withBoot, "status");
    assert.match(field(stdout, "Boot check") ?? "", /^41\.20251110\.3\.0 verified Tue 2026-11-10 08:00 UTC, .* \(2 boots\)$/);
  });
});

describe("agentctl status with agentd not running", () => {
  test("says so on stderr, shows the state file, exits 3", async () => {
    const root = makeRoot();
    writeState(root, stagedState({ last_check: { at: "2026-12-01T20:50:00Z", outcome: "update" } }));
    const { code, stdout, stderr } = await agentctl(NO_BUS, "--root", root, "status");
    assert.equal(code, 3);
    assert.equal(stderr, "agentctl: agentd is not running; showing what the state file knows\n");
    assert.equal(field(stdout, "Daemon"), "not running (shown from the state file)");
    assert.equal(field(stdout, "State"), "staged; update staged: 41.20251125.3.0; reboot pending: waiting for the next maintenance window");
    assert.equal(field(stdout, "Target"), "41.20251125.3.0 (9f8e7d6c5b4a)");
    assert.match(field(stdout, "Last check") ?? "", /^Tue 2026-12-01 20:50 UTC, .*: update found$/);
  });

  test("a bus without agentd on it is 'not running' too", async () => {
    const bus = await startPrivateBus();
    try {
      const { code, stderr } = await agentctl({ DBUS_SYSTEM_BUS_ADDRESS: bus.address }, "--root", makeRoot(), "status");
      assert.equal(code, 3);
      assert.match(stderr, /agentd is not running/);
    } finally {
      await bus.stop();
    }
  });

  test("--pending-exit-77: not running wins, exit 3, since nobody vouches for the staged update", async () => {
    const root = makeRoot();
    writeState(root, stagedState());
    assert.equal((await agentctl(NO_BUS, "--root", root, "status", "--pending-exit-77")).code, 3);
  });

  test("--json says daemon: not-running", async () => {
    const root = makeRoot();
    writeState(root, stagedState());
    const { code, stdout } = await agentctl(NO_BUS, "--root", root, "status", "--json");
    assert.equal(code, 3);
    const doc = JSON.parse(stdout);
    assert.equal(doc.format_version, 1);
    assert.equal(doc.daemon, "not-running");
    assert.equal(doc.strategy, "unknown");
    assert.equal(doc.booted, null);
    assert.equal(doc.target.version, TARGET.version);
  });

  test("a corrupt state file: a warning, the initial state, exit 3, and the file left where it is", async () => {
    const root = makeRoot();
    const path = writeState(root, '{"schema_version": 1, "state": {"phase": ');
    const { code, stdout, stderr } = await agentctl(NO_BUS, "--root", root, "status");
    assert.equal(code, 3);
    assert.match(stderr, /agentctl: warning: .*state\.json: unusable state file: not valid JSON/);
    assert.match(field(stdout, "State") ?? "", /^reporting-steady; /);
    assert.equal(readFileSync(path, "utf8"), '{"schema_version": 1, "state": {"phase": ');
  });

  test("no state file yet: the initial state, exit 3", async () => {
    const root = makeRoot();
    const { code, stdout, stderr } = await agentctl(NO_BUS, "--root", root, "status");
    assert.equal(code, 3);
    assert.doesNotMatch(stderr, /warning/);
    assert.equal(field(stdout, "State"), "reporting-steady; initialization complete, auto-updates logic enabled");
    assert.equal(existsSync(`${root}/var/lib/update-agent/state.json`), false, "status never creates the state file");
  });

  test("an unknown option is a usage error, exit 2", async () => {
    const { code, stderr } = await agentctl(NO_BUS, "status", "--bogus");
    assert.equal(code, 2);
    assert.match(stderr, /--bogus/);
  });
});

describe("busSocketMissing", () => {
  const exists = (p: string) => p === "/run/dbus/system_bus_socket";
  const cases: [string | undefined, boolean][] = [
    [undefined, false],
    ["unix:path=/nowhere/bus.sock", true],
    ["unix:path=/nowhere/bus.sock,guid=0123", true],
    ["unix:path=/nowhere/bus.sock;unix:path=/run/dbus/system_bus_socket", false],
    ["unix:abstract=/tmp/dbus-x", false],
    ["tcp:host=127.0.0.1,port=1234", false],
  ];
  for (const [address, missing] of cases) {
    test(`${address ?? "(default)"} → ${missing ? "no bus" : "ask the bus"}`, () => {
      assert.equal(busSocketMissing(address === undefined ? {} : { DBUS_SYSTEM_BUS_ADDRESS: address }, exists), missing);
    });
  }
});
