import { test } from "node:test";
import assert from "node:assert/strict";
import { childEnv, createNotifier, startWatchdog } from "../../src/host/notify.js";
import { createLogger } from "../../src/host/log.js";
import { startNotifyListener, type NotifyListener } from "../helpers/notify-listener.js";

const isRoot = process.getuid?.() === 0;

function capturingLogger() {
  const lines: string[] = [];
  const log = createLogger({ level: "debug", write: (record) => lines.push(...record.split("\n").filter(Boolean)) });
  return { log, lines };
}

/** Sends a marker and waits for it: every datagram sent before it has then arrived too. */
async function flush(listener: NotifyListener, marker: string): Promise<void> {
  const probe = createNotifier({ env: { NOTIFY_SOCKET: listener.socketPath }, uid: 0, log: capturingLogger().log });
  await probe.status(marker);
  await listener.waitFor((d) => d.text === `STATUS=${marker}`);
}

test("readiness, status, reload and stop messages reach NOTIFY_SOCKET with their text", async () => {
  const listener = await startNotifyListener();
  try {
    const { log } = capturingLogger();
    const notifier = createNotifier({ env: { NOTIFY_SOCKET: listener.socketPath }, uid: 0, log });
    await notifier.status("update staged: 40.20240504.3.0");
    await notifier.ready();
    await notifier.reloading();
    await notifier.ready();
    await notifier.extendTimeout(90_000_000);
    await notifier.stopping();
    await listener.waitFor((d) => d.text === "STOPPING=1");

    const texts = listener.datagrams.map((d) => d.text);
    assert.deepEqual(texts.slice(0, 3), ["STATUS=update staged: 40.20240504.3.0", "READY=1", texts[2]]);
    assert.match(texts[2]!, /^RELOADING=1\nMONOTONIC_USEC=\d+$/);
    assert.deepEqual(texts.slice(3), ["READY=1", "EXTEND_TIMEOUT_USEC=90000000", "STOPPING=1"]);
    if (isRoot) {
      // As root, --no-block messages are credited to the agent itself: NotifyAccess=main accepts them.
      assert.ok(listener.datagrams.every((d) => d.pid === process.pid && d.fds === 0));
    }
  } finally {
    await listener.stop();
  }
});

test("a non-root agent waits on the barrier, so systemd reads the message before the sender exits", async () => {
  const listener = await startNotifyListener();
  try {
    const notifier = createNotifier({ env: { NOTIFY_SOCKET: listener.socketPath }, uid: 1000, log: capturingLogger().log });
    await notifier.status("periodically polling for updates");
    // The call has returned, so the barrier completed: both datagrams are already here.
    assert.deepEqual(
      listener.datagrams.map((d) => [d.text, d.fds]),
      [
        ["STATUS=periodically polling for updates", 0],
        ["BARRIER=1", 1],
      ],
    );
  } finally {
    await listener.stop();
  }
});

test("a multi-line status stays one STATUS= assignment", async () => {
  const listener = await startNotifyListener();
  try {
    const notifier = createNotifier({ env: { NOTIFY_SOCKET: listener.socketPath }, uid: 0, log: capturingLogger().log });
    await notifier.status("failed to stage:\n  disk full\nREADY=1");
    const datagram = await listener.waitFor((d) => d.text.startsWith("STATUS="));
    assert.equal(datagram.text, "STATUS=failed to stage: disk full READY=1");
  } finally {
    await listener.stop();
  }
});

test("without NOTIFY_SOCKET nothing is sent and nothing is logged", async () => {
  const listener = await startNotifyListener();
  try {
    const { log, lines } = capturingLogger();
    const notifier = createNotifier({ env: { PATH: process.env.PATH }, uid: 0, log });
    await notifier.ready();
    await notifier.status("idle");
    await notifier.watchdog();
    await notifier.stopping();
    await flush(listener, "probe");
    assert.deepEqual(
      listener.datagrams.map((d) => d.text),
      ["STATUS=probe"],
    );
    assert.deepEqual(lines, []);
  } finally {
    await listener.stop();
  }
});

test("a missing systemd-notify is reported once, then notifications are off", async () => {
  const { log, lines } = capturingLogger();
  const notifier = createNotifier({
    env: { NOTIFY_SOCKET: "/run/nothing-listens-here" },
    uid: 0,
    log,
    command: "/nonexistent/systemd-notify",
  });
  await notifier.ready();
  await notifier.status("one");
  await notifier.watchdog();
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^<4>\/nonexistent\/systemd-notify is not installed; service notifications .* are disabled/);
});

