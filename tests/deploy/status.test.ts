import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  imageNameFromReference,
  ociPullspec,
  parseDeployment,
  parseStatus,
  statusFromDeployments,
  streamFromCommitMeta,
} from "../../src/deploy/status.js";
import type { Deployment } from "../../src/deploy/deployment.js";
import { AgentError } from "../../src/errors.js";
import { FCOS43 } from "../helpers/deployments.js";

function fixture(name: string): Record<string, unknown> {
  const url = new URL(`../fixtures/rpm-ostree/${name}`, import.meta.url);
  return JSON.parse(readFileSync(url, "utf8")) as Record<string, unknown>;
}

function firstDeployment(name: string): Record<string, unknown> {
  return (fixture(name).deployments as Record<string, unknown>[])[0]!;
}

function assertStatusInvalid(fn: () => unknown, expected: { message?: RegExp; where?: RegExp }): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof AgentError);
    assert.equal(e.code, "STATUS_INVALID");
    if (expected.message) assert.match(e.message, expected.message);
    if (expected.where) assert.match(e.where ?? "", expected.where);
    return true;
  });
}

describe("parseStatus on real rpm-ostree output", () => {
  for (const name of ["zincati-rpm-ostree-status.json", "zincati-rpm-ostree-status-annotation.json"]) {
    test(`${name}: the booted OCI deployment is named by its pullspec with the digest`, () => {
      const status = parseStatus(fixture(name));
      assert.deepEqual(status.deployments, [FCOS43]);
      assert.equal(status.booted, status.deployments[0]);
      assert.equal(status.staged, undefined);
      assert.equal(status.rollback, undefined);
      assert.deepEqual(status.driver, { name: "Zincati", unit: "zincati.service" });
      assert.equal(status.activeTransaction, undefined);
    });
  }

  test("zincati-rpm-ostree-staged.json: a finalization-locked staged checksum deployment sits before the booted one", () => {
    const status = parseStatus(fixture("zincati-rpm-ostree-staged.json"));
    const staged: Deployment = {
      id: "fedora-coreos-967b7b8d624e6d10ff51c2e81ef198fae966c567ac2e9b479771c693d0987949.0",
      osname: "fedora-coreos",
      checksum: "967b7b8d624e6d10ff51c2e81ef198fae966c567ac2e9b479771c693d0987949",
      baseRevision: "967b7b8d624e6d10ff51c2e81ef198fae966c567ac2e9b479771c693d0987949",
      version: "31.20200517.3.0",
      payload: "967b7b8d624e6d10ff51c2e81ef198fae966c567ac2e9b479771c693d0987949",
      scheme: "checksum",
      stream: "stable",
      containerImageReference: undefined,
      booted: false,
      staged: true,
      finalizationLocked: true,
      pinned: false,
      timestamp: 1591031729,
    };
    const booted: Deployment = {
      id: "fedora-coreos-01f074cc6cd88d8d2b43f821da692f2367c101eb4377802cb35092bde0ef02f7.0",
      osname: "fedora-coreos",
      checksum: "01f074cc6cd88d8d2b43f821da692f2367c101eb4377802cb35092bde0ef02f7",
      baseRevision: "01f074cc6cd88d8d2b43f821da692f2367c101eb4377802cb35092bde0ef02f7",
      version: "31.20200505.3.0",
      payload: "01f074cc6cd88d8d2b43f821da692f2367c101eb4377802cb35092bde0ef02f7",
      scheme: "checksum",
      stream: "stable",
      containerImageReference: undefined,
      booted: true,
      staged: false,
      finalizationLocked: false,
      pinned: false,
      timestamp: 1589895586,
    };
    assert.deepEqual(status.deployments, [staged, booted]);
    assert.equal(status.staged, status.deployments[0]);
    assert.equal(status.booted, status.deployments[1]);
    assert.equal(status.rollback, undefined);
    assert.equal(status.driver, undefined);
  });

  test("workstation-status.json: layered deployments are named by their base commit, missing staged means false", () => {
    const status = parseStatus(fixture("workstation-status.json"));
    const common = {
      osname: "fedora-silverblue",
      scheme: "checksum" as const,
      stream: undefined,
      containerImageReference: undefined,
      staged: false,
      finalizationLocked: false,
      pinned: false,
    };
    assert.deepEqual(status.deployments, [
      {
        ...common,
        id: "fedora-silverblue-63335a77f9853618ba1a5f139c5805e82176a2a040ef5e34d7402e12263af5bb.0",
        checksum: "63335a77f9853618ba1a5f139c5805e82176a2a040ef5e34d7402e12263af5bb",
        baseRevision: "229387d3c0bb8ad698228ca5702eca72aed8b298a7c800be1dc72bab160a9f7f",
        payload: "229387d3c0bb8ad698228ca5702eca72aed8b298a7c800be1dc72bab160a9f7f",
        version: "33.21",
        booted: true,
        timestamp: 1612555369,
      },
      {
        ...common,
        id: "fedora-silverblue-775d54e89bc74731ec27db04f12510c0269c8cbab3ad5e39e0a4d693231ef072.0",
        checksum: "775d54e89bc74731ec27db04f12510c0269c8cbab3ad5e39e0a4d693231ef072",
        baseRevision: "deea0555cb7d3eb042df9a85d4efcbb9f70d778a9a9557715c0e398978233cd7",
        payload: "deea0555cb7d3eb042df9a85d4efcbb9f70d778a9a9557715c0e398978233cd7",
        version: "33.17",
        booted: false,
        timestamp: 1611081986,
      },
    ]);
    assert.equal(status.booted, status.deployments[0]);
    assert.equal(status.rollback, status.deployments[1]);
    assert.equal(status.staged, undefined);
    assert.equal(status.driver, undefined);
  });

  test("a transaction in progress is reported by its method name", () => {
    const json = { ...fixture("zincati-rpm-ostree-status.json"), transaction: ["Deploy", ":1.42", "/org/projectatomic/rpmostree1/fedora_coreos"] };
    assert.equal(parseStatus(json).activeTransaction, "Deploy");
  });
});

