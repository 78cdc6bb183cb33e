import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { checkDirs, runGreen, runHealthChecks, runRed } from "../../src/health/checks.js";
import type { Clock } from "../../src/host/clock.js";

const scratch = mkdtempSync(join(tmpdir(), "health-checks-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
let rootCount = 0;

function freshRoot(): string {
  const root = join(scratch, `root${rootCount++}`);
  mkdirSync(root);
  return root;
}

/** Writes `<root>/<relPath>` as a sh script. */
function script(root: string, relPath: string, body: string, mode = 0o755): void {
  const path = join(root, relPath);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, mode);
}

function fixedClock(...isoTimes: string[]): Clock {
  let i = 0;
  return { now: () => new Date(isoTimes[Math.min(i++, isoTimes.length - 1)] ?? 0), sleep: async () => undefined };
}

const base = { timeoutMs: 10_000, env: {} };

describe("checkDirs", () => {
  test("update-agent's directories only, when greenboot's are off", () => {
    assert.deepEqual(checkDirs("/", { greenbootDirs: false }), {
      required: [{ path: "/etc/update-agent/check/required.d" }],
      wanted: [{ path: "/etc/update-agent/check/wanted.d" }],
      green: [{ path: "/etc/update-agent/green.d" }],
      red: [{ path: "/etc/update-agent/red.d" }],
    });
  });

  test("ours first, then greenboot's /usr/lib and /etc, with greenboot's rules and disabled list", () => {
    const dirs = checkDirs("/sysroot", { greenbootDirs: true, greenbootDisabled: ["02_watchdog.sh"] });
    const disabled = { names: ["02_watchdog.sh"], source: "/etc/greenboot/greenboot.conf (DISABLED_HEALTHCHECKS)" };
    assert.deepEqual(dirs.required, [
      { path: "/sysroot/etc/update-agent/check/required.d" },
      { path: "/sysroot/usr/lib/greenboot/check/required.d", greenboot: true, disabled },
      { path: "/sysroot/etc/greenboot/check/required.d", greenboot: true, disabled },
    ]);
    assert.deepEqual(dirs.green.map((d) => d.path), ["/sysroot/etc/update-agent/green.d", "/sysroot/usr/lib/greenboot/green.d", "/sysroot/etc/greenboot/green.d"]);
    assert.deepEqual(dirs.red.map((d) => d.path), ["/sysroot/etc/update-agent/red.d", "/sysroot/usr/lib/greenboot/red.d", "/sysroot/etc/greenboot/red.d"]);
    assert.ok(dirs.green.every((d) => !("disabled" in d)), "DISABLED_HEALTHCHECKS applies to checks only, as in greenboot");
  });
});

describe("runHealthChecks", () => {
  test("no check directories at all: healthy, nothing ran", async () => {
    const report = await runHealthChecks({ ...base, root: freshRoot(), greenbootDirs: true, clock: fixedClock("2025-01-01T00:00:00Z", "2025-01-01T00:00:01Z") });
    assert.deepEqual(report, {
      verdict: "healthy",
      required: [],
      wanted: [],
      startedAt: "2025-01-01T00:00:00.000Z",
      finishedAt: "2025-01-01T00:00:01.000Z",
      warnings: [],
    });
  });

  test("a failing required check makes the boot unhealthy; every check still runs", async () => {
    const root = freshRoot();
    script(root, "etc/update-agent/check/required.d/10-disk", "echo 'disk 99% full'; exit 1");
    script(root, "etc/update-agent/check/required.d/20-network", "exit 0");
    script(root, "etc/update-agent/check/wanted.d/10-ntp", "exit 0");
    const report = await runHealthChecks({ ...base, root, greenbootDirs: false });
    assert.equal(report.verdict, "unhealthy");
    assert.deepEqual(report.required.map((p) => [p.name, p.exitCode, p.outputTail]), [["10-disk", 1, "disk 99% full"], ["20-network", 0, ""]]);
    assert.deepEqual(report.wanted.map((p) => [p.name, p.ok]), [["10-ntp", true]]);
  });

  test("a failing wanted check only degrades the boot", async () => {
    const root = freshRoot();
    script(root, "etc/update-agent/check/required.d/10-ok", "exit 0");
    script(root, "etc/update-agent/check/wanted.d/10-ntp", "exit 2");
    const report = await runHealthChecks({ ...base, root, greenbootDirs: false });
    assert.equal(report.verdict, "degraded");
  });

  test("a hung required check is killed and makes the boot unhealthy", async () => {
    const root = freshRoot();
    script(root, "etc/update-agent/check/required.d/10-hangs", "sleep 300");
    const report = await runHealthChecks({ root, greenbootDirs: false, env: {}, timeoutMs: 300, killGraceMs: 1000 });
    assert.equal(report.verdict, "unhealthy");
    assert.equal(report.required[0]?.timedOut, true);
  });

  test("greenboot's scripts run (bash, no exec bit needed), after ours, and fail the boot like ours", async () => {
    const root = freshRoot();
    const log = join(root, "order.log");
    script(root, "etc/update-agent/check/required.d/50-ours", `echo ours >> ${log}`);
    script(root, "usr/lib/greenboot/check/required.d/01_vendor.sh", `echo vendor >> ${log}`, 0o644);
    script(root, "etc/greenboot/check/required.d/01_admin.sh", `echo admin >> ${log}; exit 1`, 0o644);
    script(root, "etc/greenboot/check/wanted.d/01_wanted.sh", `echo wanted >> ${log}`, 0o644);

    const report = await runHealthChecks({ ...base, root, greenbootDirs: true });
    assert.deepEqual(readFileSync(log, "utf8").trim().split("\n"), ["ours", "vendor", "admin", "wanted"]);
    assert.equal(report.verdict, "unhealthy");
    assert.deepEqual(report.required.filter((p) => !p.ok).map((p) => p.path), [join(root, "etc/greenboot/check/required.d/01_admin.sh")]);
  });

  test("greenboot's directories are ignored when greenbootDirs is off", async () => {
    const root = freshRoot();
    script(root, "etc/greenboot/check/required.d/01_fails.sh", "exit 1");
    const report = await runHealthChecks({ ...base, root, greenbootDirs: false });
    assert.equal(report.verdict, "healthy");
    assert.deepEqual(report.required, []);
  });

  test("DISABLED_HEALTHCHECKS in greenboot.conf skips a greenboot check, and a misspelt name is a warning", async () => {
    const root = freshRoot();
    script(root, "etc/greenboot/check/required.d/02_watchdog.sh", "exit 1");
    mkdirSync(join(root, "etc/greenboot"), { recursive: true });
    writeFileSync(join(root, "etc/greenboot/greenboot.conf"), 'DISABLED_HEALTHCHECKS=("02_watchdog.sh" "03_typo.sh")\n');
    const report = await runHealthChecks({ ...base, root, greenbootDirs: true });
    assert.equal(report.verdict, "healthy");
    assert.equal(report.required[0]?.skipped, "disabled in /etc/greenboot/greenboot.conf (DISABLED_HEALTHCHECKS)");
    assert.deepEqual(report.warnings, [
      "DISABLED_HEALTHCHECKS in /etc/greenboot/greenboot.conf names 03_typo.sh, which is not a health check (misspelled?)",
    ]);
  });

  test("checks get the given environment and know which set they run in", async () => {
    const root = freshRoot();
    script(root, "etc/update-agent/check/required.d/env", 'echo "$NODE_ROLE $UPDATE_AGENT_HEALTH_PHASE"');
    script(root, "etc/update-agent/check/wanted.d/env", 'echo "$NODE_ROLE $UPDATE_AGENT_HEALTH_PHASE"');
    const lines: string[] = [];
    const report = await runHealthChecks({ ...base, root, greenbootDirs: false, env: { NODE_ROLE: "worker" }, onLine: (name, _s, line) => lines.push(`${name}: ${line}`) });
    assert.deepEqual([report.required[0]?.outputTail, report.wanted[0]?.outputTail], ["worker required", "worker wanted"]);
    assert.deepEqual(lines, ["env: worker required", "env: worker wanted"]);
  });

  test("the report survives a JSON round trip (it goes into the state file)", async () => {
    const root = freshRoot();
    script(root, "etc/update-agent/check/required.d/10-x", "echo hi; exit 4");
    const report = await runHealthChecks({ ...base, root, greenbootDirs: false });
    assert.deepEqual(JSON.parse(JSON.stringify(report)), report);
  });
});

describe("runGreen / runRed", () => {
  test("green.d and red.d run from ours and greenboot's directories", async () => {
    const root = freshRoot();
    for (const dir of ["etc/update-agent", "usr/lib/greenboot", "etc/greenboot"]) {
      script(root, `${dir}/green.d/01_note.sh`, `echo "green from ${dir} ($UPDATE_AGENT_HEALTH_PHASE)"`, 0o644);
      script(root, `${dir}/red.d/01_note.sh`, `echo "red from ${dir}"`, 0o644);
    }
    const green = await runGreen({ ...base, root, greenbootDirs: true });
    // Ours needs the exec bit (no greenboot rules there); greenboot's run with bash.
    assert.deepEqual(green.map((p) => p.skipped ?? p.outputTail), [
      "not executable (chmod +x to run it)",
      "green from usr/lib/greenboot (green)",
      "green from etc/greenboot (green)",
    ]);
    const red = await runRed({ ...base, root, greenbootDirs: false });
    assert.equal(red.length, 1);
    assert.equal(red[0]?.skipped, "not executable (chmod +x to run it)");
  });
});
