/**
 * The reboot gate the loop asks at every tick, as table tests with in-memory ports: the order of the steps,
 * what apply-now skips, what each wait says, and the interactive-session grace period in wall-clock time
 * whatever `postponement_interval_secs` is.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { evaluateGate, type GateDeps } from "../../src/strategy/gate.js";
import { decideFinalization, postponementsFor } from "../../src/host/grace-period.js";
import { silentLogger } from "../../src/host/log.js";
import { buildSchedule } from "../../src/strategy/windows/index.js";
import type { BlockInhibitor, InteractiveSession } from "../../src/host/logind.js";
import type { LockOutcome, RebootLock } from "../../src/strategy/lock/index.js";
import type { ReleaseRef } from "../../src/agent/state.js";

const TARGET: ReleaseRef = { version: "43.20251124.3.0", payload: "quay.io/fedora/fedora-coreos@sha256:3333", age_index: 2 };
const NOW = new Date("2026-11-26T06:00:00Z");
const CORE: InteractiveSession = { id: "3", user: "core", tty: "pts/0" };
const BACKUP: BlockInhibitor = { what: "shutdown", who: "backup-job", why: "nightly backup", mode: "block", uid: 0, pid: 42 };

interface Rig {
  deps: GateDeps;
  /** What happened, in order: `acquire`, `release`, `hooks`, `broadcast <secs>`. */
  events: string[];
}

function gate(options: {
  window?: "open" | "closed";
  sessions?: InteractiveSession[];
  inhibitors?: BlockInhibitor[];
  /** `updates.interactive.check_sessions` (default true). */
  checkSessions?: boolean;
  lock?: LockOutcome;
  hooksOk?: boolean;
  grace?: number;
  intervalSecs?: number;
}): Rig {
  const events: string[] = [];
  // Open: every day from 00:00 for a day; closed: one hour at 18:00.
  const schedule = options.window
    ? buildSchedule({ time_zone: "UTC", window: [{ kind: "cron", cron: options.window === "open" ? "0 0 * * *" : "0 18 * * *", length_minutes: options.window === "open" ? 1440 : 60 }] }, "UTC")
    : undefined;
  const lock: RebootLock | undefined = options.lock
    ? {
        acquire: async () => (events.push("acquire"), options.lock!),
        release: async () => (events.push("release"), { kind: "released" }),
        describe: () => "test lock",
      }
    : undefined;
  const logind = {
    listInteractiveSessions: async () => options.sessions ?? [],
    listBlockInhibitors: async () => options.inhibitors ?? [],
    reboot: async () => {},
  };
  const deps: GateDeps = {
    strategy: "test",
    schedule,
    lock,
    sessions: options.checkSessions === false ? undefined : logind,
    inhibitors: logind,
    gracePeriodMinutes: options.grace ?? 10,
    postponementIntervalSecs: options.intervalSecs,
    overrideSessions: async () => false,
    broadcast: async (_sessions, _target, secs) => void events.push(`broadcast ${secs}`),
    runPreRebootHooks: async () => (events.push("hooks"), options.hooksOk === false ? { ok: false, failures: ["10-drain exited with 1"] } : { ok: true, failures: [] }),
    log: silentLogger,
    now: () => NOW,
  };
  return { deps, events };
}

const ask = (rig: Rig, force = false, postponementsLeft = postponementsFor(rig.deps.gracePeriodMinutes, rig.deps.postponementIntervalSecs)) =>
  evaluateGate(rig.deps, { target: TARGET, postponementsLeft, force });

test("gate: each wait says why, and nothing after the first closed step runs", async () => {
  const table: [Parameters<typeof gate>[0], string, string, string[]][] = [
    [{ window: "closed", sessions: [CORE], lock: { kind: "acquired" } }, "window", "maintenance window closed; next window opens Thu 2026-11-26 18:00 UTC, in 12 hours", []],
    [{ window: "open", sessions: [CORE], lock: { kind: "acquired" } }, "sessions", "1 interactive session(s) (core); rebooting when they log out or at the end of the grace period", ["broadcast 600"]],
    [{ inhibitors: [BACKUP], lock: { kind: "acquired" } }, "inhibitor", "shutdown blocked by backup-job (nightly backup)", []],
    [{ lock: { kind: "busy", reason: "all 1 semaphore slots currently locked", holders: ["c988d2509fdf5cdcbed39037c56406fb"] } }, "lock", "reboot slot busy: all 1 semaphore slots currently locked (holders: c988d2509fdf5cdcbed39037c56406fb)", ["acquire"]],
    // poseidon names its holder in the reason: once is enough.
    [{ lock: { kind: "busy", reason: "reboot lease lock unavailable, held by abc", holders: ["abc"] } }, "lock", "reboot slot busy: reboot lease lock unavailable, held by abc", ["acquire"]],
    [{ lock: { kind: "acquired" }, hooksOk: false }, "hook", "pre-reboot hook failed: 10-drain exited with 1", ["acquire", "hooks", "release"]],
  ];
  for (const [options, kind, message, events] of table) {
    const rig = gate(options);
    const result = await ask(rig);
    assert.equal(result.allowed, false, JSON.stringify(options));
    if (result.allowed) continue;
    assert.equal(result.wait.kind, kind);
    assert.equal(result.wait.message, message);
    assert.equal(result.slotHeld, false, "never waits holding a slot");
    assert.deepEqual(rig.events, events, JSON.stringify(options));
  }
});

