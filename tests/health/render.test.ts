import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { bootStatusMotd, formatDuration, formatHealthReport } from "../../src/health/render.js";
import type { HealthReport } from "../../src/health/report.js";
import type { BootRecord } from "../../src/health/record.js";
import type { PartResult } from "../../src/host/run-parts.js";

const DIR = "/etc/update-agent/check/required.d";
function part(name: string, over: Partial<PartResult> = {}): PartResult {
  return { name, path: `${DIR}/${name}`, skipped: null, error: null, exitCode: 0, signal: null, timedOut: false, durationMs: 12, outputTail: "", ok: true, ...over };
}
function report(verdict: HealthReport["verdict"], required: PartResult[], wanted: PartResult[] = [], warnings: string[] = []): HealthReport {
  return { verdict, required, wanted, startedAt: "2025-03-01T12:00:00.000Z", finishedAt: "2025-03-01T12:00:31.250Z", warnings };
}

const disk = part("10-disk", { exitCode: 1, ok: false, durationMs: 340, outputTail: "disk 99% full\n/var is full" });
const network = part("20-network", { outputTail: "ping ok" });
const app = part("30-app", { exitCode: null, signal: "SIGTERM", timedOut: true, ok: false, durationMs: 30_000, outputTail: "waiting for app" });
const readme = part("README", { exitCode: null, skipped: "not executable (chmod +x to run it)", durationMs: 0 });
const ntp = part("40-ntp", { path: "/etc/update-agent/check/wanted.d/40-ntp", exitCode: 2, ok: false, outputTail: "no NTP server" });

const X = { version: "41.20250301.3.0", payload: "sha256:new" };
const P = { version: "41.20250215.3.0", payload: "sha256:previous" };

describe("formatHealthReport", () => {
  test("an unhealthy boot: each check with its result, failing ones with their output", () => {
    const text = formatHealthReport(report("unhealthy", [disk, network, app, readme], [], ["DISABLED_HEALTHCHECKS names 03_typo.sh"]));
    assert.equal(
      text,
      [
        "Health: UNHEALTHY (required checks failed: 10-disk, 30-app)",
        "Checked 2025-03-01T12:00:00.000Z, took 31.3 s",
        "",
        "Required checks:",
        `  FAIL  10-disk     exit 1      340 ms  ${DIR}/10-disk`,
        "        | disk 99% full",
        "        | /var is full",
        `  ok    20-network  exit 0       12 ms  ${DIR}/20-network`,
        `  FAIL  30-app      timed out   30.0 s  ${DIR}/30-app`,
        "        | waiting for app",
        "  skip  README      skipped: not executable (chmod +x to run it)",
        "Wanted checks:",
        "  (none)",
        "Warnings:",
        "  DISABLED_HEALTHCHECKS names 03_typo.sh",
        "",
      ].join("\n"),
    );
  });

  test("verbose shows the output of passing checks too", () => {
    assert.match(formatHealthReport(report("healthy", [network]), { verbose: true }), /20-network .*\n {8}\| ping ok\n/);
    assert.doesNotMatch(formatHealthReport(report("healthy", [network])), /ping ok/);
  });

  test("the headline says what passed, what degraded, or that nothing is installed", () => {
    assert.match(formatHealthReport(report("healthy", [network, readme])), /^Health: HEALTHY \(1 check passed\)\n/);
    assert.match(formatHealthReport(report("healthy", [])), /^Health: HEALTHY \(no health checks installed\)\n/);
    assert.match(formatHealthReport(report("degraded", [network], [ntp])), /^Health: DEGRADED \(wanted checks failed: 40-ntp\)\n/);
  });
});

describe("bootStatusMotd", () => {
  const failing = report("unhealthy", [disk, network, app]);
  const rows: Array<[string, HealthReport | "not-run-yet", BootRecord | null, string]> = [
    ["checks not run yet", "not-run-yet", null, "update-agent: health checks have not run yet. Boot status is INDETERMINATE.\n"],
    ["a healthy boot", report("healthy", [network]), null, "update-agent: health checks passed. Boot status is GREEN.\n"],
    [
      "a degraded boot names the wanted checks",
      report("degraded", [network], [ntp]),
      null,
      "update-agent: required health checks passed, wanted checks failed: 40-ntp (exit 2). Boot status is GREEN (degraded).\nRun `agentctl health` for details.\n",
    ],
    [
      "a failing update boot, about to be retried",
      failing,
      { kind: "pending", release: X, previous: P, attempt: 2, finalizedAt: "2025-03-01T11:00:00.000Z", failedChecks: ["10-disk"] },
      "update-agent: required health checks FAILED: 10-disk (exit 1), 30-app (timed out). Boot status is RED.\nRebooting into 41.20250301.3.0 again (boot attempt 2).\nRun `agentctl health` for details.\n",
    ],
    [
      "a failing update boot, rolling back",
      failing,
      { kind: "rolling-back", from: X, to: P, reason: "failed required health checks on 3 boots (10-disk, 30-app)", at: "2025-03-01T12:01:00.000Z" },
      "update-agent: required health checks FAILED: 10-disk (exit 1), 30-app (timed out). Boot status is RED.\nROLLING BACK from 41.20250301.3.0 to 41.20250215.3.0: failed required health checks on 3 boots (10-disk, 30-app).\nRun `agentctl health` for details.\n",
    ],
    [
      "the boot after a rollback says where it came from",
      report("healthy", [network]),
      { kind: "rolled-back", from: X, to: P, reason: "did not boot: the node came back on the previous release 41.20250215.3.0", at: "2025-03-01T12:01:00.000Z" },
      "update-agent: health checks passed. Boot status is GREEN.\nROLLED BACK from 41.20250301.3.0 to 41.20250215.3.0: did not boot: the node came back on the previous release 41.20250215.3.0. 41.20250301.3.0 will not be installed again automatically.\n",
    ],
    [
      "a held release",
      failing,
      { kind: "held", release: X, previous: P, reason: '41.20250301.3.0 failed required health checks (10-disk, 30-app) and on_failure is "hold"', at: "2025-03-01T12:01:00.000Z" },
      'update-agent: required health checks FAILED: 10-disk (exit 1), 30-app (timed out). Boot status is RED.\nHELD on 41.20250301.3.0: 41.20250301.3.0 failed required health checks (10-disk, 30-app) and on_failure is "hold". The reboot slot stays taken until an admin acts.\nRun `agentctl health` for details.\n',
    ],
    [
      "a verified update",
      report("healthy", [network]),
      { kind: "verified", release: X, attempts: 1, at: "2025-03-01T12:01:00.000Z" },
      "update-agent: health checks passed. Boot status is GREEN.\nThe update to 41.20250301.3.0 was verified at 2025-03-01T12:01:00.000Z.\n",
    ],
  ];
  for (const [title, health, record, expected] of rows) {
    test(title, () => assert.equal(bootStatusMotd(health, record), expected));
  }
});

describe("formatDuration", () => {
  const rows: Array<[number, string]> = [[0, "0 ms"], [999, "999 ms"], [1000, "1.0 s"], [30_000, "30.0 s"], [125_000, "2 min 5 s"], [-1, "?"], [NaN, "?"]];
  for (const [ms, text] of rows) test(`${ms} → ${text}`, () => assert.equal(formatDuration(ms), text));
});
