import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isAgentError } from "../../src/errors.js";
import { DEADEND_MOTD_NAME, deadEndMotdText, removeMotd, writeMotd } from "../../src/host/motd.js";

function tempRoot(): string {
  return mkdtempSync(join(tmpdir(), "ua-motd-"));
}

test("the dead-end notice lands in run/motd.d, readable by everyone, directory created", async () => {
  const root = tempRoot();
  try {
    const changed = await writeMotd(root, DEADEND_MOTD_NAME, deadEndMotdText("https://github.com/coreos/fedora-coreos-tracker/issues/123"));
    const path = join(root, "run/motd.d", DEADEND_MOTD_NAME);
    assert.equal(changed, true);
    assert.equal(
      readFileSync(path, "utf8"),
      "This release is a dead-end and will not further auto-update: https://github.com/coreos/fedora-coreos-tracker/issues/123\n",
    );
    assert.equal(statSync(path).mode & 0o777, 0o644);
    assert.deepEqual(readdirSync(join(root, "run/motd.d")), [DEADEND_MOTD_NAME], "no temp file left behind");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("an empty dead-end reason reads (unknown reason)", () => {
  assert.equal(deadEndMotdText(""), "This release is a dead-end and will not further auto-update: (unknown reason)");
});

test("writing the same text again leaves the file alone; new text replaces it", async () => {
  const root = tempRoot();
  try {
    assert.equal(await writeMotd(root, "86-boot.motd", "boot verified"), true);
    const path = join(root, "run/motd.d/86-boot.motd");
    const before = statSync(path).ino;
    assert.equal(await writeMotd(root, "86-boot.motd", "boot verified"), false);
    assert.equal(statSync(path).ino, before);
    assert.equal(await writeMotd(root, "86-boot.motd", "boot failed; rolled back\n"), true);
    assert.equal(readFileSync(path, "utf8"), "boot failed; rolled back\n");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("removing is idempotent and leaves other fragments alone", async () => {
  const root = tempRoot();
  try {
    mkdirSync(join(root, "run/motd.d"), { recursive: true });
    writeFileSync(join(root, "run/motd.d/40-other.motd"), "hello\n");
    await writeMotd(root, DEADEND_MOTD_NAME, deadEndMotdText("eol"));
    assert.equal(await removeMotd(root, DEADEND_MOTD_NAME), true);
    assert.equal(await removeMotd(root, DEADEND_MOTD_NAME), false);
    assert.equal(await removeMotd(tempRootGone(), DEADEND_MOTD_NAME), false);
    assert.deepEqual(readdirSync(join(root, "run/motd.d")), ["40-other.motd"]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("an unwritable directory is a HOST_IO error naming the file", { skip: process.getuid?.() === 0 && "root can write anywhere" }, async () => {
  const root = tempRoot();
  try {
    mkdirSync(join(root, "run/motd.d"), { recursive: true });
    chmodSync(join(root, "run/motd.d"), 0o555);
    await assert.rejects(writeMotd(root, DEADEND_MOTD_NAME, "x"), (e) => {
      assert.ok(isAgentError(e));
      assert.equal(e.code, "HOST_IO");
      assert.equal(e.where, join(root, "run/motd.d", DEADEND_MOTD_NAME));
      return true;
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a path where the directory should be is a HOST_IO error naming the file", async () => {
  const root = tempRoot();
  try {
    mkdirSync(join(root, "run"), { recursive: true });
    writeFileSync(join(root, "run/motd.d"), "not a directory");
    await assert.rejects(writeMotd(root, DEADEND_MOTD_NAME, "x"), (e) => {
      assert.ok(isAgentError(e));
      assert.equal(e.code, "HOST_IO");
      assert.equal(e.where, join(root, "run/motd.d", DEADEND_MOTD_NAME));
      assert.match(e.message, /^cannot write MOTD fragment: /);
      return true;
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("fragment names cannot escape the directory", async () => {
  await assert.rejects(writeMotd("/tmp", "../etc/passwd", "x"), /invalid MOTD fragment name/);
});

function tempRootGone(): string {
  const root = tempRoot();
  rmSync(root, { recursive: true, force: true });
  return root;
}