test("gate: with check_sessions = false logged-in users are not waited for, a shutdown inhibitor still is", async () => {
  const result = await ask(gate({ checkSessions: false, sessions: [CORE], inhibitors: [BACKUP] }));
  assert.equal(result.allowed ? "allowed" : result.wait.kind, "inhibitor");
  const rig = gate({ checkSessions: false, sessions: [CORE] });
  assert.deepEqual(await ask(rig), { allowed: true, slotHeld: false });
  assert.deepEqual(rig.events, ["hooks"], "nobody is warned");
});

test("gate: apply-now skips the window and the logged-in users, never the slot, an inhibitor or the hooks", async () => {
  const allowed = gate({ window: "closed", sessions: [CORE], lock: { kind: "acquired" } });
  assert.deepEqual(await ask(allowed, true), { allowed: true, slotHeld: true });
  assert.deepEqual(allowed.events, ["acquire", "hooks"]);
  const blocked: [Parameters<typeof gate>[0], string][] = [
    [{ window: "closed", lock: { kind: "busy", reason: "full" } }, "lock"],
    [{ window: "closed", inhibitors: [BACKUP] }, "inhibitor"],
    [{ window: "closed", hooksOk: false }, "hook"],
  ];
  for (const [options, kind] of blocked) {
    const result = await ask(gate(options), true);
    assert.equal(result.allowed ? "allowed" : result.wait.kind, kind);
  }
});

test("grace period: wall-clock minutes whatever the pause between checks, and the warnings tell the truth", async () => {
  const walk = (grace: number, intervalSecs: number) => {
    let left = postponementsFor(grace, intervalSecs);
    const broadcasts: number[] = [];
    let blocked = 0;
    for (;;) {
      const d = decideFinalization({ activeSessions: 1, overrideFileExists: false, postponementsLeft: left, gracePeriodMinutes: grace, postponementIntervalSecs: intervalSecs });
      if (d.action === "allow") return { blocked, seconds: blocked * intervalSecs, broadcasts, reason: d.reason };
      blocked++;
      if (d.broadcastSecs !== undefined) broadcasts.push(d.broadcastSecs);
      left = d.postponementsLeft;
    }
  };
  // Zincati's 10 checks of a minute; one-second checks (the test rig) still wait a minute; 7 s checks round up.
  assert.deepEqual(walk(10, 60), { blocked: 10, seconds: 600, broadcasts: [600, 60], reason: "grace-period-over" });
  assert.deepEqual(walk(1, 1), { blocked: 60, seconds: 60, broadcasts: [60], reason: "grace-period-over" });
  assert.deepEqual(walk(10, 10), { blocked: 60, seconds: 600, broadcasts: [600, 60], reason: "grace-period-over" });
  assert.deepEqual(walk(1, 7), { blocked: 9, seconds: 63, broadcasts: [63], reason: "grace-period-over" });
  assert.deepEqual(walk(10, 300), { blocked: 2, seconds: 600, broadcasts: [600, 300], reason: "grace-period-over" });
  assert.equal(postponementsFor(0, 1), 0);
  assert.equal(postponementsFor(10), 10, "Zincati's default");
});

test("gate: the sessions wait ends when the grace period does, counted in checks of the configured interval", async () => {
  const rig = gate({ sessions: [CORE], grace: 1, intervalSecs: 1 });
  const first = await ask(rig);
  assert.ok(!first.allowed);
  assert.equal(first.postponementsLeft, 59);
  assert.equal(first.wait.until, new Date(NOW.getTime() + 60_000).toISOString());
  assert.deepEqual(rig.events, ["broadcast 60"]);
  const later = await ask(rig, false, 30);
  assert.ok(!later.allowed);
  assert.equal(later.wait.until, new Date(NOW.getTime() + 30_000).toISOString());
  assert.deepEqual(rig.events, ["broadcast 60"], "warned once");
  assert.deepEqual(await ask(rig, false, 0), { allowed: true, slotHeld: false });
});
