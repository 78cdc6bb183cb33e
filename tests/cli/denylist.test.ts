import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import type { DenylistEntry } from "../../src/agent/state.js";
import { agentStateFile } from "../../src/agent/store.js";
import { renderDenylist } from "../../src/cli/render/denylist.js";
import { agentctl, makeRoot, NO_BUS, removeRoots, serveAgent, stagedState, writeState } from "./helpers.js";

after(removeRoots);

const OSTREE: DenylistEntry = { payload: "aaaa1111", version: "41.20251101.3.0", reason: "did not boot: fell back to 41.20251020.3.0", at: "2026-11-30T20:55:00Z", source: "boot" };
const OCI: DenylistEntry = { payload: "quay.io/fedora/fedora-coreos@sha256:bbbb", version: "41.20251101.3.0", reason: "deploy failed 12 times, last: no space left", at: "2026-11-29T10:00:00Z", source: "local" };
const FLEET: DenylistEntry = { payload: "cccc3333", version: "41.20251115.3.0", reason: "rolled back on node-7", at: "2026-12-01T08:00:00Z", source: "fleet" };

function rootWith(denylist: DenylistEntry[]): { root: string; path: string } {
  const root = makeRoot();
  return { root, path: writeState(root, stagedState({ denylist, last_check: { at: "2026-12-01T20:50:00Z", outcome: "update" } })) };
}

describe("agentctl denylist list", () => {
  test("renders every entry: version, payload, reason, when, where from", () => {
    const text = renderDenylist([OSTREE, FLEET], new Date("2026-12-01T20:55:00Z"), "UTC");
    assert.equal(
      text,
      [
        "2 releases never installed automatically:",
        "",
        "  41.20251101.3.0",
        "    payload: aaaa1111",
        "     reason: did not boot: fell back to 41.20251020.3.0",
        "      added: Mon 2026-11-30 20:55 UTC, 1 day ago",
        "     source: deployment history (a failed boot)",
        "",
        "  41.20251115.3.0",
        "    payload: cccc3333",
        "     reason: rolled back on node-7",
        "      added: Tue 2026-12-01 08:00 UTC, 12 hours 55 minutes ago",
        "     source: the fleet's shared store",
        "",
        "`agentctl denylist remove VERSION|PAYLOAD` (with agentd stopped) lets the agent install one again.",
        "",
      ].join("\n"),
    );
    assert.equal(renderDenylist([], new Date(), "UTC"), "The denylist is empty: agentd may install any release the update graph offers.\n");
  });

  test("from the state file when agentd is not running; `list` is the default", async () => {
    const { root } = rootWith([OSTREE]);
    for (const argv of [["denylist"], ["denylist", "list"]]) {
      const { code, stdout } = await agentctl(NO_BUS, "--root", root, ...argv);
      assert.equal(code, 0);
      assert.match(stdout, /^1 release never installed automatically:\n\n {2}41\.20251101\.3\.0\n/);
    }
    const json = await agentctl(NO_BUS, "--root", root, "denylist", "--json");
    assert.deepEqual(JSON.parse(json.stdout), { format_version: 1, denylist: [OSTREE] });
  });

  test("from the running agentd when there is one (its list is the one in force)", async () => {
    const { root } = rootWith([]);
    const agent = await serveAgent(stagedState({ denylist: [FLEET] }));
    try {
      const { code, stdout } = await agentctl(agent.env, "--root", root, "denylist", "--json");
      assert.equal(code, 0);
      assert.deepEqual(JSON.parse(stdout).denylist, [FLEET]);
    } finally {
      await agent.stop();
    }
  });
});

describe("agentctl denylist remove", () => {
  test("by version: every build of it goes, everything else in the state stays", async () => {
    const { root } = rootWith([OSTREE, OCI, FLEET]);
    const { code, stdout } = await agentctl(NO_BUS, "--root", root, "denylist", "remove", "41.20251101.3.0");
    assert.equal(code, 0);
    assert.match(stdout, /^removed 41\.20251101\.3\.0 \(aaaa1111\) from the denylist \(was: did not boot/m);
    assert.match(stdout, /^removed 41\.20251101\.3\.0 \(quay\.io\/fedora\/fedora-coreos@sha256:bbbb\) from the denylist/m);
    const { state, warnings } = await agentStateFile(root).load();
    assert.deepEqual(warnings, []);
    assert.deepEqual(state.denylist, [FLEET]);
    assert.equal(state.phase.kind, "staged");
    assert.deepEqual(state.last_check, { at: "2026-12-01T20:50:00Z", outcome: "update" });
  });

  test("by payload: only that build; a fleet entry comes with a note", async () => {
    const { root } = rootWith([OSTREE, OCI, FLEET]);
    assert.equal((await agentctl(NO_BUS, "--root", root, "denylist", "remove", "aaaa1111")).code, 0);
    const fleet = await agentctl(NO_BUS, "--root", root, "denylist", "remove", "cccc3333", "--json");
    assert.equal(fleet.code, 0);
    assert.deepEqual(JSON.parse(fleet.stdout), { format_version: 1, removed: [FLEET], denylist: [OCI] });
    const human = rootWith([FLEET]);
    assert.match((await agentctl(NO_BUS, "--root", human.root, "denylist", "remove", "cccc3333")).stdout, /comes back from the group's shared store/);
    assert.deepEqual((await agentStateFile(root).load()).state.denylist, [OCI]);
  });

  test("an entry that is not there: exit 1, the file untouched", async () => {
    const { root, path } = rootWith([OSTREE]);
    const before = readFileSync(path, "utf8");
    const { code, stderr } = await agentctl(NO_BUS, "--root", root, "denylist", "remove", "40.1");
    assert.equal(code, 1);
    assert.equal(stderr, "agentctl: '40.1' is not on the denylist (entries: 41.20251101.3.0)\n");
    assert.equal(readFileSync(path, "utf8"), before);
  });

  test("refused while agentd runs: exit 1 with what to do, the file untouched", async () => {
    const { root, path } = rootWith([OSTREE]);
    const before = readFileSync(path, "utf8");
    const agent = await serveAgent(stagedState({ denylist: [OSTREE] }));
    try {
      const { code, stderr } = await agentctl(agent.env, "--root", root, "denylist", "remove", OSTREE.version);
      assert.equal(code, 1);
      assert.match(stderr, /agentd is running and owns the state file/);
      assert.match(stderr, /systemctl stop update-agent/);
    } finally {
      await agent.stop();
    }
    assert.equal(readFileSync(path, "utf8"), before);
  });

  test("an unusable state file is left where it is: exit 1", async () => {
    const root = makeRoot();
    const path = writeState(root, "{ not json");
    const { code, stderr } = await agentctl(NO_BUS, "--root", root, "denylist", "remove", OSTREE.version);
    assert.equal(code, 1);
    assert.match(stderr, /unusable state file: not valid JSON.*\nNothing was removed\.\n$/s);
    assert.equal(readFileSync(path, "utf8"), "{ not json");
  });

  test("usage errors exit 2", async () => {
    for (const argv of [["denylist", "remove"], ["denylist", "remove", "a", "b"], ["denylist", "purge"], ["denylist", "list", "x"]]) {
      assert.equal((await agentctl(NO_BUS, ...argv)).code, 2, argv.join(" "));
    }
  });
});
