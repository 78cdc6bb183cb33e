/**
 * The pure rules of the rpm-ostree adapter, as tables: which call stages a release, what a wrong
 * staged deployment looks like, how progress signals read, how long we wait for a busy daemon, and
 * what an admin is told when D-Bus fails.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DBusError, Variant } from "@jellybrick/dbus-next";
import { fromDBusError, GIO_BUSY_ERROR, isBusyError } from "../../src/deploy/dbus-errors.js";
import { planStage, rebaseReference, stagedMismatch } from "../../src/deploy/stage-plan.js";
import { backoffDelays } from "../../src/deploy/timing.js";
import { progressFromSignal } from "../../src/deploy/transaction.js";
import { isAgentError } from "../../src/errors.js";
import type { Release } from "../../src/graph/release.js";
import { deployment, FCOS43_DIGEST } from "../helpers/deployments.js";

/** The booted image's digest; the fixture deployment is booted from it. */
const DIGEST = FCOS43_DIGEST;
const CHECKSUM = "c".repeat(64);

const release = (payload: string, version = "43.2"): Release => ({ version, payload, ageIndex: 1, metadata: {} });
/** Variants flattened, so expectations read like the CLI options. */
const flat = (body: unknown[]): unknown =>
  JSON.parse(JSON.stringify(body, (_k, v: unknown) => (v instanceof Variant ? v.value : v)));

describe("planStage", () => {
  const ociBooted = deployment({});
  const checksumBooted = deployment({ scheme: "checksum", containerImageReference: undefined, payload: CHECKSUM });

  it("deploys a checksum by revision= with skip-branch-check and an explicit allow-downgrade", () => {
    const plan = planStage(release(CHECKSUM), checksumBooted, true);
    assert.equal(plan.member, "Deploy");
    assert.deepEqual(flat(plan.body), [
      `revision=${CHECKSUM}`,
      { "lock-finalization": true, "skip-branch-check": true, "allow-downgrade": true },
    ]);
  });

  it("deploys an image of the same name by digest", () => {
    const plan = planStage(release(`quay.io/fedora/fedora-coreos@${DIGEST}`), ociBooted, false);
    assert.equal(plan.member, "Deploy");
    assert.deepEqual(flat(plan.body), [DIGEST, { "lock-finalization": true, "allow-downgrade": false }]);
  });

  it("rebases to an image of another name with UpdateDeployment", () => {
    const plan = planStage(release(`registry.example.com/fcos@${DIGEST}`), ociBooted, false);
    assert.equal(plan.member, "UpdateDeployment");
    assert.deepEqual(flat(plan.body), [
      { "set-refspec": "ostree-image-signed:docker://registry.example.com/fcos:stable", "set-revision": DIGEST },
      { "lock-finalization": true, "allow-downgrade": false },
    ]);
    assert.match(plan.description, /^rpm-ostree rebase --lock-finalization/);
  });

  for (const [name, target, booted, message] of [
    ["an OCI release on a checksum host", release(`quay.io/x/y@${DIGEST}`), checksumBooted, /does not boot one/],
    ["a checksum release on an OCI host", release(CHECKSUM), ociBooted, /boots a container image/],
    ["a payload of neither kind", release("latest"), ociBooted, /neither a checksum nor an image digest/],
  ] as const) {
    it(`refuses ${name}`, () => {
      assert.throws(() => planStage(target, booted, false), (e) => isAgentError(e) && e.code === "DEPLOY_UNSUPPORTED" && message.test(e.message));
    });
  }
});

describe("rebaseReference", () => {
  for (const [booted, expected] of [
    ["ostree-image-signed:docker://quay.io/fedora/fedora-coreos:stable", "ostree-image-signed:docker://mirror.example/fcos:stable"],
    ["ostree-unverified-registry:quay.io/fedora/fedora-coreos:next", "ostree-unverified-registry:mirror.example/fcos:next"],
    ["ostree-remote-image:fedora:docker://quay.io/fedora/fedora-coreos:testing", "ostree-remote-image:fedora:docker://mirror.example/fcos:testing"],
    [`ostree-image-signed:docker://quay.io/fedora/fedora-coreos@${DIGEST}`, "ostree-image-signed:docker://mirror.example/fcos:stable"],
  ] as const) {
    it(`${booted} → ${expected}`, () => {
      assert.equal(rebaseReference(booted, "mirror.example/fcos", "stable"), expected);
    });
  }
});

