/** The .deb and the .rpm: what they install, with which modes and metadata, and what their scripts run. */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hasTool } from "../units/unit-file.js";
import { REPO, SOURCES, build, expectedFiles, stubTools, type Built } from "./build.js";

const HAS_RPMBUILD = hasTool("rpmbuild");

function run(command: string, args: string[], env?: NodeJS.ProcessEnv): string {
  const r = spawnSync(command, args, { encoding: "utf8", env: env ?? process.env, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** `ls -l`-style listings (tar's and rpm's) → path without the leading `./` or `/` → permission bits. */
function parseListing(text: string, pathColumn: number): Map<string, { dir: boolean; mode: number }> {
  const entries = new Map<string, { dir: boolean; mode: number }>();
  for (const line of text.trim().split("\n")) {
    const cols = line.trim().split(/\s+/);
    const perms = cols[0]!;
    const path = cols.slice(pathColumn).join(" ").replace(/^\.?\//, "").replace(/\/$/, "");
    if (path === "") continue;
    let mode = 0;
    for (const [i, ch] of [...perms.slice(1, 10)].entries()) if (ch !== "-") mode |= 1 << (8 - i);
    entries.set(path, { dir: perms.startsWith("d"), mode });
  }
  return entries;
}

function files(listing: Map<string, { dir: boolean; mode: number }>): Map<string, number> {
  return new Map([...listing].filter(([, e]) => !e.dir).map(([p, e]) => [p, e.mode]));
}

/**
 * Runs a maintainer script with the stub tools first on PATH, as if systemd were (or were not) running:
 * its `/run/systemd/system` test is pointed at a directory that exists (or does not). Resolves to the
 * tools it called.
 */
function runScript(dir: string, name: string, body: string, args: string[], systemd = false): string[] {
  const stub = stubTools(join(dir, `stub-${name}`));
  const marker = join(dir, `systemd-${name}`);
  if (systemd) mkdirSync(marker, { recursive: true });
  assert.match(body, /\/run\/systemd\/system/);
  const file = join(dir, `${name}.sh`);
  writeFileSync(file, body.replaceAll("/run/systemd/system", marker));
  const r = spawnSync("sh", ["-e", file, ...args], { encoding: "utf8", env: { ...process.env, PATH: stub.path } });
  assert.equal(r.status, 0, `${name} ${args.join(" ")}: ${r.stderr}`);
  return existsSync(stub.calls) ? readFileSync(stub.calls, "utf8").trim().split("\n") : [];
}

/** The bus read our policy file at unpack, maybe before the user existed: the scripts make it read it again. */
const RELOAD_BUS = "busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig";
const CREATES = ["systemd-sysusers /usr/lib/sysusers.d/update-agent.conf", "systemd-tmpfiles --create /usr/lib/tmpfiles.d/update-agent.conf"];

describe("packages", { skip: hasTool("dpkg-deb") ? false : "dpkg-deb is not installed (apt-get install dpkg)" }, () => {
  let dir: string;
  let built: Built;
  let deb: string;
  let rpm: string | undefined;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "ua-pkg-"));
    built = build(join(dir, "out"), ["--deb", ...(HAS_RPMBUILD ? ["--rpm"] : [])]);
    const outputs = readdirSync(built.out);
    deb = join(built.out, outputs.find((n) => n.endsWith("_all.deb"))!);
    const rpmName = outputs.find((n) => n.endsWith(".noarch.rpm"));
    rpm = rpmName ? join(built.out, rpmName) : undefined;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe("the .deb", () => {
    test("is named for the version and architecture all", () => {
      const version = (JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string }).version;
      assert.equal(deb, join(built.out, `update-agent_${version}-1_all.deb`));
      assert.equal(run("dpkg-deb", ["-f", deb, "Version"]).trim(), `${version}-1`);
      assert.equal(run("dpkg-deb", ["-f", deb, "Architecture"]).trim(), "all");
    });

    test("depends honestly on Node.js 20.19 or later", () => {
      assert.match(run("dpkg-deb", ["-f", deb, "Depends"]), /(^|, )nodejs \(>= 20\.19\)(,|$)/m);
    });

    test("dpkg-deb -c lists every expected file with its mode, owned by root", () => {
      const listing = run("dpkg-deb", ["-c", deb]);
      for (const line of listing.trim().split("\n")) assert.match(line, /^\S+ root\/root /, line);
      assert.deepEqual(files(parseListing(listing, 5)), expectedFiles());
    });

    test("extracts to the staged files, byte for byte, and ships the repository's units unchanged", () => {
      const into = join(dir, "deb-x");
      run("dpkg-deb", ["-x", deb, into]);
      for (const path of expectedFiles().keys()) {
        assert.ok(readFileSync(join(into, path)).equals(readFileSync(join(built.root, path))), path);
      }
      for (const [path, source] of Object.entries(SOURCES)) {
        assert.equal(readFileSync(join(into, path), "utf8"), readFileSync(join(REPO, source), "utf8"), path);
      }
    });

    test("md5sums covers every file", () => {
      const control = join(dir, "deb-control");
      run("dpkg-deb", ["-e", deb, control]);
      const sums = readFileSync(join(control, "md5sums"), "utf8").trim().split("\n").map((l) => l.split(/\s+/)[1]);
      assert.deepEqual(sums.sort(), [...expectedFiles().keys()].sort());
    });

    test("postinst creates the user and directories, and reloads systemd only when it runs", () => {
      const control = join(dir, "deb-control-post");
      run("dpkg-deb", ["-e", deb, control]);
      const script = readFileSync(join(control, "postinst"), "utf8");
      assert.deepEqual(runScript(dir, "postinst-bare", script, ["configure", ""]), CREATES, "no systemd: no systemctl");
      const install = runScript(dir, "postinst", script, ["configure", ""], true);
      assert.deepEqual(install, [...CREATES, RELOAD_BUS, "systemctl daemon-reload"]);
      assert.ok(!install.some((c) => /systemctl (enable|start)/.test(c)), "installing must not start an agent that reboots the machine");
      const upgrade = runScript(dir, "postinst-upgrade", script, ["configure", "0.0.1-1"], true);
      assert.deepEqual(upgrade, [...CREATES, RELOAD_BUS, "systemctl daemon-reload", "systemctl try-restart update-agent.service"]);
      assert.deepEqual(runScript(dir, "postinst-other", script, ["abort-upgrade", "0.0.1"], true), []);
    });

    test("prerm stops the agent on removal only; postrm cleans up on purge only", () => {
      const control = join(dir, "deb-control-rm");
      run("dpkg-deb", ["-e", deb, control]);
      const prerm = readFileSync(join(control, "prerm"), "utf8");
      assert.deepEqual(runScript(dir, "prerm-remove", prerm, ["remove"], true), [
        "systemctl stop update-agent.service",
        "systemctl disable update-agent.service",
      ]);
      assert.deepEqual(runScript(dir, "prerm-remove-bare", prerm, ["remove"]), []);
      assert.deepEqual(runScript(dir, "prerm-upgrade", prerm, ["upgrade", "9.9.9"], true), []);
      // Every absolute /var and /run path moves under a scratch root, so purging touches nothing real.
      const fake = join(dir, "fake-root");
      const postrm = readFileSync(join(control, "postrm"), "utf8").replace(/(?<=\s)\/(?=(var|run)\/)/g, `${fake}/`);
      assert.doesNotMatch(postrm, /\s\/(var|run)\//);
      mkdirSync(join(fake, "var/lib/update-agent"), { recursive: true });
      mkdirSync(join(fake, "run/update-agent"), { recursive: true });
      runScript(dir, "postrm-remove", postrm, ["remove"]);
      assert.ok(existsSync(join(fake, "var/lib/update-agent")), "remove keeps the state");
      runScript(dir, "postrm-purge", postrm, ["purge"]);
      assert.ok(!existsSync(join(fake, "var/lib/update-agent")), "purge drops the state");
      assert.ok(!existsSync(join(fake, "run/update-agent")), "purge drops the runtime directory");
    });
  });

  describe("the .rpm", { skip: HAS_RPMBUILD ? false : "rpmbuild is not installed (apt-get install rpm): the RPM is not built or checked" }, () => {
    test("rpm -qlp lists the same files as the .deb, with the same modes, owned by root", () => {
      const listing = run("rpm", ["-qlpv", rpm!]);
      for (const line of listing.trim().split("\n")) assert.match(line, /^\S+\s+\d+\s+root\s+root\s/, line);
      assert.deepEqual(files(parseListing(listing, 8)), expectedFiles());
      assert.deepEqual(files(parseListing(listing, 8)), files(parseListing(run("dpkg-deb", ["-c", deb]), 5)));
    });

    test("its payload is the staged tree, byte for byte", () => {
      const into = join(dir, "rpm-x");
      mkdirSync(into);
      const archive = join(dir, "payload.tgz");
      writeFileSync(archive, spawnSync("rpm2archive", ["-"], { input: readFileSync(rpm!), maxBuffer: 64 * 1024 * 1024 }).stdout);
      run("tar", ["-xzf", archive, "-C", into]);
      for (const path of expectedFiles().keys()) {
        assert.ok(readFileSync(join(into, path)).equals(readFileSync(join(built.root, path))), path);
      }
    });

    test("is noarch, needs Node.js 20.19 or later, and declares what it bundles", () => {
      assert.equal(run("rpm", ["-qp", "--qf", "%{ARCH}", rpm!]), "noarch");
      const requires = run("rpm", ["-qp", "--requires", rpm!]).split("\n");
      assert.ok(requires.includes("nodejs(engine) >= 20.19"), requires.join("\n"));
      assert.ok(requires.includes("/usr/bin/node"));
      const provides = run("rpm", ["-qp", "--provides", rpm!]);
      const pino = (JSON.parse(readFileSync(join(REPO, "node_modules/pino/package.json"), "utf8")) as { version: string }).version;
      assert.match(provides, new RegExp(`^bundled\\(npm\\(pino\\)\\) = ${pino.replace(/\./g, "\\.")}$`, "m"));
      const license = run("rpm", ["-qp", "--qf", "%{LICENSE}", rpm!]);
      assert.match(license, /^Apache-2\.0 AND /);
      assert.match(license, /\bMIT\b/);
    });

    test("%post creates the user and directories; %preun stops the agent only on erase; %postun restarts on upgrade", () => {
      const post = run("rpm", ["-qp", "--qf", "%{POSTIN}", rpm!]);
      assert.deepEqual(runScript(dir, "rpm-post-bare", post, ["1"]), CREATES);
      assert.deepEqual(runScript(dir, "rpm-post", post, ["1"], true), [...CREATES, RELOAD_BUS, "systemctl daemon-reload"]);
      const preun = run("rpm", ["-qp", "--qf", "%{PREUN}", rpm!]);
      assert.deepEqual(runScript(dir, "rpm-preun-upgrade", preun, ["1"], true), []);
      assert.deepEqual(runScript(dir, "rpm-preun-erase", preun, ["0"], true), ["systemctl --no-reload disable --now update-agent.service"]);
      const postun = run("rpm", ["-qp", "--qf", "%{POSTUN}", rpm!]);
      assert.deepEqual(runScript(dir, "rpm-postun-upgrade", postun, ["1"], true), ["systemctl daemon-reload", "systemctl try-restart update-agent.service"]);
      assert.deepEqual(runScript(dir, "rpm-postun-erase", postun, ["0"], true), ["systemctl daemon-reload"]);
    });
  });
});
