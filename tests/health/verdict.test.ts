import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { decideBoot, type BootEffect, type BootFacts, type BootInput, type HealthInput, type VerificationConfig } from "../../src/health/verdict.js";
import { startVerification, type BootRecord, type PendingVerification } from "../../src/health/record.js";
import type { HealthReport } from "../../src/health/report.js";
import type { PartResult } from "../../src/host/run-parts.js";

const NOW = new Date("2025-03-01T12:00:00Z");
const AT = NOW.toISOString();
const X = { version: "41.20250301.3.0", payload: "sha256:new" };
const P = { version: "41.20250215.3.0", payload: "sha256:previous" };
const Z = { version: "41.20250101.3.0", payload: "sha256:other" };

function part(name: string, exitCode: number): PartResult {
  return { name, path: `/etc/update-agent/check/required.d/${name}`, skipped: null, error: null, exitCode, signal: null, timedOut: false, durationMs: 5, outputTail: "", ok: exitCode === 0 };
}

function report(verdict: HealthReport["verdict"], failingRequired: string[] = [], failingWanted: string[] = []): HealthReport {
  return {
    verdict,
    required: [part("00-base", 0), ...failingRequired.map((n) => part(n, 1))],
    wanted: failingWanted.map((n) => part(n, 1)),
    startedAt: AT,
    finishedAt: AT,
    warnings: [],
  };
}

const healthy = report("healthy");
const degraded = report("degraded", [], ["30-ntp"]);
const unhealthy = report("unhealthy", ["10-disk", "20-app"]);

const pending = (attempt: number, extra: Partial<PendingVerification> = {}): PendingVerification => ({
  ...startVerification(X, P, new Date("2025-03-01T11:00:00Z")),
  attempt,
  ...extra,
});
const onX: BootFacts = { booted: X, staged: undefined, rollback: P };
const onP: BootFacts = { booted: P, staged: undefined, rollback: X };
const rollbackCfg: VerificationConfig = { maxBootAttempts: 3, onFailure: "rollback" };
const holdCfg: VerificationConfig = { maxBootAttempts: 3, onFailure: "hold" };

function decide(record: BootRecord | null, facts: BootFacts, health: HealthInput, config = rollbackCfg) {
  const input: BootInput = { record, facts, health, config, now: NOW };
  return decideBoot(input);
}

const kinds = (effects: BootEffect[]) => effects.map((e) => e.kind);

interface Row {
  title: string;
  record: BootRecord | null;
  facts: BootFacts;
  health: HealthInput;
  config?: VerificationConfig;
  expectRecord: BootRecord | null;
  expectEffects: BootEffect[];
}

const tookTooMany = "failed required health checks on 3 boots (10-disk, 20-app)";
const backOnP = "did not boot: the node came back on the previous release 41.20250215.3.0 (bootloader fallback, manual rollback or power loss)";

