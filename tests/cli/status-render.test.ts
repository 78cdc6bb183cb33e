import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { statusView, type LiveFacts } from "../../src/agent/view.js";
import { initialAgentState, type AgentState, type WaitReason } from "../../src/agent/state.js";
import type { HealthReport } from "../../src/health/report.js";
import type { BootRecord } from "../../src/health/record.js";
import { renderStatus, statusJson, type StatusRenderInput } from "../../src/cli/render/status.js";
import { progressBar, shortPayload } from "../../src/cli/render/words.js";
import { BOOTED, field, stagedState, TARGET } from "./helpers.js";

/** A Tuesday evening; the next window in the fixtures opens at 23:00 UTC. */
const NOW = new Date("2026-12-01T20:55:00Z");
const LIVE: LiveFacts = { strategy: "periodic", booted: BOOTED };

function render(state: AgentState, more: Partial<StatusRenderInput> & { facts?: LiveFacts; daemon?: "running" | "not-running" } = {}): string {
  const { facts = LIVE, daemon = "running", ...rest } = more;
  return renderStatus({ view: statusView(state, facts, daemon), now: NOW, zone: "UTC", verbose: false, ...rest });
}

const idle = (over: Partial<AgentState> = {}): AgentState => ({
  ...initialAgentState(),
  phase: { kind: "idle" },
  last_check: { at: "2026-12-01T20:50:00Z", outcome: "no-update" },
  ...over,
});

const waitingFor = (wait: WaitReason) => stagedState({ phase: { ...(stagedState().phase as Extract<AgentState["phase"], { kind: "staged" }>), wait } });
const STAGED_FACTS: LiveFacts = { ...LIVE, staged: { ...TARGET, finalizationLocked: true } };

