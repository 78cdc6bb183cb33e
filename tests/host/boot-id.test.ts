import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { currentBootId } from "../../src/host/boot-id.js";

test("the boot id is stable within a boot and changes when /run is emptied by a reboot, even if the kernel's id does not", async () => {
  const root = mkdtempSync(join(tmpdir(), "ua-bootid-"));
  try {
    mkdirSync(join(root, "proc/sys/kernel/random"), { recursive: true });
    writeFileSync(join(root, "proc/sys/kernel/random/boot_id"), "2b8e0d1c-0000-4000-8000-000000000001\n");
    const first = await currentBootId(root);
    assert.match(first ?? "", /^2b8e0d1c-0000-4000-8000-000000000001\//);
    assert.equal(await currentBootId(root), first, "an agent restart in the same boot sees the same id");
    rmSync(join(root, "run"), { recursive: true, force: true }); // the reboot: a fresh tmpfs
    const second = await currentBootId(root);
    assert.notEqual(second, first);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
