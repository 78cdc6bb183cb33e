import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { initialAgentState } from "../../src/agent/state.js";
import { parsePauseUntil } from "../../src/cli/commands/control.js";
import { agentctl, makeRoot, NO_BUS, removeRoots, serveAgent, stagedState, type ServedAgent } from "./helpers.js";

after(removeRoots);

describe("control commands against agentd's D-Bus service", () => {
  let agent: ServedAgent;
  const root = makeRoot();
  before(async () => {
    agent = await serveAgent(stagedState());
  });
  after(() => agent.stop());
  const last = () => agent.calls.at(-1);

  test("check calls CheckNow", async () => {
    const { code, stdout } = await agentctl(agent.env, "--root", root, "check");
    assert.equal(code, 0);
    assert.equal(last(), "CheckNow");
    assert.match(stdout, /checking for an update now/);
  });

  test("apply-now calls ApplyNow and says what it bypasses and what it still waits for", async () => {
    const { code, stdout } = await agentctl(agent.env, "--root", root, "apply-now");
    assert.equal(code, 0);
    assert.equal(last(), "ApplyNow");
    assert.match(stdout, /^agentd reboots into 41\.20251125\.3\.0 as soon as it may\./);
    assert.match(stdout, /skips the maintenance window and the grace period for logged-in users/);
    assert.match(stdout, /still waits for the\s+reboot lock/);
  });

  test("apply-now with nothing staged says it only checks", async () => {
    agent.setState({ ...initialAgentState(), phase: { kind: "idle" } });
    try {
      const { code, stdout } = await agentctl(agent.env, "--root", root, "apply-now");
      assert.equal(code, 0);
      assert.equal(last(), "ApplyNow");
      assert.match(stdout, /^No update is staged \(agentd is idle\)/);
    } finally {
      agent.setState(stagedState());
    }
  });

  test("pause --until sends Unix seconds and prints the end on the node's clock", async () => {
    const { code, stdout } = await agentctl(agent.env, "--root", root, "pause", "--until", "2030-01-01T10:00:00Z");
    assert.equal(code, 0);
    assert.equal(last(), "PauseUntil 2030-01-01T10:00:00.000Z");
    assert.match(stdout, /^paused until Tue 2030-01-01 10:00 UTC, in .*: agentd does not check for, stage or reboot into updates on its own until then/);
  });

  test("pause --for 2h pauses two hours from now", async () => {
    const from = Date.now();
    const { code } = await agentctl(agent.env, "--root", root, "pause", "--for", "2h");
    const to = Date.now();
    assert.equal(code, 0);
    const until = Date.parse(last()!.replace("PauseUntil ", ""));
    assert.ok(until >= from + 7_200_000 && until <= to + 7_200_000 + 1000, `${new Date(until).toISOString()}`);
  });

  test("--json: what was done, as a document", async () => {
    const paused = await agentctl(agent.env, "--root", root, "pause", "--until=2030-01-01T10:00:00Z", "--json");
    assert.equal(paused.code, 0);
    assert.deepEqual(JSON.parse(paused.stdout), { format_version: 1, action: "pause", paused_until: "2030-01-01T10:00:00.000Z" });
    const applied = await agentctl(agent.env, "--root", root, "apply-now", "--json");
    const doc = JSON.parse(applied.stdout);
    assert.equal(doc.action, "apply-now");
    assert.equal(doc.forced_reboot, true);
    assert.equal(doc.target.version, "41.20251125.3.0");
    assert.deepEqual(JSON.parse((await agentctl(agent.env, "check", "--json")).stdout), { format_version: 1, action: "check" });
  });

  test("resume calls Resume", async () => {
    const { code, stdout } = await agentctl(agent.env, "--root", root, "resume");
    assert.equal(code, 0);
    assert.equal(last(), "Resume");
    assert.equal(stdout, "resumed: agentd carries on with automatic updates now\n");
  });

  test("bad arguments are usage errors (exit 2) and call nothing", async () => {
    const before = agent.calls.length;
    for (const argv of [["pause"], ["pause", "--for", "soon"], ["check", "now"], ["resume", "--bogus"], ["apply-now", "--until", "1h"]]) {
      const { code, stderr } = await agentctl(agent.env, "--root", root, ...argv);
      assert.equal(code, 2, argv.join(" "));
      assert.match(stderr, /^agentctl: /);
    }
    assert.equal(agent.calls.length, before);
  });
});