const rows: Row[] = [
  // booted is the release being verified
  { title: "booted X, checks not run yet: run them", record: pending(1), facts: onX, health: "not-run-yet", expectRecord: pending(1), expectEffects: [{ kind: "run-checks" }] },
  {
    title: "booted X, healthy: mark good, green.d, post-boot hooks, then release the slot",
    record: pending(1), facts: onX, health: healthy,
    expectRecord: { kind: "verified", release: X, attempts: 1, at: AT },
    expectEffects: [{ kind: "record-good", release: X }, { kind: "run-green" }, { kind: "run-post-boot-hooks" }, { kind: "release-slot" }],
  },
  {
    title: "booted X, only a wanted check failed: still good, no rollback",
    record: pending(2), facts: onX, health: degraded,
    expectRecord: { kind: "verified", release: X, attempts: 2, at: AT },
    expectEffects: [{ kind: "record-good", release: X }, { kind: "run-green" }, { kind: "run-post-boot-hooks" }, { kind: "release-slot" }],
  },
  {
    title: "booted X, unhealthy, attempt 1 of 3: red.d, then reboot into X again",
    record: pending(1), facts: { ...onX, staged: Z }, health: unhealthy,
    expectRecord: pending(2, { failedChecks: ["10-disk", "20-app"] }),
    expectEffects: [{ kind: "run-red" }, { kind: "cleanup-staged" }, { kind: "reboot-again", release: X, attempt: 2 }],
  },
  {
    title: "booted X, unhealthy, attempt 2 of 3: one more try",
    record: pending(2, { failedChecks: ["10-disk"] }), facts: onX, health: unhealthy,
    expectRecord: pending(3, { failedChecks: ["10-disk", "20-app"] }),
    expectEffects: [{ kind: "run-red" }, { kind: "cleanup-staged" }, { kind: "reboot-again", release: X, attempt: 3 }],
  },
  {
    title: "booted X, unhealthy, attempt 3 of 3: denylist X naming the checks, clean up staged, roll back",
    record: pending(3, { failedChecks: ["10-disk"] }), facts: onX, health: unhealthy,
    expectRecord: { kind: "rolling-back", from: X, to: P, reason: tookTooMany, at: AT },
    expectEffects: [{ kind: "run-red" }, { kind: "denylist", release: X, reason: tookTooMany }, { kind: "cleanup-staged" }, { kind: "rollback", from: X, to: P }],
  },
  {
    title: "max_boot_attempts = 1: the first failure rolls back",
    record: pending(1), facts: onX, health: unhealthy, config: { maxBootAttempts: 1, onFailure: "rollback" },
    expectRecord: { kind: "rolling-back", from: X, to: P, reason: "failed required health checks on 1 boot (10-disk, 20-app)", at: AT },
    expectEffects: [
      { kind: "run-red" },
      { kind: "denylist", release: X, reason: "failed required health checks on 1 boot (10-disk, 20-app)" },
      { kind: "cleanup-staged" },
      { kind: "rollback", from: X, to: P },
    ],
  },
  // booted is the previous release, and X is still staged: never tried
  {
    title: "X still staged on the previous release (finalize failed, reboot never happened): not a failure of X",
    record: pending(1), facts: { booted: P, staged: X, rollback: Z }, health: "not-run-yet",
    expectRecord: null, expectEffects: [{ kind: "run-checks" }],
  },
  {
    title: "X still staged, checks done: status only, nothing denylisted",
    record: pending(1), facts: { booted: P, staged: X, rollback: Z }, health: healthy,
    expectRecord: null, expectEffects: [{ kind: "run-green" }, { kind: "release-slot" }],
  },
  {
    title: "agent restarted in the same boot, X staged: the reboot may still be coming, keep the record and the slot",
    record: pending(1, { bootId: "boot-a" }), facts: { booted: P, staged: X, rollback: Z, bootId: "boot-a" }, health: "not-run-yet",
    expectRecord: pending(1, { bootId: "boot-a" }), expectEffects: [],
  },
  {
    title: "same boot, X no longer staged (finalize found nothing to finalize): never tried, forget it",
    record: pending(1, { bootId: "boot-a" }), facts: { booted: P, staged: undefined, rollback: Z, bootId: "boot-a" }, health: healthy,
    expectRecord: null, expectEffects: [{ kind: "run-green" }, { kind: "release-slot" }],
  },
  // booted is not X and X is not staged: X did not boot
  {
    title: "X did not boot, back on the previous release: denylist X, check P without blaming it",
    record: pending(1, { bootId: "boot-a" }), facts: { ...onP, bootId: "boot-b" }, health: "not-run-yet",
    expectRecord: { kind: "rolling-back", from: X, to: P, reason: backOnP, at: AT },
    expectEffects: [{ kind: "denylist", release: X, reason: backOnP }, { kind: "run-checks" }],
  },
  {
    title: "X did not boot, another deployment booted",
    record: pending(1), facts: { booted: Z, staged: undefined, rollback: P }, health: "not-run-yet",
    expectRecord: { kind: "rolling-back", from: X, to: Z, reason: "did not boot: the node booted 41.20250101.3.0 instead", at: AT },
    expectEffects: [{ kind: "denylist", release: X, reason: "did not boot: the node booted 41.20250101.3.0 instead" }, { kind: "run-checks" }],
  },
  {
    title: "X failed its checks, was rebooted into again, and then the bootloader fell back",
    record: pending(2, { failedChecks: ["10-disk"] }), facts: onP, health: healthy,
    expectRecord: { kind: "rolled-back", from: X, to: P, reason: `did not boot after failing required health checks (10-disk)${backOnP.slice("did not boot".length)}`, at: AT },
    expectEffects: [
      { kind: "denylist", release: X, reason: `did not boot after failing required health checks (10-disk)${backOnP.slice("did not boot".length)}` },
      { kind: "run-green" },
      { kind: "run-post-boot-hooks" },
      { kind: "release-slot" },
    ],
  },
  // on_failure = hold
  {
    title: "on_failure = hold: stay on X, keep the slot, say so",
    record: pending(1), facts: onX, health: unhealthy, config: holdCfg,
    expectRecord: { kind: "held", release: X, previous: P, reason: '41.20250301.3.0 failed required health checks (10-disk, 20-app) and on_failure is "hold"', at: AT },
    expectEffects: [{ kind: "run-red" }, { kind: "hold", message: '41.20250301.3.0 failed required health checks (10-disk, 20-app) and on_failure is "hold": HOLDING on 41.20250301.3.0 and keeping the reboot slot. Fix the node, or run `rpm-ostree rollback -r` to leave it' }],
  },
  {
    title: "attempts exhausted but no rollback deployment: hold instead",
    record: pending(3), facts: { booted: X, staged: undefined, rollback: undefined }, health: unhealthy,
    expectRecord: { kind: "held", release: X, previous: P, reason: `41.20250301.3.0 ${tookTooMany}, but there is no rollback deployment to go back to`, at: AT },
    expectEffects: [{ kind: "run-red" }, { kind: "hold", message: `41.20250301.3.0 ${tookTooMany}, but there is no rollback deployment to go back to: HOLDING on 41.20250301.3.0 and keeping the reboot slot. Fix the node, or run \`rpm-ostree rollback -r\` to leave it` }],
  },
];