test("a notify socket nobody listens on is a warning, not a crash, and is said once", async () => {
  const { log, lines } = capturingLogger();
  const notifier = createNotifier({ env: { NOTIFY_SOCKET: "/run/ua-test-no-such.sock" }, uid: 0, log });
  await notifier.ready();
  await notifier.watchdog();
  const warnings = lines.filter((l) => l.startsWith("<4>"));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /^<4>failed to notify the service manager: .* message="READY=1" socket=\/run\/ua-test-no-such.sock$/);
});

test("children other than systemd-notify do not inherit the notify socket or watchdog", () => {
  const env = { PATH: "/usr/bin", NOTIFY_SOCKET: "/run/systemd/notify", WATCHDOG_USEC: "60000000", WATCHDOG_PID: "42", LANG: "C" };
  assert.deepEqual(childEnv(env), { PATH: "/usr/bin", LANG: "C" });
  assert.equal(env.NOTIFY_SOCKET, "/run/systemd/notify", "the agent's own environment is left alone");
});

test("the watchdog pings while the loop is alive and stops when it is not", async () => {
  const listener = await startNotifyListener();
  const { log, lines } = capturingLogger();
  const env = { NOTIFY_SOCKET: listener.socketPath, WATCHDOG_USEC: "100000" };
  const notifier = createNotifier({ env, uid: 0, log });
  let alive = true;
  let consultedWhileDead = 0;
  const stop = startWatchdog({
    env,
    notifier,
    log,
    isAlive: () => {
      if (!alive) consultedWhileDead++;
      return alive;
    },
  });
  try {
    const pings = () => listener.datagrams.filter((d) => d.text === "WATCHDOG=1").length;
    await listener.waitFor(() => pings() >= 3);

    alive = false;
    await waitUntil(() => consultedWhileDead >= 1);
    await flush(listener, "after-death");
    const pingsAtDeath = pings();
    await waitUntil(() => consultedWhileDead >= 4);
    await flush(listener, "later");
    assert.equal(pings(), pingsAtDeath, "no pings while the loop is stuck");
    assert.equal(lines.filter((l) => l.includes("withholding watchdog pings")).length, 1);

    alive = true;
    await listener.waitFor(() => pings() > pingsAtDeath);
    assert.ok(lines.some((l) => l.startsWith("<5>the agent loop is making progress again")));
  } finally {
    stop();
    await listener.stop();
  }
});

test("no watchdog pings when WATCHDOG_PID names another process or WATCHDOG_USEC is unset", async () => {
  const ours = await startNotifyListener();
  const theirs = await startNotifyListener();
  const unset = await startNotifyListener();
  const { log } = capturingLogger();
  let consulted = 0;
  const isAlive = () => {
    consulted++;
    return true;
  };
  const oursEnv = { NOTIFY_SOCKET: ours.socketPath, WATCHDOG_USEC: "100000", WATCHDOG_PID: String(process.pid) };
  const theirsEnv = { NOTIFY_SOCKET: theirs.socketPath, WATCHDOG_USEC: "100000", WATCHDOG_PID: String(process.pid + 1) };
  const unsetEnv = { NOTIFY_SOCKET: unset.socketPath };
  const stops = [
    startWatchdog({ env: theirsEnv, notifier: createNotifier({ env: theirsEnv, uid: 0, log }), isAlive, log }),
    startWatchdog({ env: unsetEnv, notifier: createNotifier({ env: unsetEnv, uid: 0, log }), isAlive, log }),
  ];
  assert.equal(consulted, 0);
  stops.push(startWatchdog({ env: oursEnv, notifier: createNotifier({ env: oursEnv, uid: 0, log }), isAlive: () => true, log }));
  try {
    // By the time our own watchdog has pinged three times, the others would have too.
    await ours.waitFor(() => ours.datagrams.filter((d) => d.text === "WATCHDOG=1").length >= 3);
    await flush(theirs, "probe");
    await flush(unset, "probe");
    assert.deepEqual(theirs.datagrams.map((d) => d.text), ["STATUS=probe"]);
    assert.deepEqual(unset.datagrams.map((d) => d.text), ["STATUS=probe"]);
    assert.equal(consulted, 0);
  } finally {
    for (const stop of stops) stop();
    await Promise.all([ours.stop(), theirs.stop(), unset.stop()]);
  }
});

async function waitUntil(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
