import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { basearchFor, platformFromCmdline, readPlatform, resolveIdentity, validateGroup } from "../../src/identity/index.js";
import { AgentError } from "../../src/errors.js";
import { FCOS43 } from "../helpers/deployments.js";

const tempRoots: string[] = [];
after(() => {
  for (const dir of tempRoots) rmSync(dir, { recursive: true, force: true });
});

function fakeRoot(files: { cmdline?: string; machineId?: string }): string {
  const root = mkdtempSync(join(tmpdir(), "identity-"));
  tempRoots.push(root);
  if (files.cmdline !== undefined) {
    mkdirSync(join(root, "proc"));
    writeFileSync(join(root, "proc/cmdline"), files.cmdline);
  }
  if (files.machineId !== undefined) {
    mkdirSync(join(root, "etc"));
    writeFileSync(join(root, "etc/machine-id"), files.machineId);
  }
  return root;
}

function isIdentityError(pattern: { message?: RegExp; where?: RegExp; hint?: RegExp }) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof AgentError);
    assert.equal(e.code, "IDENTITY_INVALID");
    if (pattern.message) assert.match(e.message, pattern.message);
    if (pattern.where) assert.match(e.where ?? "", pattern.where);
    if (pattern.hint) assert.match(e.hint ?? "", pattern.hint);
    return true;
  };
}

const FCOS_CMDLINE =
  "BOOT_IMAGE=(hd0,gpt3)/ostree/fedora-coreos-1/vmlinuz mitigations=auto,nosmt ignition.platform.id= ignition.platform.id=qemu console=ttyS0\n";

describe("platform", () => {
  test("the first non-empty ignition.platform.id wins", () => {
    assert.equal(platformFromCmdline(FCOS_CMDLINE), "qemu");
    assert.equal(platformFromCmdline("ignition.platform.id=aws ignition.platform.id=gcp"), "aws");
    assert.equal(platformFromCmdline("root=/dev/sda1 quiet"), undefined);
  });

  test("is read from <root>/proc/cmdline", async () => {
    assert.equal(await readPlatform(fakeRoot({ cmdline: FCOS_CMDLINE })), "qemu");
  });

  test("a configured platform wins over the command line", async () => {
    assert.equal(await readPlatform(fakeRoot({ cmdline: FCOS_CMDLINE }), "metal"), "metal");
  });

  test("no platform on the command line names the file and suggests identity.platform", async () => {
    const root = fakeRoot({ cmdline: "root=/dev/sda1 ignition.platform.id=\n" });
    await assert.rejects(readPlatform(root), isIdentityError({ where: /proc\/cmdline$/, hint: /identity\.platform/ }));
  });

  test("an unreadable command line names the file", async () => {
    const root = fakeRoot({});
    await assert.rejects(readPlatform(root), isIdentityError({ where: /proc\/cmdline$/, hint: /identity\.platform/ }));
  });
});

describe("basearch", () => {
  const cases: [string, string][] = [
    ["x64", "x86_64"],
    ["arm64", "aarch64"],
    ["ppc64", "ppc64le"],
    ["s390x", "s390x"],
    ["x86_64", "x86_64"],
  ];
  for (const [arch, basearch] of cases) {
    test(`${arch} → ${basearch}`, () => assert.equal(basearchFor(arch), basearch));
  }

  test("other architectures are refused by name", () => {
    assert.throws(() => basearchFor("ia32"), isIdentityError({ message: /"ia32"/ }));
  });

  test("defaults to this process's architecture", () => {
    assert.ok(["x86_64", "aarch64", "ppc64le", "s390x"].includes(basearchFor()));
  });
});

describe("group", () => {
  for (const good of ["default", "workers-eu.1", "A-b.C"]) {
    test(`${JSON.stringify(good)} is accepted`, () => assert.equal(validateGroup(good), good));
  }
  for (const bad of ["", "with space", "slash/y", "under_score", "ünïcode"]) {
    test(`${JSON.stringify(bad)} is refused`, () => {
      assert.throws(() => validateGroup(bad), isIdentityError({ where: /^identity\.group$/ }));
    });
  }
});

describe("resolveIdentity", () => {
  const booted = FCOS43; // the captured status's booted deployment

  test("combines the booted deployment, the host and the configuration", async () => {
    const root = fakeRoot({ cmdline: FCOS_CMDLINE, machineId: "2e074e9b299c41a59923c51ae16f279b\n" });
    const identity = await resolveIdentity({ root, booted, group: "default", arch: "arm64" });
    assert.deepEqual(identity, {
      basearch: "aarch64",
      stream: "stable",
      platform: "qemu",
      group: "default",
      nodeUuid: "074c268827d74fb59ed758e8940cd667",
      rolloutWariness: undefined,
      current: { version: "43.20251024.3.0", payload: booted.payload, scheme: "oci" },
    });
  });

  test("configured values override what the host says", async () => {
    const root = fakeRoot({});
    const identity = await resolveIdentity({
      root,
      booted,
      group: "workers",
      nodeUuid: "e0f3745b108f471cbd4883c6fbed8cdd",
      platform: "metal",
      rolloutWariness: 0.5,
      arch: "x64",
    });
    assert.equal(identity.nodeUuid, "e0f3745b108f471cbd4883c6fbed8cdd");
    assert.equal(identity.platform, "metal");
    assert.equal(identity.rolloutWariness, 0.5);
    assert.equal(identity.basearch, "x86_64");
  });

  test("a booted deployment without a stream says what was looked for", async () => {
    const root = fakeRoot({ cmdline: FCOS_CMDLINE, machineId: "2e074e9b299c41a59923c51ae16f279b\n" });
    await assert.rejects(
      resolveIdentity({ root, booted: { ...booted, stream: undefined }, group: "default" }),
      isIdentityError({ message: /stream/, hint: /com\.coreos\.stream.*fedora-coreos\.stream/ }),
    );
  });

  test("an invalid group or wariness is refused before touching the host", async () => {
    const root = fakeRoot({});
    await assert.rejects(resolveIdentity({ root, booted, group: "bad group" }), isIdentityError({ where: /identity\.group/ }));
    await assert.rejects(
      resolveIdentity({ root, booted, group: "default", rolloutWariness: 1.5 }),
      isIdentityError({ where: /rollout_wariness/ }),
    );
  });
});
