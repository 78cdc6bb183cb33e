/** The staged install tree: the CommonJS bundles run and match the sources, the launchers exec them, licences are listed. */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { Script } from "node:vm";
import { join } from "node:path";
import { main as sourceCli } from "../../src/cli/main.js";
import { hasTool } from "../units/unit-file.js";
import { REPO, build, expectedFiles, type Built } from "./build.js";

const GRAPH = join(REPO, "tests/fixtures/cincinnati/fcos-example-graph.json");
const BOOTED = "32.20200517.1.0";

function node(args: string[]) {
  return spawnSync(process.execPath, args, { encoding: "utf8", timeout: 60_000, cwd: REPO });
}

describe("the staged tree", () => {
  let dir: string;
  let built: Built;
  let lib: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "ua-stage-"));
    built = build(join(dir, "out"));
    lib = join(built.root, "usr/lib/update-agent");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("holds exactly the expected files, with their modes", () => {
    const expected = expectedFiles();
    for (const [path, mode] of expected) {
      const full = join(built.root, path);
      assert.ok(existsSync(full), `missing ${path}`);
      assert.equal(statSync(full).mode & 0o7777, mode, `mode of ${path}`);
    }
    const listed = spawnSync("find", [built.root, "-type", "f"], { encoding: "utf8" })
      .stdout.trim()
      .split("\n")
      .map((p) => p.slice(built.root.length + 1))
      .sort();
    assert.deepEqual(listed, [...expected.keys()].sort());
  });

  test("agentctl.cjs --help runs", () => {
    const r = node([join(lib, "agentctl.cjs"), "--help"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^usage: agentctl/);
    assert.match(r.stdout, /\n {2}plan +show which update/);
  });

  test("agentctl.cjs plan --json gives what the source CLI gives", async () => {
    const args = ["plan", "--graph", GRAPH, "--booted", BOOTED, "--json"];
    const r = node([join(lib, "agentctl.cjs"), ...args]);
    assert.equal(r.status, 0, r.stderr);
    let fromSource = "";
    const code = await sourceCli(args, { stdout: (t) => void (fromSource += t), stderr: () => {} });
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(r.stdout), JSON.parse(fromSource));
    assert.equal(JSON.parse(r.stdout).target.version, "32.20200601.1.1");
  });

  test("agentd.cjs loads all of its code and reports a bad option as agentd", () => {
    const r = node([join(lib, "agentd.cjs"), "--no-such-option"]);
    assert.equal(r.signal, null);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /^agentd: /m);
    assert.doesNotMatch(r.stderr, /Cannot find module|ReferenceError|is not a function|ERR_REQUIRE_ESM/);
  });

  for (const name of ["agentd.cjs", "agentctl.cjs"]) {
    test(`${name} is self-contained CommonJS: it requires nothing but Node built-ins`, () => {
      const code = readFileSync(join(lib, name), "utf8");
      // A classic script cannot contain import/export statements: this parse fails on ESM output.
      assert.doesNotThrow(() => new Script(code, { filename: name }));
      const required = new Set([...code.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1]!));
      const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
      assert.deepEqual([...required].filter((m) => !builtins.has(m)), []);
    });
  }

  // Our code imports luxon's ES module build and cron-parser requires its CommonJS build; the stage makes them one.
  for (const name of ["agentd.cjs", "agentctl.cjs"]) {
    test(`${name} holds one copy of luxon`, () => {
      const code = readFileSync(join(lib, name), "utf8");
      assert.equal(code.match(/missing Intl\.DateTimeFormat\.formatToParts support/g)?.length, 1);
    });
  }

  test("the launchers exec the bundles with the system node, passing every argument", () => {
    // The daemon runs in V8's lite mode (less memory, no optimizing compiler); agentctl as node starts.
    const launchers = {
      "usr/bin/agentctl": 'exec /usr/bin/node /usr/lib/update-agent/agentctl.cjs "$@"',
      "usr/libexec/update-agent/agentd": 'exec /usr/bin/node --lite-mode /usr/lib/update-agent/agentd.cjs "$@"',
    };
    for (const [path, exec] of Object.entries(launchers)) {
      const text = readFileSync(join(built.root, path), "utf8");
      assert.match(text, /^#!\/bin\/sh\n/);
      assert.equal(text.split("\n").at(-2), exec);
      assert.equal(spawnSync("sh", ["-n", join(built.root, path)]).status, 0);
    }
    // Run agentctl's launcher against the staged tree: same script, paths moved under the stage.
    const moved = join(dir, "agentctl-launcher");
    writeFileSync(
      moved,
      readFileSync(join(built.root, "usr/bin/agentctl"), "utf8")
        .replace("/usr/bin/node", process.execPath)
        .replace("/usr/lib/update-agent/", `${lib}/`),
    );
    chmodSync(moved, 0o755);
    const r = spawnSync(moved, ["plan", "--graph", GRAPH, "--booted", BOOTED, "--json"], { encoding: "utf8", cwd: REPO });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).booted.version, BOOTED);
  });

  test("bundled-licenses.txt names every runtime dependency with its installed version and licence", () => {
    const text = readFileSync(join(built.root, "usr/share/doc/update-agent/bundled-licenses.txt"), "utf8");
    const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    for (const dep of Object.keys(pkg.dependencies)) {
      const meta = JSON.parse(readFileSync(join(REPO, "node_modules", dep, "package.json"), "utf8")) as { version: string; license: string };
      assert.match(text, new RegExp(`^ {2}${dep.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} ${meta.version.replace(/\./g, "\\.")}\\s+${meta.license}$`, "m"), dep);
    }
    assert.match(text, /Permission is hereby granted, free of charge/, "licence texts are included");
  });

  test("the staged unit verifies with ExecStart at the staged launcher", { skip: hasTool("systemd-analyze") ? false : "systemd-analyze is not installed" }, () => {
    const unit = join(dir, "update-agent.service");
    const launcher = join(built.root, "usr/libexec/update-agent/agentd");
    const text = readFileSync(join(built.root, "usr/lib/systemd/system/update-agent.service"), "utf8");
    writeFileSync(unit, text.replace("ExecStart=/usr/libexec/update-agent/agentd", `ExecStart=${launcher}`));
    const r = spawnSync("systemd-analyze", ["verify", "--man=no", unit], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), "");
  });

  test("legal comments were kept, next to the docs", () => {
    const legal = readFileSync(join(built.root, "usr/share/doc/update-agent/agentd.cjs.LEGAL.txt"), "utf8");
    assert.match(legal, /Bundled license information/);
  });
});
