import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { startPrivateBus } from "./dbus-daemon.js";

test("a private bus starts, answers ListNames, and stops", async () => {
  const bus = await startPrivateBus();
  try {
    const out = execFileSync("dbus-send", ["--bus=" + bus.address, "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus.ListNames"], { encoding: "utf8" });
    assert.match(out, /org\.freedesktop\.DBus/);
  } finally {
    await bus.stop();
  }
});
