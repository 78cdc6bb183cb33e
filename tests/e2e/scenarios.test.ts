/**
 * update-agent end to end on one node: the agent installed from its .deb into an e2e box, running as the
 * sandboxed User=update-agent service under the box's systemd, talking to the simulator as the box's
 * rpm-ostreed on the real system bus, to logind and polkitd, and to a graph server on the host's loopback.
 * The box really reboots. One box serves the whole file, in order: each scenario starts where the last one
 * left the node. Needs root (docs/e2e.md, "Scenarios").
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { SimCall, SimRelease } from "../sim/harness.js";
import { at, bootedFrom, FCOS_IMAGE, OCI_RELEASES } from "../sim/sample-releases.js";
import { AGENT_UNIT, agentDeb, followReboots, installAgent, REQUIRED_CHECKS_DIR, sleep, startGraphServer, type BoxAgent, type GraphServer } from "./agent-in-box.js";
import { Box, EXIT_REBOOT } from "./box.js";
import { buildRootfs } from "./rootfs.js";
import { installSimulator, SIM_UNIT, type BoxSimulator } from "./sim-in-box.js";

const NOT_ROOT = process.getuid?.() !== 0 ? "the e2e box needs root" : false;
const [R0, R1, R2] = [at(OCI_RELEASES, 0), at(OCI_RELEASES, 1), at(OCI_RELEASES, 2)];
/** Releases whose required health check fails. */
const BAD: SimRelease = { version: "43.20251208.3.0", payload: `${FCOS_IMAGE}@sha256:${"4".repeat(64)}`, stream: "stable" };
const BAD2: SimRelease = { version: "43.20251222.3.0", payload: `${FCOS_IMAGE}@sha256:${"5".repeat(64)}`, stream: "stable" };
const RELEASES = [R0, R1, R2, BAD, BAD2];

const AGENT_DBUS = ["org.updateagent.Agent", "/org/updateagent/Agent", "org.updateagent.Agent1"];
const SLOW_SIM_DROP_IN = `/run/systemd/system/${SIM_UNIT}.d/50-slow-start.conf`;
/** An admin's local rule that takes logind's reboot away from the agent (sorted before the package's rule). */
const DENY_REBOOT_RULE = "/etc/polkit-1/rules.d/00-e2e-deny-agent-reboot.rules";
const DENY_REBOOT_RULE_TEXT = `// e2e box only: what a node looks like when logind refuses the agent's reboot.
polkit.addRule(function (action, subject) {
    if (subject.user === "update-agent" && action.id.indexOf("org.freedesktop.login1.reboot") === 0) return polkit.Result.NO;
});
`;
const HEALTH_CHECK = `#!/bin/sh
# Fails on the bad releases only: checks see what is booted.
case "$UPDATE_AGENT_BOOTED_VERSION" in
  ${BAD.version}|${BAD2.version}) echo "the application does not start on $UPDATE_AGENT_BOOTED_VERSION"; exit 1 ;;
esac
echo "ok on $UPDATE_AGENT_BOOTED_VERSION"
`;

const digestOf = (r: SimRelease) => r.payload.slice(r.payload.indexOf("@") + 1);
const stagingCalls = (calls: SimCall[], r: SimRelease) =>
  calls.filter((c) => ["Deploy", "UpdateDeployment", "Rebase"].includes(c.method) && JSON.stringify(c.args).includes(digestOf(r)));
const finalizeCalls = (calls: SimCall[]) => calls.filter((c) => c.method === "FinalizeDeployment");