describe("parseDeployment", () => {
  test("accepts the D-Bus form: bigint timestamps, no booted/staged/finalization-locked keys", () => {
    const raw: Record<string, unknown> = { ...firstDeployment("zincati-rpm-ostree-staged.json"), timestamp: 1591031729n };
    delete raw.booted;
    delete raw.staged;
    delete raw["finalization-locked"];
    const parsed = parseDeployment(raw);
    assert.equal(parsed.timestamp, 1591031729);
    assert.equal(parsed.booted, false);
    assert.equal(parsed.staged, false);
    assert.equal(parsed.finalizationLocked, false);
  });

  test("a deployment without a version is rejected naming the deployment and the key", () => {
    const raw = firstDeployment("zincati-rpm-ostree-status.json");
    delete raw.version;
    assertStatusInvalid(() => parseStatus({ deployments: [raw] }), {
      message: /fedora-coreos-36ff46d732a070a1bf10f7157f764e316f99a836dcdbf56702798e5042411fe9\.0.*"version"/,
      where: /deployments\[0\]\.version$/,
    });
  });

  test("an empty version counts as missing", () => {
    const raw = { ...firstDeployment("zincati-rpm-ostree-status.json"), version: "" };
    assertStatusInvalid(() => parseDeployment(raw, "dbus: Deployments[2]"), { where: /^dbus: Deployments\[2\]\.version$/ });
  });

  test("a container origin without a digest falls back to the commit but stays on the OCI scheme", () => {
    const raw = firstDeployment("zincati-rpm-ostree-status.json");
    delete raw["container-image-reference-digest"];
    const parsed = parseDeployment(raw);
    assert.equal(parsed.scheme, "oci");
    assert.equal(parsed.payload, "36ff46d732a070a1bf10f7157f764e316f99a836dcdbf56702798e5042411fe9");
    assert.equal(parsed.baseRevision, "36ff46d732a070a1bf10f7157f764e316f99a836dcdbf56702798e5042411fe9");
  });
});

