import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { appSpecificMachineId, normalizeUuid, readNodeUuid, ZINCATI_APP_ID } from "../../src/identity/index.js";
import { AgentError } from "../../src/errors.js";

const tempRoots: string[] = [];
after(() => {
  for (const dir of tempRoots) rmSync(dir, { recursive: true, force: true });
});

function rootWithMachineId(content: string | undefined): string {
  const root = mkdtempSync(join(tmpdir(), "identity-uuid-"));
  tempRoots.push(root);
  if (content !== undefined) {
    mkdirSync(join(root, "etc"));
    writeFileSync(join(root, "etc/machine-id"), content);
  }
  return root;
}

function isIdentityError(pattern: { message?: RegExp; where?: RegExp }) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof AgentError);
    assert.equal(e.code, "IDENTITY_INVALID");
    if (pattern.message) assert.match(e.message, pattern.message);
    if (pattern.where) assert.match(e.where ?? "", pattern.where);
    return true;
  };
}

describe("appSpecificMachineId (cincinnati.md §7 known answers)", () => {
  const vectors: [string, string, string][] = [
    ["2e074e9b299c41a59923c51ae16f279b", "033b1b9b264441fcaa173e9e5bf35c5a", "4d4a86c9c6644a479560ded5d19a30c5"],
    ["2e074e9b299c41a59923c51ae16f279b", "de35106b6ec24688b63afddaa156679b", "074c268827d74fb59ed758e8940cd667"],
    ["00000000000000000000000000000001", "de35106b6ec24688b63afddaa156679b", "a2a5385f64d54b22b0eca8f3deb0cd10"],
  ];
  for (const [machineId, appId, expected] of vectors) {
    test(`${machineId} under ${appId} → ${expected}`, () => {
      assert.equal(appSpecificMachineId(machineId, appId), expected);
    });
  }

  test("Zincati's app ID is the one nodes were enrolled with", () => {
    assert.equal(ZINCATI_APP_ID, "de35106b6ec24688b63afddaa156679b");
  });
});

describe("normalizeUuid", () => {
  test("accepts plain and hyphenated forms in any case", () => {
    assert.equal(normalizeUuid("E0F3745B108F471CBD4883C6FBED8CDD"), "e0f3745b108f471cbd4883c6fbed8cdd");
    assert.equal(normalizeUuid("e0f3745b-108f-471c-bd48-83c6fbed8cdd"), "e0f3745b108f471cbd4883c6fbed8cdd");
  });

  for (const bad of ["", "e0f3745b108f471cbd4883c6fbed8cd", "e0f3745b108f471cbd4883c6fbed8cddaa", "g0f3745b108f471cbd4883c6fbed8cdd", "e0f3745b-108f471c-bd48-83c6fbed8cdd"]) {
    test(`rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(() => normalizeUuid(bad, "identity.node_uuid"), isIdentityError({ where: /^identity\.node_uuid$/ }));
    });
  }
});

describe("readNodeUuid", () => {
  test("derives Zincati's node UUID from /etc/machine-id", async () => {
    const root = rootWithMachineId("2e074e9b299c41a59923c51ae16f279b\n");
    assert.equal(await readNodeUuid(root), "074c268827d74fb59ed758e8940cd667");
  });

  test("a configured UUID wins, even with no machine-id on disk", async () => {
    const root = rootWithMachineId(undefined);
    assert.equal(await readNodeUuid(root, "E0F3745B-108F-471C-BD48-83C6FBED8CDD"), "e0f3745b108f471cbd4883c6fbed8cdd");
  });

  test("a missing machine-id names the file", async () => {
    const root = rootWithMachineId(undefined);
    await assert.rejects(readNodeUuid(root), isIdentityError({ where: new RegExp(`${root}/etc/machine-id$`), message: /ENOENT/ }));
  });

  for (const content of ["uninitialized\n", "00000000000000000000000000000000\n", "2e074e9b\n"]) {
    test(`a malformed machine-id (${JSON.stringify(content)}) names the file`, async () => {
      const root = rootWithMachineId(content);
      await assert.rejects(readNodeUuid(root), isIdentityError({ where: /etc\/machine-id$/, message: /machine ID/ }));
    });
  }
});
