import { test } from "node:test";
import assert from "node:assert/strict";
import { BootRecordSchema, startVerification } from "../../src/health/record.js";

const X = { version: "41.20250301.3.0", payload: "sha256:new", age_index: 7 };
const P = { version: "41.20250215.3.0", payload: "sha256:previous" };

test("finalizing records 'verify X, attempt 1' with the previous release and the boot it happened in", () => {
  const record = startVerification(X, P, new Date("2025-03-01T11:00:00Z"), "boot-a");
  assert.deepEqual(record, {
    kind: "pending",
    release: { version: X.version, payload: X.payload },
    attempt: 1,
    finalizedAt: "2025-03-01T11:00:00.000Z",
    previous: P,
    failedChecks: [],
    bootId: "boot-a",
  });
  assert.deepEqual(BootRecordSchema.parse(JSON.parse(JSON.stringify(record))), record);
});

test("a record from the state file is validated: older files without failedChecks still load", () => {
  const stored = { kind: "pending", release: P, attempt: 2, finalizedAt: "t", previous: P };
  assert.deepEqual(BootRecordSchema.parse(stored), { ...stored, failedChecks: [] });
  assert.equal(BootRecordSchema.safeParse({ ...stored, attempt: 0 }).success, false);
  assert.equal(BootRecordSchema.safeParse({ kind: "rolled-back", from: P }).success, false);
  assert.equal(BootRecordSchema.safeParse({ kind: "something-else" }).success, false);
});