test("a caller agentd does not allow: exit 1, 'must be run as root', nothing done", async () => {
  const agent = await serveAgent(stagedState(), undefined, [12345]);
  try {
    for (const argv of [["check"], ["apply-now"], ["pause", "--for", "1h"], ["resume"]]) {
      const { code, stderr } = await agentctl(agent.env, ...argv);
      assert.equal(code, 1, argv.join(" "));
      assert.match(stderr, /^agentctl: must be run as root: agentd accepts \w+ from root only/);
    }
    assert.deepEqual(agent.calls, []);
  } finally {
    await agent.stop();
  }
});

test("agentd not running: exit 3 with a clear message", async () => {
  for (const argv of [["check"], ["apply-now"], ["pause", "--for", "1h"], ["resume"]]) {
    const { code, stdout, stderr } = await agentctl(NO_BUS, ...argv);
    assert.equal(code, 3, argv.join(" "));
    assert.equal(stdout, "");
    assert.equal(stderr, "agentctl: agentd is not running, so there is nothing to ask (start it with: systemctl start update-agent)\n");
  }
});

describe("pause arguments", () => {
  const NOW = new Date("2026-12-01T20:55:00Z");
  const good: [string[], string, string?][] = [
    [["--for", "2h"], "2026-12-01T22:55:00.000Z"],
    [["--for=30m"], "2026-12-01T21:25:00.000Z"],
    [["--for", "1d"], "2026-12-02T20:55:00.000Z"],
    [["--for", "1h30m"], "2026-12-01T22:25:00.000Z"],
    [["--for", "1w"], "2026-12-08T20:55:00.000Z"],
    [["--for", "90s"], "2026-12-01T20:56:30.000Z"],
    [["--for", "PT2H"], "2026-12-01T22:55:00.000Z"],
    [["--until", "2026-12-02T10:00:00Z"], "2026-12-02T10:00:00.000Z"],
    [["--until", "2026-12-02T10:00:00+01:00"], "2026-12-02T09:00:00.000Z"],
    [["--until", "2026-12-02T10:00"], "2026-12-02T09:00:00.000Z", "Europe/Berlin"],
    [["--until", "2026-12-02T10:00"], "2026-12-02T10:00:00.000Z", "UTC"],
    [["--until=1800000000"], "2027-01-15T08:00:00.000Z"],
  ];
  for (const [args, expected, zone = "UTC"] of good) {
    test(`${args.join(" ")} (${zone}) → ${expected}`, () => assert.equal(parsePauseUntil(args, NOW, zone).toISOString(), expected));
  }
  const bad: [string[], RegExp][] = [
    [[], /exactly one of --until TIME or --for DURATION/],
    [["--for", "2h", "--until", "2027-01-01T00:00Z"], /exactly one/],
    [["--for", "2"], /not a duration like 30m/],
    [["--for", "0h"], /not a duration/],
    [["--for"], /--for/],
    [["--until", "tomorrow"], /not an ISO 8601 time/],
    [["--until", "2020-01-01T00:00:00Z"], /would end in the past/],
    [["--forever"], /Unknown option '--forever'/],
  ];
  for (const [args, message] of bad) {
    test(`${args.join(" ") || "(nothing)"} is refused`, () => assert.throws(() => parsePauseUntil(args, NOW, "UTC"), (e: Error & { code?: string }) => e.code === "USAGE" && message.test(e.message)));
  }
});