describe("decideBoot: table", () => {
  for (const row of rows) {
    test(row.title, () => {
      const decision = decide(row.record, row.facts, row.health, row.config);
      assert.deepEqual(decision.record, row.expectRecord);
      assert.deepEqual(decision.effects, row.expectEffects);
    });
  }
});

describe("decideBoot: after a rollback", () => {
  const leaving: BootRecord = { kind: "rolling-back", from: X, to: P, reason: tookTooMany, at: "2025-03-01T11:30:00.000Z" };
  const settled: BootRecord = { kind: "rolled-back", from: X, to: P, reason: tookTooMany, at: "2025-03-01T11:30:00.000Z" };
  const denylistX: BootEffect = { kind: "denylist", release: X, reason: tookTooMany };

  test("the previous release boots: run the checks; X stays denylisted", () => {
    const d = decide(leaving, onP, "not-run-yet");
    assert.deepEqual(d.record, leaving);
    assert.deepEqual(d.effects, [denylistX, { kind: "run-checks" }]);
  });

  test("the previous release is healthy: the record says rolled back from X, slot released", () => {
    const d = decide(leaving, onP, healthy);
    assert.deepEqual(d.record, settled);
    assert.deepEqual(d.effects, [denylistX, { kind: "run-green" }, { kind: "run-post-boot-hooks" }, { kind: "release-slot" }]);
    assert.match(d.message, /rolled back from 41\.20250301\.3\.0 to 41\.20250215\.3\.0/);
  });

  test("the previous release is unhealthy too: not its failure, no further rollback, hold loudly", () => {
    const d = decide(leaving, onP, unhealthy);
    assert.deepEqual(d.record, settled);
    assert.deepEqual(kinds(d.effects), ["denylist", "run-red", "hold"]);
    assert.ok(d.effects.every((e) => e.kind !== "denylist" || e.release === X), "the previous release is never denylisted");
    assert.equal(d.severity, "error");
  });

  test("still on X (the agent stopped before the rollback rebooted): finish the rollback", () => {
    const d = decide(leaving, { booted: X, staged: Z, rollback: P, nextBoot: X }, "not-run-yet");
    assert.deepEqual(d.effects, [denylistX, { kind: "cleanup-staged" }, { kind: "rollback", from: X, to: P }]);
  });

  test("still on X but the rollback already reordered the deployments (its reboot was blocked): just reboot", () => {
    const d = decide(leaving, { booted: X, staged: undefined, rollback: undefined, nextBoot: P }, "not-run-yet");
    assert.deepEqual(d.effects, [denylistX, { kind: "cleanup-staged" }, { kind: "reboot", into: P }]);
    assert.ok(d.effects.every((e) => e.kind !== "rollback"), "a second Rollback would put X first again");
  });

  test("later boots after the rollback: status only, the record keeps saying where we came from", () => {
    const d = decide(settled, onP, unhealthy);
    assert.deepEqual(d.record, settled);
    assert.deepEqual(d.effects, [{ kind: "run-red" }]);
  });
});

describe("decideBoot: no pending verification", () => {
  for (const record of [null, { kind: "verified", release: P, attempts: 1, at: AT } as BootRecord]) {
    const what = record ? "after a verified update" : "with no record";
    test(`${what}: checks run, their result only informs status`, () => {
      assert.deepEqual(decide(record, onP, "not-run-yet").effects, [{ kind: "run-checks" }]);
      assert.deepEqual(decide(record, onP, healthy).effects, [{ kind: "run-green" }, { kind: "release-slot" }]);
      assert.deepEqual(decide(record, onP, degraded).effects, [{ kind: "run-green" }, { kind: "release-slot" }]);
      const bad = decide(record, onP, unhealthy);
      assert.deepEqual(bad.effects, [{ kind: "run-red" }], "never rolls back, never reboots, keeps the slot");
      assert.deepEqual(bad.record, record);
      assert.match(bad.message, /nothing is rolled back/);
    });
  }
});

