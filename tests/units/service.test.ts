import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SERVICE, hasTool, readService, runTool, single, values } from "./unit-file.js";

/** The ceiling from the issue: `systemd-analyze security` rates 0 (locked down) to 10 (unsandboxed). */
const MAX_EXPOSURE = 2.5;

describe("update-agent.service settings", () => {
  const unit = readService();

  test("is a notify service with a watchdog, restarted after failures", () => {
    assert.equal(single(unit, "Service", "Type"), "notify");
    // The agent is not root, so its messages come from a systemd-notify child: only "all" accepts them.
    assert.equal(single(unit, "Service", "NotifyAccess"), "all");
    const watchdog = /^(\d+)s$/.exec(single(unit, "Service", "WatchdogSec"));
    assert.ok(watchdog && Number(watchdog[1]) >= 60, "WatchdogSec= is generous (>= 60 s) so a slow tick is not a restart");
    assert.equal(single(unit, "Service", "Restart"), "on-failure");
    assert.equal(single(unit, "Service", "RestartSec"), "10s");
    assert.equal(single(unit, "Service", "ExecStart"), "/usr/libexec/update-agent/agentd");
    assert.equal(single(unit, "Service", "ExecReload"), "/bin/kill -HUP $MAINPID");
    assert.equal(single(unit, "Service", "SyslogIdentifier"), "update-agent");
  });

  test("starts only on a booted, healthy system, after the network", () => {
    assert.deepEqual(values(unit, "Unit", "ConditionPathExists"), ["!/run/ostree-live"]);
    assert.ok(values(unit, "Unit", "Requires").join(" ").split(/\s+/).includes("boot-complete.target"));
    const after = values(unit, "Unit", "After").join(" ").split(/\s+/);
    for (const target of ["boot-complete.target", "network-online.target", "multi-user.target"]) {
      assert.ok(after.includes(target), `After= includes ${target}`);
    }
    assert.ok(values(unit, "Unit", "Wants").join(" ").includes("network-online.target"));
    assert.deepEqual(values(unit, "Install", "WantedBy"), ["multi-user.target"]);
  });

  test("runs as update-agent with no capabilities, in tty for broadcasts", () => {
    assert.equal(single(unit, "Service", "User"), "update-agent");
    assert.equal(single(unit, "Service", "Group"), "update-agent");
    assert.equal(single(unit, "Service", "SupplementaryGroups"), "tty");
    assert.equal(single(unit, "Service", "CapabilityBoundingSet"), "");
    assert.equal(single(unit, "Service", "AmbientCapabilities"), "");
    assert.equal(single(unit, "Service", "NoNewPrivileges"), "yes");
  });

  test("can write only its own directories and the MOTD fragments", () => {
    assert.equal(single(unit, "Service", "ProtectSystem"), "strict");
    assert.equal(single(unit, "Service", "StateDirectory"), "update-agent");
    assert.equal(single(unit, "Service", "RuntimeDirectory"), "update-agent");
    assert.equal(single(unit, "Service", "RuntimeDirectoryPreserve"), "yes");
    assert.deepEqual(values(unit, "Service", "ReadWritePaths"), ["-/run/motd.d"]);
    assert.equal(single(unit, "Service", "UMask"), "0022");
  });

  test("reaches terminals but no other device", () => {
    assert.equal(single(unit, "Service", "DevicePolicy"), "closed");
    assert.deepEqual(values(unit, "Service", "DeviceAllow").sort(), ["char-hvc w", "char-pts w", "char-tty w", "char-ttyAMA w"]);
    assert.deepEqual(values(unit, "Service", "PrivateDevices"), [], "PrivateDevices= would hide /dev/tty1 and serial consoles");
  });

  test("keeps the sockets the agent uses and leaves V8's JIT alone", () => {
    assert.equal(single(unit, "Service", "RestrictAddressFamilies"), "AF_UNIX AF_INET AF_INET6");
    assert.deepEqual(values(unit, "Service", "IPAddressDeny"), [], "the graph and lock servers can be anywhere");
    assert.deepEqual(values(unit, "Service", "PrivateNetwork"), []);
    assert.deepEqual(values(unit, "Service", "MemoryDenyWriteExecute"), [], "V8 needs writable+executable mappings");
    assert.equal(single(unit, "Service", "SystemCallErrorNumber"), "EPERM", "a filtered call must fail, not kill the agent");
    assert.ok(values(unit, "Service", "SystemCallFilter").includes("@system-service"));
    // /proc/cmdline (platform id) and /proc/sys/kernel/random/boot_id are read: no ProcSubset=pid.
    assert.deepEqual(values(unit, "Service", "ProcSubset"), []);
  });
});

describe("systemd-analyze", { skip: hasTool("systemd-analyze") ? false : "systemd-analyze is not installed (apt-get install systemd)" }, () => {
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "ua-unit-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("verify accepts the unit (ExecStart pointed at an existing executable)", () => {
    // verify insists that ExecStart= exists; the real path only exists once the package is installed.
    const launcher = join(dir, "agentd");
    writeFileSync(launcher, "#!/bin/sh\nexit 0\n");
    chmodSync(launcher, 0o755);
    const copy = join(dir, "update-agent.service");
    const text = readFileSync(SERVICE, "utf8");
    assert.match(text, /^ExecStart=\/usr\/libexec\/update-agent\/agentd$/m);
    writeFileSync(copy, text.replace(/^ExecStart=.*$/m, `ExecStart=${launcher}`));
    const r = runTool("systemd-analyze", ["verify", "--man=no", copy]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), "", "no warnings (an unknown or misspelt directive is only a warning)");
  });

  test("verify would catch a missing ExecStart binary (the check is live)", () => {
    const r = runTool("systemd-analyze", ["verify", "--man=no", SERVICE]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /agentd is not executable/);
  });

  test(`security exposure is at most ${MAX_EXPOSURE}`, (t) => {
    const r = runTool("systemd-analyze", ["security", "--offline=yes", "--no-pager", SERVICE]);
    assert.equal(r.stderr.trim(), "", "the unit parses without warnings");
    const score = /Overall exposure level for update-agent\.service: (\d+(?:\.\d+)?)/.exec(r.stdout);
    assert.ok(score, `no score in:\n${r.stdout}`);
    const exposure = Number(score[1]);
    const open = r.stdout.split("\n").filter((l) => l.startsWith("✗")).map((l) => l.replace(/\s{2,}/g, "  ").trim());
    t.diagnostic(`systemd-analyze security --offline=yes: exposure ${exposure} (limit ${MAX_EXPOSURE})`);
    for (const line of open) t.diagnostic(`  ${line}`);
    console.log(`update-agent.service exposure: ${exposure} (limit ${MAX_EXPOSURE})`);
    assert.ok(exposure <= MAX_EXPOSURE, `exposure ${exposure} > ${MAX_EXPOSURE}; open items:\n${open.join("\n")}`);
  });
});
