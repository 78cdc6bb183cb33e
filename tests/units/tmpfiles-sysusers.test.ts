/**
 * The sysusers and tmpfiles files, applied by the real systemd tools to a scratch root, then probed as
 * the agent's own uid: what it can write and what it cannot.
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UNITS, hasTool, runTool, type Ran } from "./unit-file.js";

const SYSUSERS = join(UNITS, "update-agent.sysusers");
const TMPFILES = join(UNITS, "update-agent.tmpfiles");
const TOOLS = ["systemd-sysusers", "systemd-tmpfiles", "unshare", "setpriv"];
const missing = TOOLS.filter((t) => !hasTool(t));

/** Runs `script` with the scratch root's passwd/group as the host's, in a private mount namespace. */
function inRoot(root: string, script: string): Ran {
  const bind = `mount --bind "${root}/etc/passwd" /etc/passwd && mount --bind "${root}/etc/group" /etc/group`;
  return runTool("unshare", ["--mount", "sh", "-euc", `${bind}\n${script}`]);
}

describe("sysusers and tmpfiles", { skip: missing.length > 0 ? `missing ${missing.join(", ")} (apt-get install systemd util-linux)` : false }, () => {
  let root: string;
  let uid: number;
  let gid: number;

  before(() => {
    root = mkdtempSync(join(tmpdir(), "ua-root-"));
    chmodSync(root, 0o755); // mkdtemp's 0700 would keep the agent's uid out of everything below
    mkdirSync(join(root, "etc"));
    writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    writeFileSync(join(root, "etc/group"), "root:x:0:\ntty:x:5:\n");
    for (const f of ["shadow", "gshadow"]) writeFileSync(join(root, "etc", f), "", { mode: 0o600 });
    const users = runTool("systemd-sysusers", [`--root=${root}`, SYSUSERS]);
    assert.equal(users.status, 0, users.stderr);
    const entry = readFileSync(join(root, "etc/passwd"), "utf8").split("\n").find((l) => l.startsWith("update-agent:"));
    assert.ok(entry, "systemd-sysusers created update-agent");
    [uid, gid] = entry.split(":").slice(2, 4).map(Number) as [number, number];
    const created = inRoot(root, `systemd-tmpfiles --root="${root}" --create "${TMPFILES}"`);
    assert.equal(created.status, 0, created.stderr);
    assert.equal(created.stderr.trim(), "", "tmpfiles applies every line without complaint");
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test("update-agent is a system user with no login shell and its own group", () => {
    const entry = readFileSync(join(root, "etc/passwd"), "utf8").split("\n").find((l) => l.startsWith("update-agent:"))!;
    const [, , , , gecos, , shell] = entry.split(":");
    assert.ok(uid > 0 && uid < 1000, `uid ${uid} is in the system range`);
    assert.equal(gecos, "update-agent, automatic OS updates");
    assert.match(shell!, /nologin$/);
    assert.match(readFileSync(join(root, "etc/group"), "utf8"), new RegExp(`^update-agent:x:${gid}:`, "m"));
  });

  const OWN = [
    ["run/update-agent", 0o775],
    ["run/update-agent/config.d", 0o775],
    ["run/update-agent/public", 0o775],
    ["run/update-agent/private", 0o770],
    ["var/lib/update-agent", 0o755],
  ] as const;
  for (const [path, mode] of OWN) {
    test(`/${path} is the agent's, mode ${mode.toString(8)}`, () => {
      const st = statSync(join(root, path));
      assert.ok(st.isDirectory());
      assert.equal(st.mode & 0o7777, mode);
      assert.equal(st.uid, uid);
      assert.equal(st.gid, gid);
    });
  }

  const ADMIN = [
    "etc/update-agent/config.d",
    "etc/update-agent/hooks/pre-reboot.d",
    "etc/update-agent/hooks/post-boot.d",
    "etc/update-agent/check/required.d",
    "etc/update-agent/check/wanted.d",
    "etc/update-agent/green.d",
    "etc/update-agent/red.d",
  ];
  for (const path of ADMIN) {
    test(`/${path} exists and belongs to root (the agent runs what is in it)`, () => {
      const st = statSync(join(root, path));
      assert.ok(st.isDirectory());
      assert.equal(st.mode & 0o7777, 0o755);
      assert.equal(st.uid, 0);
      assert.equal(st.gid, 0);
    });
  }

  test("the metrics socket is also reachable through private/, as Zincati's is", () => {
    const r = runTool("readlink", [join(root, "run/update-agent/private/metrics.promsock")]);
    assert.equal(r.stdout.trim(), "../public/metrics.promsock");
  });

  /** Runs `script` as the agent's uid and gid inside the scratch root (cwd = root). */
  function asAgent(script: string): Ran {
    return inRoot(root, `cd "${root}"\nexec setpriv --reuid=${uid} --regid=${gid} --clear-groups sh -euc '${script}'`);
  }

  test("the agent can write and replace its MOTD fragments in root's /run/motd.d (the ACL)", () => {
    const st = statSync(join(root, "run/motd.d"));
    assert.equal(st.uid, 0);
    // With an ACL, the group bits show the ACL mask (rwx); nobody else may write.
    assert.equal(st.mode & 0o7007, 0o005);
    const r = asAgent(
      "printf a > run/motd.d/.85-update-agent-deadend.motd.tmp && mv run/motd.d/.85-update-agent-deadend.motd.tmp run/motd.d/85-update-agent-deadend.motd && " +
        "printf b > run/motd.d/.85-update-agent-deadend.motd.tmp && mv run/motd.d/.85-update-agent-deadend.motd.tmp run/motd.d/85-update-agent-deadend.motd && " +
        "rm run/motd.d/85-update-agent-deadend.motd",
    );
    assert.equal(r.status, 0, r.stderr);
  });

  test("the agent can write its state and runtime directories", () => {
    const r = asAgent("touch var/lib/update-agent/state.json run/update-agent/public/x run/update-agent/config.d/x run/update-agent/private/x");
    assert.equal(r.status, 0, r.stderr);
  });

  test("the agent cannot change its own configuration, hooks or health checks", () => {
    for (const dir of ADMIN) {
      const r = asAgent(`touch ${dir}/planted`);
      assert.notEqual(r.status, 0, `the agent could create a file in /${dir}`);
      assert.match(r.stderr, /Permission denied/);
    }
  });
});