describe("decideBoot: a held release", () => {
  const held: BootRecord = { kind: "held", release: X, previous: P, reason: "X failed", at: "2025-03-01T11:30:00.000Z" };

  test("fixed by the admin: checks pass, X is marked good and the slot released", () => {
    const d = decide(held, onX, healthy, holdCfg);
    assert.deepEqual(d.record, { kind: "verified", release: X, attempts: 1, at: AT });
    assert.deepEqual(kinds(d.effects), ["record-good", "run-green", "run-post-boot-hooks", "release-slot"]);
  });

  test("still failing under hold: hold again", () => {
    const d = decide(held, onX, unhealthy, holdCfg);
    assert.equal(d.record?.kind, "held");
    assert.deepEqual(kinds(d.effects), ["run-red", "hold"]);
  });

  test("still failing after the admin switched on_failure to rollback: roll back", () => {
    const d = decide(held, onX, unhealthy, rollbackCfg);
    assert.equal(d.record?.kind, "rolling-back");
    assert.deepEqual(kinds(d.effects), ["run-red", "denylist", "cleanup-staged", "rollback"]);
  });

  test("the admin rolled back by hand: X is denylisted, the booted release is not blamed", () => {
    const d = decide(held, onP, healthy, holdCfg);
    assert.deepEqual(d.record, { kind: "rolled-back", from: X, to: P, reason: "X failed; then the node booted 41.20250215.3.0", at: AT });
    assert.deepEqual(kinds(d.effects), ["denylist", "run-green", "run-post-boot-hooks", "release-slot"]);
  });
});

describe("decideBoot: a whole failed update, boot by boot", () => {
  test("finalize X, three failing boots, rollback, the previous release boots healthy", () => {
    let record: BootRecord | null = startVerification(X, P, NOW, "boot-0");
    const executed: string[] = [];
    const boot = (facts: BootFacts, health: HealthReport) => {
      for (const h of ["not-run-yet", health] as const) {
        const d = decide(record, facts, h);
        record = d.record;
        executed.push(...d.effects.map((e) => (e.kind === "denylist" ? `denylist ${e.release.version}` : e.kind)));
      }
    };
    boot({ ...onX, bootId: "boot-1" }, unhealthy);
    boot({ ...onX, bootId: "boot-2" }, unhealthy);
    boot({ ...onX, bootId: "boot-3" }, unhealthy);
    boot({ ...onP, bootId: "boot-4" }, healthy);
    assert.deepEqual(executed, [
      "run-checks", "run-red", "cleanup-staged", "reboot-again",
      "run-checks", "run-red", "cleanup-staged", "reboot-again",
      "run-checks", "run-red", `denylist ${X.version}`, "cleanup-staged", "rollback",
      `denylist ${X.version}`, "run-checks", `denylist ${X.version}`, "run-green", "run-post-boot-hooks", "release-slot",
    ]);
    assert.deepEqual(record, { kind: "rolled-back", from: X, to: P, reason: tookTooMany, at: AT });
  });
});

test("a reboot-again that never happened (refused, agent restarted in the same boot) is asked for again, and no boot is counted", () => {
  const x = { version: "41.2", payload: "xxx" };
  const p = { version: "41.1", payload: "ppp" };
  const config = { maxBootAttempts: 2, onFailure: "rollback" as const };
  const failing = {
    verdict: "unhealthy" as const,
    required: [{ name: "10-app", path: "/x", skipped: null, error: null, exitCode: 1, signal: null, timedOut: false, durationMs: 5, outputTail: "", ok: false }],
    wanted: [],
    startedAt: "2026-11-26T10:00:00Z",
    finishedAt: "2026-11-26T10:00:01Z",
    warnings: [],
  };
  const pending = { kind: "pending" as const, release: x, attempt: 1, finalizedAt: "2026-11-26T09:00:00Z", previous: p, failedChecks: [], bootId: "boot-0" };
  const facts = { booted: x, staged: undefined, rollback: p, bootId: "boot-1" };
  const first = decideBoot({ record: pending, facts, health: failing, config, now: new Date("2026-11-26T10:00:02Z") });
  assert.deepEqual(first.effects.map((e) => e.kind), ["run-red", "cleanup-staged", "reboot-again"]);
  assert.equal(first.record?.kind === "pending" && first.record.rebootRequestedIn, "boot-1");
  // The agent is restarted, still in boot-1: no checks, no rollback, the same reboot again.
  const again = decideBoot({ record: first.record, facts, health: "not-run-yet", config, now: new Date("2026-11-26T10:05:00Z") });
  assert.deepEqual(again.effects.map((e) => e.kind), ["cleanup-staged", "reboot-again"]);
  assert.equal(again.record?.kind === "pending" && again.record.attempt, 2);
  // The reboot happens (boot-2): attempt 2 is checked for real.
  const booted = decideBoot({ record: first.record, facts: { ...facts, bootId: "boot-2" }, health: "not-run-yet", config, now: new Date("2026-11-26T10:10:00Z") });
  assert.deepEqual(booted.effects.map((e) => e.kind), ["run-checks"]);
});
