import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { isAgentError } from "../../src/errors.js";
import { createLogindWatcher } from "../../src/host/logind.js";
import { startPrivateBus, type PrivateBus } from "../helpers/dbus-daemon.js";
import { startLogindDouble, type LogindDouble } from "../helpers/logind.js";

let bus: PrivateBus;
let logind: LogindDouble;

/** The environment the watcher is given; process.env is left alone, so the address must come from here. */
function envFor(address: string): NodeJS.ProcessEnv {
  return { DBUS_SYSTEM_BUS_ADDRESS: address };
}

before(async () => {
  bus = await startPrivateBus();
  logind = await startLogindDouble({ busAddress: bus.address });
});

after(async () => {
  await logind?.stop();
  await bus?.stop();
});

test("sessions at a terminal are interactive; ones without a usable TTY are not", async () => {
  logind.set([
    { id: "3", uid: 1000, user: "core", tty: "pts/0", type: "tty", remote: true },
    { id: "4", uid: 1001, user: "alice", tty: "tty1", type: "tty" },
    { id: "c1", uid: 0, user: "root", tty: "", type: "unspecified", class: "background" },
    { id: "5", uid: 1002, user: "bob", tty: "n/a", type: "unspecified" },
    { id: "6", uid: 42, user: "gdm", tty: "tty2", type: "wayland", class: "greeter" },
    { id: "7", uid: 1003, user: "carol", tty: "pts/1", type: "tty", state: "closing" },
  ]);
  const sessions = await createLogindWatcher({ env: envFor(bus.address) }).listInteractiveSessions();
  assert.deepEqual(sessions, [
    { id: "3", user: "core", tty: "pts/0" },
    { id: "4", user: "alice", tty: "tty1" },
  ]);
});

test("a login that happens later is seen by the next question", async () => {
  const watcher = createLogindWatcher({ env: envFor(bus.address) });
  logind.set([]);
  assert.deepEqual(await watcher.listInteractiveSessions(), []);
  logind.set([{ id: "12", user: "core", tty: "pts/3" }]);
  assert.deepEqual(await watcher.listInteractiveSessions(), [{ id: "12", user: "core", tty: "pts/3" }]);
  logind.set([]);
  assert.deepEqual(await watcher.listInteractiveSessions(), []);
});

test("only inhibitors that block shutdown are reported, with who and why", async () => {
  logind.set(
    [],
    [
      { what: "shutdown", who: "etcd-backup", why: "snapshot in progress", mode: "block", uid: 0, pid: 811 },
      { what: "sleep:shutdown", who: "packagekit", why: "installing", mode: "block", uid: 0, pid: 90 },
      { what: "shutdown:sleep", who: "NetworkManager", why: "tear down links", mode: "delay", uid: 0, pid: 700 },
      { what: "sleep", who: "GNOME", why: "lock screen", mode: "block", uid: 1000, pid: 2000 },
      { what: "handle-power-key:idle", who: "desktop", why: "presentation", mode: "block", uid: 1000, pid: 2001 },
    ],
  );
  const inhibitors = await createLogindWatcher({ env: envFor(bus.address) }).listBlockInhibitors();
  assert.deepEqual(inhibitors, [
    { what: "shutdown", who: "etcd-backup", why: "snapshot in progress", mode: "block", uid: 0, pid: 811 },
    { what: "sleep:shutdown", who: "packagekit", why: "installing", mode: "block", uid: 0, pid: 90 },
  ]);
});

test("no logind on the bus is a HOST_IO error naming the D-Bus method", async () => {
  const empty = await startPrivateBus();
  try {
    const watcher = createLogindWatcher({ env: envFor(empty.address) });
    await assert.rejects(watcher.listInteractiveSessions(), (e) => {
      assert.ok(isAgentError(e));
      assert.equal(e.code, "HOST_IO");
      assert.equal(e.where, "org.freedesktop.login1.Manager.ListSessions");
      assert.equal(e.message, "systemd-logind is not running");
      assert.ok(e.hint);
      return true;
    });
    await assert.rejects(watcher.listBlockInhibitors(), (e) => {
      assert.ok(isAgentError(e));
      assert.equal(e.code, "HOST_IO");
      assert.equal(e.where, "org.freedesktop.login1.Manager.ListInhibitors");
      return true;
    });
  } finally {
    await empty.stop();
  }
});

test("an unreachable system bus is a HOST_IO error, not a hang", async () => {
  const watcher = createLogindWatcher({ env: envFor("unix:path=/nonexistent/ua-test-bus.sock") });
  await assert.rejects(watcher.listInteractiveSessions(), (e) => {
    assert.ok(isAgentError(e));
    assert.equal(e.code, "HOST_IO");
    assert.equal(e.where, "org.freedesktop.login1.Manager.ListSessions");
    assert.match(e.message, /^cannot ask logind: .*ENOENT/);
    return true;
  });
});