describe("stream detection", () => {
  const imageConfig = (labels: Record<string, string>) => JSON.stringify({ config: { Labels: labels } });
  const manifest = (annotations: Record<string, string>) => JSON.stringify({ annotations });

  test("the com.coreos.stream label wins over the manifest annotation and the legacy key", () => {
    const meta = {
      "ostree.container.image-config": imageConfig({ "com.coreos.stream": "testing" }),
      "ostree.manifest": manifest({ "fedora-coreos.stream": "stable" }),
      "fedora-coreos.stream": "next",
    };
    assert.equal(streamFromCommitMeta(meta), "testing");
  });

  test("the manifest annotation is used when the label is absent", () => {
    const meta = {
      "ostree.container.image-config": imageConfig({ "fedora-coreos.stream": "ignored" }),
      "ostree.manifest": manifest({ "fedora-coreos.stream": "stable" }),
      "fedora-coreos.stream": "next",
    };
    assert.equal(streamFromCommitMeta(meta), "stable");
  });

  test("the legacy commit key is accepted (Zincati no longer reads it)", () => {
    assert.equal(streamFromCommitMeta({ "fedora-coreos.stream": "next" }), "next");
  });

  test("unparsable metadata and empty values give no stream instead of an error", () => {
    assert.equal(streamFromCommitMeta({ "ostree.manifest": "{not json", "ostree.container.image-config": "[]" }), undefined);
    assert.equal(streamFromCommitMeta({ "fedora-coreos.stream": "" }), undefined);
    assert.equal(streamFromCommitMeta(undefined), undefined);
  });
});

describe("OCI pullspecs", () => {
  const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  const cases: [string, string][] = [
    ["ostree-image-signed:docker://quay.io/fedora/fedora-coreos:stable", "quay.io/fedora/fedora-coreos"],
    ["ostree-unverified-image:docker://quay.io/fedora/fedora-coreos:next", "quay.io/fedora/fedora-coreos"],
    ["ostree-unverified-registry:quay.io/fedora/fedora-coreos:testing", "quay.io/fedora/fedora-coreos"],
    ["ostree-remote-image:fedora:docker://quay.io/fedora/fedora-coreos:stable", "quay.io/fedora/fedora-coreos"],
    ["ostree-remote-registry:fedora:quay.io/fedora/fedora-coreos:stable", "quay.io/fedora/fedora-coreos"],
    ["ostree-unverified-image:registry:localhost:5000/os/image:latest", "localhost:5000/os/image"],
    ["ostree-unverified-registry:registry.example.com:8443/os/image", "registry.example.com:8443/os/image"],
    ["ostree-unverified-registry:quay.io/os/image@sha256:ffff", "quay.io/os/image"],
    ["ostree-unverified-registry:someone/image:1", "docker.io/someone/image"],
    ["ostree-unverified-registry:busybox", "docker.io/library/busybox"],
  ];
  for (const [reference, name] of cases) {
    test(`${reference} → ${name}@digest`, () => {
      assert.equal(imageNameFromReference(reference), name);
      assert.equal(ociPullspec(reference, digest), `${name}@${digest}`);
    });
  }
});

describe("statusFromDeployments", () => {
  const booted = parseDeployment(firstDeployment("zincati-rpm-ostree-status.json"));

  test("builds the same status as parseStatus from the D-Bus property plus extras", () => {
    const fromDbus = statusFromDeployments([booted], {
      driver: { name: "Zincati", unit: "zincati.service" },
      activeTransaction: "",
    });
    assert.deepEqual(fromDbus, parseStatus(fixture("zincati-rpm-ostree-status.json")));
  });

  test("no booted deployment is an error", () => {
    assertStatusInvalid(() => statusFromDeployments([{ ...booted, booted: false }]), { message: /booted/ });
  });
});