describe("update-agent in a box, installed from its .deb", { skip: NOT_ROOT }, () => {
  const startedAt = Date.now();
  let box: Box;
  let sim: BoxSimulator;
  let graph: GraphServer;
  let agent: BoxAgent;

  before(async () => {
    const [rootfs, deb] = await Promise.all([buildRootfs(), agentDeb()]);
    graph = await startGraphServer([R0]);
    box = await Box.boot({ rootfs });
    sim = await installSimulator(box, {
      booted: bootedFrom(R0, "oci"),
      available: RELEASES,
      // A download a status poll can see.
      faults: { progressSignals: 5, progressIntervalMs: 600 },
    });
    agent = await installAgent(box, { deb, graphUrl: graph.url });
  });
  after(async () => {
    await box?.destroy();
    await graph?.close();
    process.stdout.write(`# e2e scenarios (one box): ${((Date.now() - startedAt) / 1000).toFixed(1)} s\n`);
  });

  it("installs from the .deb with the package's files, user and directories, and leaves the service off", async () => {
    assert.match(agent.installLog, /Setting up update-agent/);
    const files = await box.run(["dpkg", "-L", "update-agent"]);
    for (const path of [
      "/usr/lib/systemd/system/update-agent.service",
      "/usr/libexec/update-agent/agentd",
      "/usr/bin/agentctl",
      "/usr/share/polkit-1/rules.d/update-agent.rules",
      "/usr/share/dbus-1/system.d/org.updateagent.Agent.conf",
    ]) {
      assert.ok(files.split("\n").includes(path), `${path} is not in the package`);
    }
    assert.match(await box.run(["getent", "passwd", "update-agent"]), /^update-agent:x:\d+:\d+:/);
    assert.equal((await box.run(["stat", "-c", "%U %a", "/var/lib/update-agent", "/etc/update-agent/check/required.d"])).trim(), "update-agent 755\nroot 755");
    assert.equal((await box.exec(["systemctl", "is-enabled", AGENT_UNIT])).stdout.trim(), "disabled");
  });

  it("starts as Type=notify: activating until READY=1, then active and serving its D-Bus API", async () => {
    // rpm-ostreed (activated by the agent's first call) takes 4 s to start, so the agent's start-up is long enough to watch.
    await box.writeFile(SLOW_SIM_DROP_IN, "[Service]\nExecStartPre=/bin/sleep 4\n");
    await box.run(["systemctl", "daemon-reload"]);
    await box.run(["systemctl", "enable", AGENT_UNIT]);
    await box.run(["systemctl", "start", "--no-block", AGENT_UNIT]);
    const seen: string[] = [];
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { ActiveState, SubState } = await agent.show(["ActiveState", "SubState"]);
      const state = `${ActiveState}/${SubState}`;
      if (seen.at(-1) !== state) seen.push(state);
      if (ActiveState === "active" || ActiveState === "failed" || Date.now() > deadline) break;
      await sleep(50);
    }
    // READY=1 comes after the D-Bus service is exported: once active, the API answers.
    const read = await box.run(["busctl", "get-property", ...AGENT_DBUS, "State"]);
    // (The start job may not have begun at the first look.)
    assert.deepEqual(seen.filter((st, i) => !(i === 0 && st === "inactive/dead")), ["activating/start", "active/running"], `states seen: ${seen.join(", ")}`);
    assert.match(read, /^s "/);
    await box.run(["rm", "-f", SLOW_SIM_DROP_IN]);
    await box.run(["systemctl", "daemon-reload"]);

    const unit = await agent.show(["Type", "NotifyAccess", "WatchdogUSec", "User", "NRestarts", "MainPID"]);
    assert.deepEqual({ ...unit, MainPID: undefined }, { Type: "notify", NotifyAccess: "all", WatchdogUSec: "10s", User: "update-agent", NRestarts: "0", MainPID: undefined });
    assert.equal((await box.run(["ps", "-o", "user=", "-p", unit.MainPID!])).trim(), "update-agent");
    const status = await agent.waitForStatus("checked the graph", (s) => s.last_check !== null);
    assert.equal(status.daemon, "running");
    assert.equal(status.state, "idle");
    assert.equal(status.strategy, "immediate");
    assert.equal(status.booted?.version, R0.version);
    assert.equal(status.last_check?.outcome, "no-update");
  });

  it("updates: stages with progress, finalizes, reboots the box, and comes back on the new release", async () => {
    const callsBefore = (await sim.calls()).length;
    graph.serve([R0, R1]);
    await box.run(["agentctl", "check"]);
    // Watch it stage until the simulator's FinalizeDeployment reboots the box.
    const states = new Set<string>();
    let progressSeen = false;
    while (box.running) {
      const status = await agent.status().catch(() => undefined);
      if (status) {
        states.add(status.state);
        if (status.state === "staging" && status.progress !== null && status.target?.version === R1.version) progressSeen = true;
      }
      await Promise.race([box.waitForExit(), sleep(250)]);
    }
    assert.equal(await box.waitForExit(), EXIT_REBOOT);
    assert.match(await box.bootAgain(), /^(running|degraded)$/);

    const status = await agent.waitForStatus(`came back on ${R1.version}`, (s) => s.booted?.version === R1.version && s.state === "idle");
    assert.ok(states.has("staging"), `states seen: ${[...states].join(", ")}`);
    assert.ok(progressSeen, "agentctl status never showed the download's progress");
    assert.equal(status.staged, null);
    assert.equal(status.last_error, null);
    const unit = await agent.show(["ActiveState", "SubState", "StatusText", "NRestarts"]);
    assert.equal(unit.ActiveState, "active");
    assert.equal(unit.NRestarts, "0");
    assert.match(unit.StatusText!, /^periodically polling for updates \(last checked \w{3} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)$/);

    const calls = (await sim.calls()).slice(callsBefore);
    assert.equal(stagingCalls(calls, R1).length, 1, "one staging transaction");
    assert.equal(finalizeCalls(calls).length, 1);
    const dump = await sim.dump();
    assert.equal(dump.records.find((r) => r.booted)?.version, R1.version);
    assert.deepEqual(dump.rebootRequests.map((r) => [r.reason, r.version]), [["finalize", R1.version]]);
    // The driver registration is on a tmpfs: the agent made it again on this boot, from its unit.
    assert.deepEqual(dump["update-driver"], { "driver-name": "update-agent", "driver-sd-unit": AGENT_UNIT });
    assert.ok(dump.clients.some((c) => c.id === "update-agent"), `clients: ${JSON.stringify(dump.clients)}`);
    const journal = await agent.journal();
    assert.match(journal, new RegExp(`update staged: ${R1.version}`));
    assert.match(journal, new RegExp(`update finalized: ${R1.version}`));
    assert.match(await agent.journal({ thisBoot: true }), new RegExp(`${R1.version} passed its health checks; update complete`));
  });

  it("waits for a closed maintenance window with the update staged, and says when it opens", async () => {
    const now = new Date();
    const hour = (now.getUTCHours() + 12) % 24;
    await agent.writeConfig("60-window.toml", windowFragment(0, hour));
    await agent.reload();
    graph.serve([R0, R1, R2]);
    await box.run(["agentctl", "check"]);
    const status = await agent.waitForStatus(`staged ${R2.version} and waited for the window`, (s) => s.state === "staged" && s.waiting?.kind === "window");
    assert.equal(status.strategy, "periodic");
    assert.equal(status.target?.version, R2.version);
    assert.equal(status.staged?.version, R2.version);
    assert.equal(status.staged?.finalization_locked, true);
    assert.equal(status.pending_reboot, true);
    assert.equal(new Date(status.waiting!.until!).getUTCHours(), hour);
    assert.match(status.status_text, new RegExp(`^update staged: ${R2.version}; reboot pending: maintenance window closed; next window opens \\w{3} \\d{4}-\\d\\d-\\d\\d ${pad(hour)}:00 UTC, in `));
    assert.equal((await agent.show(["StatusText"])).StatusText?.startsWith(`update staged: ${R2.version}; reboot pending: maintenance window closed`), true);
  });

  it("is killed by the watchdog when its loop stalls, restarted by systemd, and resumes without staging again", async () => {
    const callsBefore = (await sim.calls()).length;
    const before = await agent.show(["MainPID", "NRestarts"]);
    await agent.stallLoop(true);
    // The next tick blocks the event loop; WatchdogSec=10s later systemd kills it, and restarts it after RestartSec=4s.
    const deadline = Date.now() + 90_000;
    for (;;) {
      const unit = await agent.show(["SubState", "NRestarts"]);
      if (unit.SubState === "auto-restart" || Number(unit.NRestarts) > Number(before.NRestarts)) break;
      if (Date.now() > deadline) throw new Error(`the watchdog never fired: ${JSON.stringify(unit)}`);
      await sleep(200);
    }
    await agent.stallLoop(false);
    await box.waitForUnit(AGENT_UNIT, "running", 60_000);
    const after = await agent.show(["MainPID", "NRestarts", "Result"]);
    assert.notEqual(after.MainPID, before.MainPID);
    assert.ok(Number(after.NRestarts) >= Number(before.NRestarts) + 1, `NRestarts ${before.NRestarts} → ${after.NRestarts}`);
    const journal = await box.journal(AGENT_UNIT, { thisBoot: true, output: "cat" });
    assert.match(journal, /Watchdog timeout/);
    assert.match(journal, /Failed with result 'watchdog'/);

    const status = await agent.waitForStatus("back to waiting for the window", (s) => s.state === "staged" && s.waiting?.kind === "window");
    assert.equal(status.target?.version, R2.version);
    assert.equal(status.staged?.version, R2.version);
    const calls = (await sim.calls()).slice(callsBefore);
    assert.deepEqual(stagingCalls(calls, R2), [], "staged again after the restart");
    assert.deepEqual(finalizeCalls(calls), [], "finalized after the restart");
  });

  it("reboots into the staged update when the maintenance window opens", async () => {
    // The next minute boundary at least 20 s away, so the test sees the window closed first (UTC, real clock).
    let opens = new Date(Math.ceil((Date.now() + 1) / 60_000) * 60_000);
    if (opens.getTime() - Date.now() < 20_000) opens = new Date(opens.getTime() + 60_000);
    await agent.writeConfig("60-window.toml", windowFragment(opens.getUTCMinutes(), opens.getUTCHours()));
    await agent.reload();
    const waiting = await agent.waitForStatus("waited for the new window", (s) => s.waiting?.until !== undefined && Date.parse(s.waiting.until) === opens.getTime(), 30_000);
    assert.equal(waiting.state, "staged");
    assert.match(waiting.status_text, new RegExp(`next window opens \\w{3} \\d{4}-\\d\\d-\\d\\d ${pad(opens.getUTCHours())}:${pad(opens.getUTCMinutes())} UTC`));

    await followReboots(box, async () => (await agent.status()).booted?.version === R2.version, {
      maxReboots: 1,
      timeoutMs: opens.getTime() - Date.now() + 120_000,
      what: `${R2.version} booted`,
    });
    const finalize = (await sim.dump()).rebootRequests.at(-1);
    assert.equal(finalize?.version, R2.version);
    assert.ok(finalize!.at * 1000 >= opens.getTime(), `finalized at ${new Date(finalize!.at * 1000).toISOString()}, before the window opened at ${opens.toISOString()}`);
    await agent.writeConfig("60-window.toml", undefined);
    await agent.reload();
    const status = await agent.waitForStatus("back on the immediate strategy", (s) => s.strategy === "immediate" && s.state === "idle");
    assert.equal(status.booted?.version, R2.version);
    assert.equal((await agent.show(["NRestarts"])).NRestarts, "0");
  });

  it("the package's polkit rule lets the agent reboot through logind (for a failed health check)", async () => {
    const pid = (await agent.show(["MainPID"])).MainPID!;
    const check = await box.exec(["pkcheck", "--action-id", "org.freedesktop.login1.reboot", "--process", pid]);
    assert.equal(check.code, 0, `pkcheck: ${check.stdout}${check.stderr}`);
  });

  it("rolls back a release whose required health check fails, after retrying it, and denylists it", async () => {
    await box.writeFile(`${REQUIRED_CHECKS_DIR}/50-app-starts`, HEALTH_CHECK, { mode: 0o755 });
    await agent.writeConfig("60-health.toml", "[health]\nmax_boot_attempts = 2\n");
    await agent.reload();
    const callsBefore = (await sim.calls()).length;
    const bootsBefore = (await sim.dump()).boots.length;
    graph.serve([R0, R1, R2, BAD]);
    await box.run(["agentctl", "check"]);

    // Boot 1 of BAD fails its check: reboot again (logind). Boot 2 fails: denylist and roll back (rpm-ostree).
    const reboots = await followReboots(
      box,
      async () => {
        const s = await agent.status();
        return s.booted?.version === R2.version && s.denylist.length > 0 && s.state === "idle";
      },
      { maxReboots: 4, timeoutMs: 240_000, what: `rolled back to ${R2.version}` },
    );
    const rolledBackAt = Date.now();
    assert.equal(reboots, 3);
    const dump = await sim.dump();
    assert.deepEqual(dump.boots.slice(bootsBefore).map((b) => b.version), [BAD.version, BAD.version, R2.version]);
    assert.deepEqual(dump.rebootRequests.slice(-2).map((r) => [r.reason, r.version]), [["finalize", BAD.version], ["rollback", R2.version]]);
    const calls = (await sim.calls()).slice(callsBefore);
    assert.equal(stagingCalls(calls, BAD).length, 1);
    assert.equal(calls.filter((c) => c.method === "Rollback").length, 1);

    const status = await agent.status();
    assert.deepEqual(status.denylist.map((d) => [d.version, d.source]), [[BAD.version, "local"]]);
    assert.match(status.denylist[0]!.reason, /failed required health checks on 2 boots \(50-app-starts\)/);
    assert.equal((await agent.show(["NRestarts"])).NRestarts, "0");
    const health = JSON.parse(await box.run(["agentctl", "health", "--json"])) as { boot: { kind: string; from?: { version: string } } | null; health: { verdict: string } };
    assert.equal(health.boot?.kind, "rolled-back");
    assert.equal(health.boot?.from?.version, BAD.version);
    assert.equal(health.health.verdict, "healthy");
    const journal = await agent.journal();
    assert.match(journal, new RegExp(`50-app-starts: the application does not start on ${BAD.version.replace(/\./g, "\\.")}`));
    assert.match(journal, new RegExp(`release ${BAD.version.replace(/\./g, "\\.")} denylisted`));
    // It keeps polling, and never picks the denylisted release again.
    const later = await agent.waitForStatus("checked the graph after the rollback", (s) => s.last_check !== null && Date.parse(s.last_check.at) > rolledBackAt);
    assert.equal(later.state, "idle");
    assert.equal(later.target, null);
  });

  let bad2Boots: string[] = [];

  it("holds when logind refuses the reboot (a local polkit rule denies it), and finishes after a restart", async () => {
    await box.writeFile(DENY_REBOOT_RULE, DENY_REBOOT_RULE_TEXT);
    const bootsBefore = (await sim.dump()).boots.length;
    graph.serve(RELEASES);
    await box.run(["agentctl", "check"]);
    await followReboots(box, async () => (await agent.status()).state === "held", { maxReboots: 1, timeoutMs: 120_000, what: `held on ${BAD2.version}` });
    const held = await agent.status();
    assert.equal(held.booted?.version, BAD2.version);
    assert.match(held.status_text, new RegExp(`^held: could not reboot into ${BAD2.version.replace(/\./g, "\\.")} again: .*(denied|not allowed|authentication required).*Restart update-agent to try again$`, "i"));
    // No crash, no restart loop.
    assert.deepEqual(await agent.show(["ActiveState", "NRestarts"]), { ActiveState: "active", NRestarts: "0" });

    await box.run(["rm", "-f", DENY_REBOOT_RULE]);
    // What the message says. The restart's start job ends with the reboot it causes.
    await box.exec(["systemctl", "restart", AGENT_UNIT]);
    await followReboots(
      box,
      async () => {
        const s = await agent.status();
        return s.booted?.version === R2.version && s.denylist.some((d) => d.version === BAD2.version) && s.state === "idle";
      },
      { maxReboots: 3, timeoutMs: 180_000, what: `rolled back from ${BAD2.version} to ${R2.version}` },
    );
    bad2Boots = (await sim.dump()).boots.slice(bootsBefore).map((b) => b.version);
    assert.equal(bad2Boots.at(-1), R2.version);
    assert.equal(bad2Boots[0], BAD2.version);
  });

  it("a restart after the refused reboot retries that reboot, so the release still gets health.max_boot_attempts boots", () => {
    assert.deepEqual(bad2Boots, [BAD2.version, BAD2.version, R2.version]);
  });

  it("takes control calls only from root and its own user; everyone may read its properties", async () => {
    const call = await box.exec(["busctl", "call", ...AGENT_DBUS, "CheckNow"], { user: "nobody" });
    assert.notEqual(call.code, 0);
    assert.match(call.stderr, /Access denied/);
    assert.match(await box.run(["busctl", "get-property", ...AGENT_DBUS, "State"], { user: "nobody" }), /^s "idle"/);
    assert.equal((await box.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "agentctl", "status", "--json"]).then(JSON.parse) as { daemon: string }).daemon, "running");
  });

  it("runs with the shipped sandbox: no capabilities, no new privileges, and the exposure systemd-analyze reports", async (t) => {
    const pid = (await agent.show(["MainPID"])).MainPID!;
    const proc = await box.readFile(`/proc/${pid}/status`);
    assert.match(proc, /^CapEff:\s+0+$/m);
    assert.match(proc, /^NoNewPrivs:\s+1$/m);
    const sandbox = await agent.show(["ProtectSystem", "ProtectHome", "PrivateTmp", "NoNewPrivileges", "User", "DevicePolicy", "RestrictNamespaces"]);
    assert.deepEqual(sandbox, { ProtectSystem: "strict", ProtectHome: "yes", PrivateTmp: "yes", NoNewPrivileges: "yes", User: "update-agent", DevicePolicy: "closed", RestrictNamespaces: "yes" });
    // The box's drop-in changes timings and the fault switch, nothing else.
    assert.deepEqual((await agent.show(["DropInPaths"])).DropInPaths, `/etc/systemd/system/${AGENT_UNIT}.d/50-e2e.conf`);
    const security = await box.run(["systemd-analyze", "security", "--no-pager", AGENT_UNIT]);
    const overall = /Overall exposure level for update-agent\.service: ([\d.]+) (\w+)/.exec(security);
    assert.ok(overall, security);
    t.diagnostic(`systemd-analyze security ${AGENT_UNIT} in the box: ${overall[1]} ${overall[2]}`);
    process.stdout.write(`${security.split("\n").filter((l) => /^[✗→]/.test(l.trim())).join("\n")}\n`);
    assert.ok(Number(overall[1]) <= 2.5, `exposure ${overall[1]} is above 2.5`);
  });
});

function windowFragment(minute: number, hour: number): string {
  return `[updates]\nstrategy = "periodic"\n[updates.periodic]\ntime_zone = "UTC"\n[[updates.periodic.window]]\ncron = "${minute} ${hour} * * *"\nlength_minutes = 5\n`;
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}