describe("agentctl status, rendered", () => {
  const cases: { name: string; text: () => string; expect: Record<string, string | undefined> }[] = [
    {
      name: "idle: state with the STATUS text, booted release, last check",
      text: () => render(idle()),
      expect: {
        Daemon: "running",
        State: "idle; periodically polling for updates (last checked Tue 2026-12-01 20:50:00 UTC)",
        Strategy: "periodic",
        Booted: "41.20251110.3.0 (5a3b6c7d8e9f)",
        "Last check": "Tue 2026-12-01 20:50 UTC, 5 minutes ago: no update",
        Denylist: "empty",
        Waiting: undefined,
        Progress: undefined,
        Staged: undefined,
        Target: undefined,
      },
    },
    {
      name: "staging: a progress bar with rpm-ostree's message, and the target",
      text: () =>
        render(
          { ...idle(), phase: { kind: "staging", target: TARGET, attempts: 0 } },
          { facts: { ...LIVE, progress: { percent: 48, message: "Receiving objects: 48% (9100/19000) 12.3 MB/s" } } },
        ),
      expect: {
        State: "staging; found update on remote: 41.20251125.3.0; staging (48%)",
        Progress: "[#########.........] 48%  Receiving objects: 48% (9100/19000) 12.3 MB/s",
        Target: "41.20251125.3.0 (9f8e7d6c5b4a)",
        Waiting: undefined,
      },
    },
    {
      name: "staging without a percentage: the message alone",
      text: () => render({ ...idle(), phase: { kind: "staging", target: TARGET, attempts: 2 } }, { facts: { ...LIVE, progress: { percent: undefined, message: "Scanning metadata: 120" } } }),
      expect: { Progress: "Scanning metadata: 120", State: "staging; trying to stage 41.20251125.3.0 (failed attempts: 2)" },
    },
    {
      name: "staged, waiting for a window: why, and when it opens in local words",
      text: () => render(stagedState(), { facts: STAGED_FACTS }),
      expect: {
        Staged: "41.20251125.3.0 (9f8e7d6c5b4a)",
        Target: undefined,
        Waiting: "maintenance window: waiting for the next maintenance window",
      },
    },
    {
      name: "staged, waiting for the reboot lock",
      text: () => render(waitingFor({ kind: "lock", message: "FleetLock slot taken by 2 other nodes (fleet_lock at https://fleetlock.example/)" }), { facts: STAGED_FACTS }),
      expect: { Waiting: "reboot lock: FleetLock slot taken by 2 other nodes (fleet_lock at https://fleetlock.example/)" },
    },
    {
      name: "staged, waiting for logged-in users",
      text: () => render(waitingFor({ kind: "sessions", message: "2 interactive sessions (core on pts/0, root on tty1)", until: "2026-12-01T21:05:00Z" })),
      expect: { Waiting: "logged-in users: 2 interactive sessions (core on pts/0, root on tty1)" },
    },
    {
      name: "staged, held by a shutdown inhibitor",
      text: () => render(waitingFor({ kind: "inhibitor", message: "shutdown blocked by backup.service (nightly backup)" })),
      expect: { Waiting: "shutdown inhibitor: shutdown blocked by backup.service (nightly backup)" },
    },
    {
      name: "staged, a pre-reboot hook failed",
      text: () => render(waitingFor({ kind: "hook", message: "pre-reboot hook 10-drain failed (exit 1); retrying" })),
      expect: { Waiting: "pre-reboot hook: pre-reboot hook 10-drain failed (exit 1); retrying" },
    },
    {
      name: "staged with no reason yet still says why it has not rebooted",
      text: () => render(stagedState({ phase: { kind: "staged", target: TARGET, staged_at: "2026-12-01T20:54:00Z", postponements_left: 10 } })),
      expect: { Waiting: "no reason recorded yet: agentd checks whether it may reboot at its next tick", Target: "41.20251125.3.0 (9f8e7d6c5b4a)" },
    },
    {
      name: "staged and paused, with no reason recorded: the pause is the reason",
      text: () => render(stagedState({ phase: { kind: "staged", target: TARGET, staged_at: "2026-12-01T20:54:00Z", postponements_left: 10 }, paused_until: "2026-12-02T10:00:00Z" })),
      expect: {
        Waiting: "paused: agentd does not reboot until Wed 2026-12-02 10:00 UTC, in 13 hours 5 minutes",
        "Paused until": "Wed 2026-12-02 10:00 UTC, in 13 hours 5 minutes (agentctl resume ends it early)",
      },
    },
    {
      name: "a staged deployment that is not locked warns that any reboot applies it",
      text: () => render(stagedState(), { facts: { ...LIVE, staged: { ...TARGET, finalizationLocked: false } } }),
      expect: { Staged: "41.20251125.3.0 (9f8e7d6c5b4a), NOT locked: any reboot applies it" },
    },
    {
      name: "finalized: waiting for the reboot",
      text: () => render({ ...idle(), phase: { kind: "finalized", target: TARGET, finalized_at: "2026-12-01T20:54:00Z" } }),
      expect: { State: "finalized; update applied, waiting for reboot: 41.20251125.3.0", Waiting: undefined },
    },
    {
      name: "dead-end: a warning line with the reason",
      text: () => render(idle({ deadend_reason: "https://github.com/coreos/fedora-coreos-tracker/issues/1234", last_check: { at: "2026-12-01T20:50:00Z", outcome: "deadend" } })),
      expect: {
        "Dead-end": "WARNING: the booted release is a dead-end and gets no further updates: https://github.com/coreos/fedora-coreos-tracker/issues/1234",
        "Last check": "Tue 2026-12-01 20:50 UTC, 5 minutes ago: no update; the booted release is a dead-end",
      },
    },
    {
      name: "a pause that is over says so",
      text: () => render(idle({ paused_until: "2026-12-01T18:00:00Z" })),
      expect: { "Paused until": "Tue 2026-12-01 18:00 UTC (2 hours 55 minutes ago, over)" },
    },
    {
      name: "errors: code, message and when",
      text: () =>
        render(
          idle({
            last_check: { at: "2026-12-01T20:50:00Z", outcome: "error" },
            last_error: { code: "GRAPH_HTTP", message: "graph server answered 503 Service Unavailable", at: "2026-12-01T20:50:00Z" },
          }),
        ),
      expect: { "Last error": "GRAPH_HTTP: graph server answered 503 Service Unavailable", "Last check": "Tue 2026-12-01 20:50 UTC, 5 minutes ago: failed" },
    },
    {
      name: "not running: from the state file, without live facts",
      text: () => render(idle(), { facts: { strategy: "unknown" }, daemon: "not-running" }),
      expect: { Daemon: "not running (shown from the state file)", Booted: "unknown (only agentd asks rpm-ostree)", Strategy: "unknown" },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const text = c.text();
      for (const [key, value] of Object.entries(c.expect)) assert.equal(field(text, key), value, `${key} in:\n${text}`);
    });
  }

  test("the waiting line's second line says when the wait ends, on the node's clock", () => {
    const window = render(stagedState(), { facts: STAGED_FACTS }).split("\n");
    const at = window.findIndex((l) => l.includes("Waiting: "));
    assert.equal(window[at + 1]!.trim(), "opens Tue 2026-12-01 23:00 UTC, in 2 hours 5 minutes");
    const berlin = render(stagedState(), { facts: STAGED_FACTS, zone: "Europe/Berlin" }).split("\n");
    assert.equal(berlin[at + 1]!.trim(), "opens Wed 2026-12-02 00:00 CET, in 2 hours 5 minutes");
    const sessions = render(waitingFor({ kind: "sessions", message: "1 interactive session", until: "2026-12-01T21:05:00Z" })).split("\n");
    assert.equal(sessions[sessions.findIndex((l) => l.includes("Waiting: ")) + 1]!.trim(), "until Tue 2026-12-01 21:05 UTC, in 10 minutes");
  });

  test("keys are right-aligned on the colon, rpm-ostree style", () => {
    const lines = render(idle({ last_error: { code: "X", message: "y", at: "2026-12-01T20:00:00Z" } })).trimEnd().split("\n");
    const colons = lines.filter((l) => /^ *[A-Z][A-Za-z -]*: /.test(l)).map((l) => l.indexOf(": "));
    assert.ok(colons.length >= 6);
    assert.equal(new Set(colons).size, 1, lines.join("\n"));
  });

  test("-v: payloads in full, every denylist entry, and when the state changed", () => {
    const state = stagedState({
      last_state_change: "2026-12-01T20:00:00Z",
      denylist: [{ payload: "quay.io/fedora/fedora-coreos@sha256:" + "ab".repeat(32), version: "41.20251101.3.0", reason: "did not boot", at: "2026-11-30T20:55:00Z", source: "boot" }],
    });
    const text = render(state, { facts: STAGED_FACTS, verbose: true });
    assert.equal(field(text, "Booted"), `41.20251110.3.0 (${BOOTED.payload})`);
    assert.equal(field(text, "Staged"), `41.20251125.3.0 (${TARGET.payload}), finalization locked (applied only when agentd reboots)`);
    assert.equal(field(text, "Since"), "Tue 2026-12-01 20:00 UTC, 55 minutes ago");
    assert.equal(field(text, "Denylist"), "1 release never installed automatically (agentctl denylist)");
    assert.match(text, new RegExp(`^ +41\\.20251101\\.3\\.0 \\(quay\\.io/fedora/fedora-coreos@sha256:(ab){32}\\): did not boot \\(boot, Mon 2026-11-30 20:55 UTC, 1 day ago\\)$`, "m"));
    const short = render(state, { facts: STAGED_FACTS });
    assert.doesNotMatch(short, /did not boot/);
    assert.equal(field(short, "Since"), undefined);
  });

  test("boot verification and the last health run, when the state file has them", () => {
    const boot: BootRecord = { kind: "rolled-back", from: { version: "41.20251125.3.0", payload: "p2" }, to: { version: "41.20251110.3.0", payload: "p1" }, reason: "failed required health checks on 3 boots (10-disk)", at: "2026-12-01T18:55:00Z" };
    const lastHealth: HealthReport = {
      verdict: "degraded",
      required: [],
      wanted: [{ name: "50-web", path: "/etc/update-agent/check/wanted.d/50-web", skipped: null, error: null, exitCode: null, signal: null, timedOut: true, durationMs: 300_000, outputTail: "", ok: false }],
      startedAt: "2026-12-01T18:50:00Z",
      finishedAt: "2026-12-01T18:55:00Z",
      warnings: [],
    };
    const text = render(idle(), { boot, lastHealth });
    assert.equal(
      field(text, "Boot check"),
      "ROLLED BACK from 41.20251125.3.0 to 41.20251110.3.0 Tue 2026-12-01 18:55 UTC, 2 hours ago: failed required health checks on 3 boots (10-disk); 41.20251125.3.0 is denylisted",
    );
    assert.equal(field(text, "Health"), "DEGRADED: wanted checks failed: 50-web (timed out), Tue 2026-12-01 18:55 UTC, 2 hours ago");
    assert.equal(field(render(idle()), "Boot check"), undefined);
  });

  test("--json is the status document as is, with format_version 1", () => {
    const view = statusView(stagedState(), STAGED_FACTS, "running");
    const doc = statusJson(view);
    assert.equal(doc.format_version, 1);
    assert.deepEqual({ ...doc, format_version: undefined }, { ...view, format_version: undefined });
  });
});

describe("status words", () => {
  test("short payloads keep what tells releases apart", () => {
    assert.equal(shortPayload(BOOTED.payload), "5a3b6c7d8e9f");
    assert.equal(shortPayload(`quay.io/fedora/fedora-coreos@sha256:${"0123456789abcdef".repeat(4)}`), "quay.io/fedora/fedora-coreos@sha256:0123456789ab");
    assert.equal(shortPayload("quay.io/fedora/fedora-coreos:stable"), "quay.io/fedora/fedora-coreos:stable");
  });

  const bars: [number, string][] = [
    [0, "[..................] 0%"],
    [48, "[#########.........] 48%"],
    [100, "[##################] 100%"],
    [140, "[##################] 100%"],
    [-3, "[..................] 0%"],
  ];
  for (const [percent, bar] of bars) test(`progress ${percent}% → ${bar}`, () => assert.equal(progressBar(percent), bar));
});
