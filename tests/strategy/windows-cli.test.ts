/** `agentctl windows` end to end over a temporary root, and `localtime` resolution from its /etc/localtime. */
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { main } from "../../src/cli/main.js";
import { isAgentError } from "../../src/errors.js";
import { resolveTimeZone } from "../../src/strategy/windows/index.js";

const FIXTURES = new URL("../fixtures/zincati/", import.meta.url).pathname;
const roots: string[] = [];
after(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })));

function tempRoot(): string {
  const root = mkdtempSync(join(tmpdir(), "windows-"));
  roots.push(root);
  mkdirSync(join(root, "etc/update-agent/config.d"), { recursive: true });
  return root;
}

function withFragment(root: string, name: string, toml: string): string {
  writeFileSync(join(root, "etc/update-agent/config.d", name), toml);
  return root;
}

async function agentctl(root: string, ...args: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await main(["--root", root, "windows", ...args], {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
  });
  return { code, stdout, stderr };
}

/** The two characters of the grid cell for `day` ("Mon".."Sun") and `hour`. */
function cell(stdout: string, day: string, hour: number): string {
  const row = stdout.split("\n").find((line) => line.startsWith(`${day} `));
  assert.ok(row, `no ${day} row in:\n${stdout}`);
  const start = 6 + hour * 3 + 1;
  return row.slice(start, start + 2);
}

/** Zincati's sample windows in Rome, with Zincati's full day name bug fixed ("Tuesday"), plus a cron window. */
const ROME_SAMPLE = `
[updates]
strategy = "periodic"

[updates.periodic]
time_zone = "Europe/Rome"

[[updates.periodic.window]]
days = ["Tuesday", "wed"]
start_time = "23:00"
length_minutes = 120

[[updates.periodic.window]]
days = ["thu"]
start_time = "23:30"
length_minutes = 25

[[updates.periodic.window]]
days = ["sun"]
start_time = "00:00"
length_minutes = 2880

[[updates.periodic.window]]
cron = "0 3 * * 1-5"
length_minutes = 60
`;

