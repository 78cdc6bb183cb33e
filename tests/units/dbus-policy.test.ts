/**
 * The agent's D-Bus policy file parses, as the system bus will parse it: dbus-daemon refuses to start on
 * a malformed included file. What the policy allows is tested in tests/api/agent-service.test.ts.
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startPrivateBus } from "../helpers/dbus-daemon.js";
import { UNITS, hasTool } from "./unit-file.js";

const POLICY = join(UNITS, "org.updateagent.Agent.conf");

describe("org.updateagent.Agent.conf", () => {
  const text = readFileSync(POLICY, "utf8");

  test("is a busconfig document naming only the agent's bus name", () => {
    assert.match(text, /^<\?xml version="1\.0" encoding="UTF-8"\?>/);
    assert.match(text, /<!DOCTYPE busconfig PUBLIC "-\/\/freedesktop\/\/DTD D-Bus Bus Configuration 1\.0\/\/EN"/);
    const names = new Set([...text.matchAll(/(?:own|send_destination)="([^"]+)"/g)].map((m) => m[1]));
    assert.deepEqual([...names], ["org.updateagent.Agent"]);
  });

  test("lets only root and update-agent own the name", () => {
    const owners = [...text.matchAll(/<policy ([^>]+)>([\s\S]*?)<\/policy>/g)]
      .filter((m) => /<allow own=/.test(m[2]!))
      .map((m) => m[1]);
    assert.deepEqual(owners.sort(), ['user="root"', 'user="update-agent"']);
  });

  describe("in a real dbus-daemon", { skip: hasTool("dbus-daemon") ? false : "dbus-daemon is not installed (apt-get install dbus)" }, () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), "ua-policy-"));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    test("the bus starts with the policy included", async () => {
      const bus = await startPrivateBus({ policyFiles: [POLICY], strict: true });
      await bus.stop();
    });

    test("a malformed copy stops the bus from starting (the check is live)", async () => {
      const broken = join(dir, "broken.conf");
      writeFileSync(broken, text.replace("</busconfig>", ""));
      await assert.rejects(startPrivateBus({ policyFiles: [broken], strict: true }), /Error in file/);
    });
  });
});
