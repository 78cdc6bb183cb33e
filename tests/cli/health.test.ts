import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { runHealth } from "../../src/cli/commands/health.js";
import { renderHealthPage } from "../../src/cli/render/health.js";
import type { BootRecord } from "../../src/health/record.js";
import type { HealthReport } from "../../src/health/report.js";
import type { PartResult } from "../../src/host/run-parts.js";
import { agentctl, makeRoot, NO_BUS, removeRoots, stagedState, writeState } from "./helpers.js";

after(removeRoots);

const NOW = new Date("2026-12-01T20:55:00Z");

function part(name: string, over: Partial<PartResult> = {}): PartResult {
  return { name, path: `/etc/update-agent/check/required.d/${name}`, skipped: null, error: null, exitCode: 0, signal: null, timedOut: false, durationMs: 120, outputTail: "", ok: true, ...over };
}

const UNHEALTHY: HealthReport = {
  verdict: "unhealthy",
  required: [part("10-disk", { exitCode: 1, ok: false, outputTail: "/var is 97% full" }), part("20-net")],
  wanted: [],
  startedAt: "2026-12-01T20:40:00Z",
  finishedAt: "2026-12-01T20:40:02Z",
  warnings: [],
};
const PENDING: BootRecord = {
  kind: "pending",
  release: { version: "41.20251125.3.0", payload: "p2" },
  attempt: 2,
  finalizedAt: "2026-12-01T20:00:00Z",
  previous: { version: "41.20251110.3.0", payload: "p1" },
  failedChecks: ["10-disk"],
};

function executable(root: string, relative: string, text: string): string {
  const path = join(root, relative);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, 0o755);
  return path;
}

const io = () => {
  const out = { stdout: "", stderr: "" };
  return { out, ctx: (root: string) => ({ root, env: NO_BUS, stdout: (t: string) => void (out.stdout += t), stderr: (t: string) => void (out.stderr += t) }) };
};

describe("agentctl health, rendered", () => {
  test("boot verification, verdict, each check, and a failing check's output", () => {
    const text = renderHealthPage({ report: UNHEALTHY, boot: PENDING, now: NOW, zone: "UTC", verbose: false, ranNow: false });
    const lines = text.split("\n");
    assert.equal(lines[0], "Boot verification: verifying 41.20251125.3.0 (boot attempt 2; falls back to 41.20251110.3.0)");
    assert.equal(lines[2], "Health: UNHEALTHY (required checks failed: 10-disk)");
    assert.ok(lines.some((l) => /^ {2}FAIL {2}10-disk +exit 1 +120 ms {2}\/etc\/update-agent\/check\/required\.d\/10-disk$/.test(l)), text);
    assert.ok(lines.includes("        | /var is 97% full"), text);
    assert.ok(lines.some((l) => /^ {2}ok {4}20-net /.test(l)), text);
    assert.doesNotMatch(text, /this run is for you only/);
  });

  test("nothing recorded yet says so and how to run the checks", () => {
    assert.equal(
      renderHealthPage({ report: undefined, boot: undefined, now: NOW, zone: "UTC", verbose: false, ranNow: false }),
      "Boot verification: none recorded (no update has been applied by agentd yet)\nHealth: no health-check run recorded yet; agentd runs the checks after every boot\n\nRun `agentctl health --run` (as root) to run them now.\n",
    );
  });
});

describe("agentctl health", () => {
  test("shows the last run from the state file; exit 1 when a required check failed", async () => {
    const root = makeRoot();
    writeState(root, stagedState({ last_health: UNHEALTHY, boot: PENDING }));
    const { code, stdout } = await agentctl(NO_BUS, "--root", root, "health");
    assert.equal(code, 1);
    assert.match(stdout, /^Boot verification: verifying 41\.20251125\.3\.0/);
    assert.match(stdout, /^Health: UNHEALTHY \(required checks failed: 10-disk\)$/m);
    const json = await agentctl(NO_BUS, "--root", root, "health", "--json");
    assert.equal(json.code, 1);
    assert.deepEqual(JSON.parse(json.stdout), { format_version: 1, ran_now: false, health: UNHEALTHY, boot: PENDING });
  });

  test("a healthy or a missing last run exits 0", async () => {
    const root = makeRoot();
    writeState(root, stagedState({ last_health: { ...UNHEALTHY, verdict: "healthy", required: [part("20-net")] } }));
    assert.equal((await agentctl(NO_BUS, "--root", root, "health")).code, 0);
    const empty = await agentctl(NO_BUS, "--root", makeRoot(), "health", "--json");
    assert.equal(empty.code, 0);
    assert.deepEqual(JSON.parse(empty.stdout), { format_version: 1, ran_now: false, health: null, boot: null });
  });

  test("--run runs the node's checks now; a failing required check is exit 1 with its output", async () => {
    const root = makeRoot();
    const statePath = writeState(root, stagedState({ boot: PENDING }));
    const before = readFileSync(statePath, "utf8");
    executable(root, "etc/update-agent/check/required.d/10-ok", "#!/bin/sh\necho fine\n");
    executable(root, "etc/update-agent/check/required.d/20-disk", "#!/bin/sh\necho \"/var is 97% full\" >&2\nexit 3\n");
    const { out, ctx } = io();
    const code = await runHealth(["--run"], ctx(root), { getuid: () => 0 });
    assert.equal(code, 1, out.stderr);
    assert.match(out.stdout, /^Health: UNHEALTHY \(required checks failed: 20-disk\)$/m);
    assert.match(out.stdout, /^ {2}ok {4}10-ok /m);
    assert.match(out.stdout, /^ {2}FAIL {2}20-disk +exit 3 /m);
    assert.match(out.stdout, /^ {8}\| \/var is 97% full$/m);
    assert.match(out.stdout, /does not change the boot verdict/);
    assert.equal(readFileSync(statePath, "utf8"), before, "--run never writes the state file");
  });

  test("--run: required checks pass, a wanted one fails → degraded, exit 0; --json has the report", async () => {
    const root = makeRoot();
    executable(root, "etc/update-agent/check/required.d/10-ok", "#!/bin/sh\nexit 0\n");
    executable(root, "etc/update-agent/check/wanted.d/50-web", "#!/bin/sh\necho slow\nexit 1\n");
    const { out, ctx } = io();
    const code = await runHealth(["--run", "--json"], ctx(root), { getuid: () => 0 });
    assert.equal(code, 0, out.stderr);
    const doc = JSON.parse(out.stdout);
    assert.equal(doc.ran_now, true);
    assert.equal(doc.health.verdict, "degraded");
    assert.deepEqual(doc.health.required.map((p: PartResult) => [p.name, p.ok]), [["10-ok", true]]);
    assert.deepEqual(doc.health.wanted.map((p: PartResult) => [p.name, p.exitCode, p.outputTail]), [["50-web", 1, "slow"]]);
  });

  test("--run as another user than root: exit 1, and no check runs", async () => {
    const root = makeRoot();
    const marker = join(root, "ran");
    executable(root, "etc/update-agent/check/required.d/10-touch", `#!/bin/sh\ntouch ${marker}\n`);
    const { out, ctx } = io();
    const code = await runHealth(["--run"], ctx(root), { getuid: () => 1000 });
    assert.equal(code, 1);
    assert.match(out.stderr, /^agentctl: health --run must be run as root/);
    assert.equal(out.stdout, "");
    assert.equal(existsSync(marker), false);
  });
});