describe("agentctl windows", () => {
  it("draws the week with now, the next opening and the window shapes, then says when it opens", async () => {
    const root = withFragment(tempRoot(), "55-updates-strategy.toml", ROME_SAMPLE);
    const { code, stdout, stderr } = await agentctl(root, "--now", "2026-12-01T18:40:00+01:00");
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^Maintenance windows, week of Mon 2026-11-30, wall clock of Europe\/Rome$/m);
    assert.match(stdout, /^ {6} 00 01 02 .* 22 23$/m);
    assert.equal(cell(stdout, "Mon 30", 0), "##", "Sunday's 2880-minute window covers Monday");
    assert.equal(cell(stdout, "Mon 30", 23), "##");
    assert.equal(cell(stdout, "Tue 01", 3), "##", "the weekday cron window at 03:00");
    assert.equal(cell(stdout, "Tue 01", 4), "..");
    assert.equal(cell(stdout, "Tue 01", 18), "@.", "now, outside any window");
    assert.equal(cell(stdout, "Tue 01", 23), ">#", "the next opening, a whole hour");
    assert.equal(cell(stdout, "Thu 03", 23), "++", "23:30 for 25 minutes is part of the hour");
    assert.equal(cell(stdout, "Sat 05", 3), "..", "no cron window on Saturday");
    assert.equal(cell(stdout, "Sun 06", 12), "##");
    assert.match(stdout, /## whole hour in a window {3}\+\+ part of the hour {3}\.\. no window {3}@ now {3}> next window opens/);
    assert.match(stdout, /^weekly windows: 3145 minutes a week; plus cron "0 3 \* \* 1-5" for 60 min$/m);
    assert.match(stdout, /^next window opens Tue 2026-12-01 23:00 CET, in 4 hours 20 minutes$/m);
    assert.doesNotMatch(stdout, /does not wait/);
  });

  it("--json gives the zone, the weekly total, the next start with its offset and this week's windows", async () => {
    const root = withFragment(tempRoot(), "55-updates-strategy.toml", ROME_SAMPLE);
    const { code, stdout } = await agentctl(root, "--json", "--now", "2026-12-01T18:40:00+01:00");
    assert.equal(code, 0);
    const report = JSON.parse(stdout);
    assert.equal(report.time_zone, "Europe/Rome");
    assert.equal(report.total_minutes, 3145);
    assert.equal(report.next_window_start, "2026-12-01T23:00:00+01:00");
    assert.deepEqual(
      report.windows.map((w: { start_minute_of_week: number; length_minutes: number }) => [w.start_minute_of_week, w.length_minutes]),
      [[0, 1440], [1620, 60], [2820, 120], [3060, 60], [4260, 120], [4500, 60], [5730, 25], [5940, 60], [8640, 1440]],
    );
    assert.equal(report.open_now, false);
    assert.equal(report.current_window_end, null);
    assert.equal(report.in_effect, true);
    assert.equal(report.week_of, "2026-11-30");
  });

  it("--json inside a window gives its start, its end and the opening after it", async () => {
    const root = withFragment(tempRoot(), "55-updates-strategy.toml", ROME_SAMPLE);
    // No offset: read on the windows' wall clock, so this is 00:30 CET.
    const { stdout } = await agentctl(root, "--json", "--now=2026-12-02T00:30");
    const report = JSON.parse(stdout);
    assert.equal(report.open_now, true);
    assert.equal(report.now, "2026-12-02T00:30:00+01:00");
    assert.equal(report.next_window_start, "2026-12-01T23:00:00+01:00");
    assert.equal(report.current_window_end, "2026-12-02T01:00:00+01:00");
    assert.equal(report.following_window_start, "2026-12-02T03:00:00+01:00");
  });

  it("resolves localtime through the root's /etc/localtime (Zincati's non-UTC sample)", async () => {
    const root = tempRoot();
    copyFileSync(join(FIXTURES, "31-periodic-sample-non-utc.toml"), join(root, "etc/update-agent/config.d/31-periodic.toml"));
    symlinkSync("/usr/share/zoneinfo/America/Toronto", join(root, "etc/localtime"));
    const { code, stdout } = await agentctl(root, "--now", "2026-12-01T18:40:00-05:00");
    assert.equal(code, 0);
    assert.match(stdout, /wall clock of America\/Toronto \(localtime\)/);
    assert.equal(cell(stdout, "Wed 02", 23), ">+", "Wed 23:00 for 30 minutes");
    assert.match(stdout, /^next window opens Wed 2026-12-02 23:00 EST, in 1 day 4 hours$/m);
    const json = JSON.parse((await agentctl(root, "--json", "--now", "2026-12-01T18:40:00-05:00")).stdout);
    assert.equal(json.time_zone, "America/Toronto");
    assert.equal(json.configured_time_zone, "localtime");
    assert.deepEqual(json.windows, [{ start_minute_of_week: 4260, length_minutes: 30 }]);
  });

  it("says so when the strategy is not periodic and no window is configured", async () => {
    const root = tempRoot();
    const { code, stdout } = await agentctl(root, "--now", "2026-12-01T18:40:00Z");
    assert.equal(code, 0);
    assert.match(stdout, /updates.strategy is "immediate" and no maintenance windows are configured/);
    const json = JSON.parse((await agentctl(root, "--json")).stdout);
    assert.deepEqual([json.total_minutes, json.next_window_start, json.windows, json.in_effect], [0, null, [], false]);
  });

  it("shows windows the strategy ignores, and says they are not waited for", async () => {
    const root = withFragment(tempRoot(), "55.toml", '[[updates.periodic.window]]\ndays = ["mon"]\nstart_time = "10:00"\nlength_minutes = 60\n');
    const { code, stdout, stderr } = await agentctl(root, "--now", "2026-12-01T18:40:00Z");
    assert.equal(code, 0);
    assert.equal(cell(stdout, "Mon 30", 10), "##");
    assert.match(stdout, /strategy is "immediate", so the agent does not wait for these windows/);
    assert.match(stderr, /warning: .*has no effect/);
  });

  it("prints the loader's error and exits 1 on a bad config", async () => {
    const root = withFragment(tempRoot(), "55.toml", '[updates]\nstrategy = "periodic"\n[[updates.periodic.window]]\ncron = "0 3 * *"\nlength_minutes = 60\n');
    const { code, stdout, stderr } = await agentctl(root);
    assert.equal(code, 1);
    assert.equal(stdout, "");
    assert.match(stderr, /55\.toml.*cron/);
  });

  it("rejects a --now that is not a time, as a usage error", async () => {
    const root = withFragment(tempRoot(), "55-updates-strategy.toml", ROME_SAMPLE);
    const { code, stderr } = await agentctl(root, "--now", "next tuesday");
    assert.equal(code, 2);
    assert.match(stderr, /--now: 'next tuesday' is not an ISO 8601 time/);
    assert.equal((await agentctl(root, "--bogus")).code, 2);
  });
});

describe("resolveTimeZone", () => {
  const rootWithLink = (target: string) => {
    const root = tempRoot();
    symlinkSync(target, join(root, "etc/localtime"));
    return root;
  };
  const cases: [string, () => string, string][] = [
    ["an absolute link", () => rootWithLink("/usr/share/zoneinfo/Europe/Rome"), "Europe/Rome"],
    ["a relative link (relative to /etc on the node)", () => rootWithLink("../usr/share/zoneinfo/America/Toronto"), "America/Toronto"],
    ["a regular file: UTC", () => {
      const root = tempRoot();
      writeFileSync(join(root, "etc/localtime"), "TZif2...");
      return root;
    }, "UTC"],
    ["no /etc/localtime: UTC", () => tempRoot(), "UTC"],
  ];
  for (const [name, makeRoot, zone] of cases) {
    it(`localtime with ${name}`, () => assert.equal(resolveTimeZone(makeRoot(), "localtime"), zone));
  }

  it("an IANA name is used as it is, without reading the root", () => {
    assert.equal(resolveTimeZone("/nonexistent", "Asia/Kolkata"), "Asia/Kolkata");
  });

  it("rejects a link outside /usr/share/zoneinfo and an unknown zone, naming where to look", () => {
    const root = rootWithLink("/etc/some-zone");
    assert.throws(
      () => resolveTimeZone(root, "localtime"),
      (e: unknown) => isAgentError(e) && e.code === "STRATEGY_WINDOW" && e.where === join(root, "etc/localtime"),
    );
    assert.throws(
      () => resolveTimeZone(rootWithLink("/usr/share/zoneinfo/Mars/Olympus"), "localtime"),
      (e: unknown) => isAgentError(e) && /unknown time zone 'Mars\/Olympus'/.test(e.message),
    );
  });
});
