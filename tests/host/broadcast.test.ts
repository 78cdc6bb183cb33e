import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { broadcast, formatBroadcast, formatBroadcastTime, formatDuration } from "../../src/host/broadcast.js";
import { createLogger } from "../../src/host/log.js";

test("remaining time reads like Zincati's", () => {
  const table: Array<[number, string]> = [
    [1, "1 second"],
    [2, "2 seconds"],
    [59, "59 seconds"],
    [60, "1 minute"],
    [61, "1 minute and 1 second"],
    [90, "1 minute and 30 seconds"],
    [120, "2 minutes"],
    [600, "10 minutes"],
    [42 * 60 + 23, "42 minutes and 23 seconds"],
    [90 * 60, "90 minutes"],
    [0, "0 seconds"],
  ];
  for (const [secs, text] of table) assert.equal(formatDuration(secs), text, `${secs} s`);
});

test("broadcast times are strftime %a %Y-%m-%d %H:%M:%S %Z in UTC", () => {
  assert.equal(formatBroadcastTime(new Date("2021-05-14T20:48:42Z")), "Fri 2021-05-14 20:48:42 UTC");
  assert.equal(formatBroadcastTime(new Date("2024-01-07T03:04:05.999+02:00")), "Sun 2024-01-07 01:04:05 UTC");
});

test("the broadcast text is Zincati's, from update-agent", () => {
  assert.equal(
    formatBroadcast("40.20240504.3.0", 600, new Date("2021-05-14T20:48:42Z")),
    [
      "",
      "Broadcast message from update-agent at Fri 2021-05-14 20:48:42 UTC:",
      "New update 40.20240504.3.0 is available and has been deployed.",
      "If permitted by the update strategy, update-agent will reboot into this update when",
      "all interactive users have logged out, or in 10 minutes, whichever comes",
      "earlier. Please log out of all active sessions in order to let the auto-update",
      "process continue.",
      "",
    ].join("\n"),
  );
  assert.match(formatBroadcast("v", 61, new Date(0)), /or in 1 minute and 1 second, whichever/);
});

function fakeNode() {
  const root = mkdtempSync(join(tmpdir(), "ua-tty-"));
  mkdirSync(join(root, "dev/pts"), { recursive: true });
  const lines: string[] = [];
  const log = createLogger({ level: "debug", write: (r) => lines.push(...r.split("\n").filter(Boolean)) });
  return { root, log, lines, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

test("the message is appended to every session's terminal", async () => {
  const node = fakeNode();
  try {
    writeFileSync(join(node.root, "dev/pts/0"), "$ ls\n");
    writeFileSync(join(node.root, "dev/tty1"), "");
    const message = formatBroadcast("40.1", 600, new Date("2021-05-14T20:48:42Z"));
    const result = await broadcast({
      root: node.root,
      sessions: [
        { id: "3", user: "core", tty: "pts/0" },
        { id: "4", user: "alice", tty: "tty1" },
      ],
      message,
      log: node.log,
    });
    assert.deepEqual(result, { sessions: 2, delivered: 2, errors: [] });
    assert.equal(readFileSync(join(node.root, "dev/pts/0"), "utf8"), `$ ls\n${message}`);
    assert.equal(readFileSync(join(node.root, "dev/tty1"), "utf8"), message);
    assert.deepEqual(node.lines.filter((l) => !l.startsWith("<7>")), []);
  } finally {
    node.cleanup();
  }
});

test("a terminal that cannot be written is reported and the others still get the message", async () => {
  const node = fakeNode();
  try {
    writeFileSync(join(node.root, "dev/pts/0"), "");
    const result = await broadcast({
      root: node.root,
      sessions: [
        { id: "3", user: "core", tty: "pts/0" },
        { id: "9", user: "gone", tty: "pts/7" },
        { id: "10", user: "evil", tty: "../etc/passwd" },
      ],
      message: "hello\n",
      log: node.log,
    });
    assert.equal(result.sessions, 3);
    assert.equal(result.delivered, 1);
    assert.deepEqual(
      result.errors.map((e) => [e.code, e.where]),
      [
        ["HOST_IO", join(node.root, "dev/pts/7")],
        ["HOST_IO", join(node.root, "dev/../etc/passwd")],
      ],
    );
    assert.equal(readFileSync(join(node.root, "dev/pts/0"), "utf8"), "hello\n");
    assert.equal(existsSync(join(node.root, "dev/pts/7")), false, "a missing device is never created");
    assert.equal(existsSync(join(node.root, "etc/passwd")), false);
    assert.ok(node.lines.some((l) => l.startsWith(`<3>failed to write to ${join(node.root, "dev/pts/7")}: ENOENT`)));
    assert.ok(node.lines.includes("<4>3 interactive sessions found, but only broadcasted to 1"));
  } finally {
    node.cleanup();
  }
});

test("two sessions on one terminal see the message once", async () => {
  const node = fakeNode();
  try {
    writeFileSync(join(node.root, "dev/tty1"), "");
    const result = await broadcast({
      root: node.root,
      sessions: [
        { id: "1", user: "core", tty: "tty1" },
        { id: "2", user: "core", tty: "tty1" },
      ],
      message: "once\n",
      log: node.log,
    });
    assert.deepEqual(result, { sessions: 2, delivered: 2, errors: [] });
    assert.equal(readFileSync(join(node.root, "dev/tty1"), "utf8"), "once\n");
  } finally {
    node.cleanup();
  }
});