describe("stagedMismatch", () => {
  const target = release(`quay.io/fedora/fedora-coreos@${DIGEST}`, "43.2");
  const good = deployment({ staged: true, booted: false, finalizationLocked: true, version: "43.2" });

  it("accepts the deployment that was asked for", () => {
    assert.equal(stagedMismatch(good, target, "stable"), undefined);
  });
  for (const [what, staged, expected] of [
    ["nothing staged", undefined, /nothing is staged/],
    ["another version", { ...good, version: "43.3" }, /version 43\.3 instead of 43\.2/],
    ["another payload", { ...good, payload: `quay.io/fedora/fedora-coreos@sha256:${"0".repeat(64)}` }, /payload .* instead of/],
    ["another stream", { ...good, stream: "next" }, /stream next instead of stable/],
    ["no finalization lock", { ...good, finalizationLocked: false }, /no finalization lock/],
  ] as const) {
    it(`reports ${what}`, () => {
      assert.match(stagedMismatch(staged, target, "stable") ?? "", expected);
    });
  }
  it("does not judge the stream when the deployment names none", () => {
    assert.equal(stagedMismatch({ ...good, stream: undefined }, target, "stable"), undefined);
  });
});

describe("progressFromSignal", () => {
  it("reads percent, download bytes and rate, and plain messages", () => {
    const download = progressFromSignal({
      interface: "org.projectatomic.rpmostree1.Transaction",
      member: "DownloadProgress",
      body: [[1, 2], [0, 0], [3, 3, 0], [0, 0, 0, 0], [150, 300], [5_000_000, 1_000_000]],
    });
    assert.deepEqual(download, { message: "Receiving objects: 150/300", percent: 50, downloadedBytes: 5_000_000, bytesPerSecond: 1_000_000 });
    const percent = progressFromSignal({ interface: "", member: "PercentProgress", body: ["Writing objects", 42] });
    assert.equal(percent?.percent, 42);
    assert.equal(progressFromSignal({ interface: "", member: "Message", body: ["No change."] })?.message, "No change.");
    assert.equal(progressFromSignal({ interface: "", member: "ProgressEnd", body: [] }), undefined);
  });
});

describe("backoffDelays", () => {
  it("doubles up to the cap and never waits longer than the budget in total", () => {
    assert.deepEqual(backoffDelays({ initialMs: 1_000, maxMs: 4_000, totalMs: 12_000 }), [1_000, 2_000, 4_000, 4_000, 1_000]);
    assert.deepEqual(backoffDelays({ initialMs: 1_000, maxMs: 4_000, totalMs: 0 }), []);
  });
});

describe("fromDBusError", () => {
  it("recognises rpm-ostree's busy reply and names the member", () => {
    const busy = new DBusError(GIO_BUSY_ERROR, "Transaction in progress: deploy");
    assert.equal(isBusyError(busy), true);
    assert.equal(isBusyError(new DBusError("org.freedesktop.DBus.Error.Failed", "System transaction in progress")), true);
    const error = fromDBusError(busy, "org.projectatomic.rpmostree1.OS.Deploy");
    assert.equal(error.code, "DEPLOY_BUSY");
    assert.equal(error.where, "org.projectatomic.rpmostree1.OS.Deploy");
  });

  it("tells the admin what to check for a missing daemon or a denied call", () => {
    const missing = fromDBusError(new DBusError("org.freedesktop.DBus.Error.ServiceUnknown", "not provided"), "x");
    assert.equal(missing.code, "DEPLOY_DBUS");
    assert.match(missing.hint ?? "", /systemctl status rpm-ostreed/);
    const denied = fromDBusError(new DBusError("org.freedesktop.DBus.Error.AccessDenied", "no"), "x");
    assert.match(denied.hint ?? "", /polkit/);
    assert.match(fromDBusError(new Error("ECONNREFUSED"), "x").message, /D-Bus connection failed: ECONNREFUSED/);
  });
});
