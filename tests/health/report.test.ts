import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { describeFailure, failedParts, healthVerdict } from "../../src/health/report.js";
import { parseGreenbootConf } from "../../src/health/greenboot-conf.js";
import type { PartResult } from "../../src/host/run-parts.js";

function part(name: string, over: Partial<PartResult> = {}): PartResult {
  return { name, path: `/d/${name}`, skipped: null, error: null, exitCode: 0, signal: null, timedOut: false, durationMs: 1, outputTail: "", ok: true, ...over };
}
const pass = part("pass");
const fail = part("fail", { exitCode: 1, ok: false });
const hung = part("hung", { exitCode: null, signal: "SIGTERM", timedOut: true, ok: false });
const skipped = part("skipped", { exitCode: null, skipped: "not executable (chmod +x to run it)", ok: true });
const broken = part("broken", { exitCode: null, error: "cannot start: spawn /d/broken ENOENT", ok: false });

describe("healthVerdict", () => {
  const rows: Array<[string, PartResult[], PartResult[], string]> = [
    ["nothing to check", [], [], "healthy"],
    ["all pass", [pass], [pass], "healthy"],
    ["skipped files are not failures", [skipped], [skipped], "healthy"],
    ["a wanted check fails", [pass], [fail], "degraded"],
    ["a wanted check hangs", [pass], [hung], "degraded"],
    ["a required check fails", [fail, pass], [pass], "unhealthy"],
    ["a required check hangs", [hung], [], "unhealthy"],
    ["a required check cannot start", [broken], [], "unhealthy"],
    ["required and wanted fail", [fail], [fail], "unhealthy"],
  ];
  for (const [title, required, wanted, verdict] of rows) {
    test(title, () => assert.equal(healthVerdict(required, wanted), verdict));
  }

  test("failures are described by their cause", () => {
    assert.deepEqual(failedParts([pass, fail, hung, skipped, broken]).map(describeFailure), [
      "fail (exit 1)",
      "hung (timed out)",
      "broken (cannot start: spawn /d/broken ENOENT)",
    ]);
    assert.equal(describeFailure(part("killed", { exitCode: null, signal: "SIGKILL", ok: false })), "killed (killed by SIGKILL)");
  });
});

describe("parseGreenbootConf", () => {
  test("greenboot's shipped file: nothing disabled, default attempts", () => {
    const shipped = [
      "# Greenboot configuration file",
      "## Generic",
      "# GREENBOOT_MAX_BOOT_ATTEMPTS=3",
      "GREENBOOT_WATCHDOG_CHECK_ENABLED=true",
      '# GREENBOOT_MONITOR_SERVICES="sshd NetworkManager"',
    ].join("\n");
    assert.deepEqual(parseGreenbootConf(shipped), { maxBootAttempts: undefined, disabledHealthchecks: [], problems: [] });
  });

  test("attempts and a disabled list, quoted either way", () => {
    const conf = parseGreenbootConf(`GREENBOOT_MAX_BOOT_ATTEMPTS=5\nDISABLED_HEALTHCHECKS=("01_repository_dns_check.sh" '02_watchdog.sh' 03_x.sh)\n`);
    assert.deepEqual(conf, { maxBootAttempts: 5, disabledHealthchecks: ["01_repository_dns_check.sh", "02_watchdog.sh", "03_x.sh"], problems: [] });
  });

  test("quoted attempts and an empty list", () => {
    assert.deepEqual(parseGreenbootConf(`GREENBOOT_MAX_BOOT_ATTEMPTS="2"\nDISABLED_HEALTHCHECKS=()`), { maxBootAttempts: 2, disabledHealthchecks: [], problems: [] });
  });

  test("bad values are reported by line, not guessed", () => {
    const conf = parseGreenbootConf(`GREENBOOT_MAX_BOOT_ATTEMPTS=zero\n\nDISABLED_HEALTHCHECKS="01.sh"`);
    assert.equal(conf.maxBootAttempts, undefined);
    assert.deepEqual(conf.disabledHealthchecks, []);
    assert.deepEqual(conf.problems, [
      "line 1: GREENBOOT_MAX_BOOT_ATTEMPTS must be a positive integer, got zero",
      'line 3: DISABLED_HEALTHCHECKS must be a bash array like ("a.sh" "b.sh")',
    ]);
  });
});
