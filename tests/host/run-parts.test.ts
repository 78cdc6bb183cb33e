import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MAX_LINE_CHARS, partEnvironment, planEntry, runParts, type OutputStream, type PartResult } from "../../src/host/run-parts.js";

const scratch = mkdtempSync(join(tmpdir(), "run-parts-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
let dirCount = 0;

function freshDir(): string {
  const dir = join(scratch, `d${dirCount++}`);
  mkdirSync(dir);
  return dir;
}

function writeScript(dir: string, name: string, body: string, mode = 0o755): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, mode);
  return path;
}

/**
 * Dead, or a zombie nobody reaped (the test container's PID 1 may not reap orphans). Polled briefly: a process
 * closes its files a moment before the kernel marks it a zombie.
 */
async function processGone(pid: number): Promise<boolean> {
  for (let i = 0; i < 250; i++) {
    const state = processState(pid);
    if (state === "gone" || state.startsWith("Z")) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

function processState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2);
  } catch {
    return "gone";
  }
}

const byName = (results: PartResult[], name: string) => {
  const found = results.find((r) => r.name === name);
  assert.ok(found, `no result for ${name}`);
  return found;
};

describe("runParts", () => {
  test("runs executables in byte order, without a shell, with argv[0] = path and cwd /", async () => {
    const dir = freshDir();
    for (const name of ["b", "a", "9-y", "10-x", "Z"]) writeScript(dir, name, 'echo "$0 in $(pwd)"');
    const lines: string[] = [];
    const results = await runParts({ dirs: [dir], timeoutMs: 10_000, env: {}, onLine: (name, _s, line) => lines.push(`${name}: ${line}`) });
    assert.deepEqual(results.map((r) => r.name), ["10-x", "9-y", "Z", "a", "b"]);
    assert.ok(results.every((r) => r.ok && r.exitCode === 0 && r.skipped === null));
    assert.deepEqual(lines, ["10-x", "9-y", "Z", "a", "b"].map((n) => `${n}: ${join(dir, n)} in /`));
  });

  test("skips what is not meant to run, and says why", async () => {
    const dir = freshDir();
    const marker = join(dir, "ran");
    const body = `echo "$0" >> ${marker}`;
    writeScript(dir, "10-good", body);
    writeScript(dir, "20-not-executable", body, 0o644);
    writeScript(dir, ".hidden", body);
    writeScript(dir, "30-edited~", body);
    writeScript(dir, "40-old.rpmsave", body);
    writeScript(dir, "50-old.dpkg-old", body);
    mkdirSync(join(dir, "60-subdir"));
    symlinkSync(join(dir, "nowhere"), join(dir, "70-dangling"));
    symlinkSync(join(dir, "10-good"), join(dir, "80-link-to-good"));

    const results = await runParts({ dirs: [dir], timeoutMs: 10_000, env: {} });
    const reasons = Object.fromEntries(results.map((r) => [r.name, r.skipped]));
    assert.deepEqual(reasons, {
      ".hidden": "hidden file (name starts with a dot)",
      "10-good": null,
      "20-not-executable": "not executable (chmod +x to run it)",
      "30-edited~": "editor or package-manager backup file",
      "40-old.rpmsave": "editor or package-manager backup file",
      "50-old.dpkg-old": "editor or package-manager backup file",
      "60-subdir": "a directory (subdirectories are not searched)",
      "70-dangling": "broken symbolic link",
      "80-link-to-good": null,
    });
    assert.ok(results.every((r) => r.ok), "skipped files are not failures");
    assert.deepEqual(readFileSync(marker, "utf8").trim().split("\n"), [join(dir, "10-good"), join(dir, "80-link-to-good")]);
  });

  test("a part gets the given environment plus PATH, never the agent's notify socket or watchdog", async () => {
    const dir = freshDir();
    writeScript(dir, "env", 'echo "FOO=$FOO"; echo "NOTIFY=${NOTIFY_SOCKET-unset}"; echo "WD=${WATCHDOG_USEC-unset}"; echo "PATH=$PATH"; echo "HOME=${HOME-unset}"');
    const [result] = await runParts({
      dirs: [dir],
      timeoutMs: 10_000,
      env: { FOO: "bar baz", NOTIFY_SOCKET: "/run/systemd/notify", WATCHDOG_USEC: "30000000", WATCHDOG_PID: "1" },
    });
    assert.equal(result?.outputTail, `FOO=bar baz\nNOTIFY=unset\nWD=unset\nPATH=${process.env.PATH}\nHOME=unset`);
  });

  test("a hung part is killed at the timeout, children included, and the run carries on", async () => {
    const dir = freshDir();
    const pidFile = join(dir, "child.pid");
    writeScript(dir, "10-hangs", `sleep 300 & echo $! > ${pidFile}; echo started; wait`);
    writeScript(dir, "20-next", "echo next ran");
    const results = await runParts({ dirs: [dir], timeoutMs: 300, killGraceMs: 2000, env: {} });
    const hung = byName(results, "10-hangs");
    assert.equal(hung.timedOut, true);
    assert.equal(hung.ok, false);
    assert.equal(hung.signal, "SIGTERM");
    assert.equal(hung.outputTail, "started");
    assert.ok(await processGone(Number(readFileSync(pidFile, "utf8"))), "the sleep it started was killed too");
    assert.equal(byName(results, "20-next").outputTail, "next ran");
  });

  test("a part that ignores SIGTERM is killed with SIGKILL after the grace period", async () => {
    const dir = freshDir();
    const pidFile = join(dir, "child.pid");
    writeScript(dir, "stubborn", `trap '' TERM; sleep 300 & echo $! > ${pidFile}; wait; wait`);
    const [result] = await runParts({ dirs: [dir], timeoutMs: 300, killGraceMs: 200, env: {} });
    assert.equal(result?.timedOut, true);
    assert.equal(result?.signal, "SIGKILL");
    assert.ok(await processGone(Number(readFileSync(pidFile, "utf8"))));
  });

  test("exit codes are reported; stopOnFailure skips the rest and names the failed part", async () => {
    const dir = freshDir();
    writeScript(dir, "10-ok", "exit 0");
    writeScript(dir, "20-fails", "echo 'disk full' >&2; exit 3");
    writeScript(dir, "30-later", "exit 0");
    const all = await runParts({ dirs: [dir], timeoutMs: 10_000, env: {} });
    assert.deepEqual(all.map((r) => [r.name, r.exitCode, r.ok]), [["10-ok", 0, true], ["20-fails", 3, false], ["30-later", 0, true]]);
    assert.equal(byName(all, "20-fails").outputTail, "disk full");

    const stopped = await runParts({ dirs: [dir], timeoutMs: 10_000, env: {}, stopOnFailure: true });
    assert.equal(byName(stopped, "30-later").skipped, "not run because 20-fails failed before it");
  });

  test("the output tail keeps only the last lines, and cuts runaway lines", async () => {
    const dir = freshDir();
    writeScript(dir, "chatty", "i=1; while [ $i -le 1000 ]; do echo \"line $i\"; i=$((i+1)); done");
    writeScript(dir, "one-long-line", "head -c 200000 /dev/zero | tr '\\000' x; echo; echo after");
    const results = await runParts({ dirs: [dir], timeoutMs: 10_000, env: {}, tailLines: 3 });
    assert.equal(byName(results, "chatty").outputTail, "line 998\nline 999\nline 1000");
    const [long, afterLine] = byName(results, "one-long-line").outputTail.split("\n");
    assert.ok(long === "x".repeat(MAX_LINE_CHARS) + " [line truncated]", `cut to ${MAX_LINE_CHARS} x's: ${long?.slice(0, 20)}…`);
    assert.equal(afterLine, "after");
  });

  test("stdout and stderr are interleaved in the order they were written", async () => {
    const dir = freshDir();
    // The script waits for the runner to have seen each line before writing the next, so the order is certain.
    writeScript(
      dir,
      "both",
      `echo "out 1"
while [ ! -e ${dir}/ack1 ]; do sleep 0.01; done
echo "err 2" >&2
while [ ! -e ${dir}/ack2 ]; do sleep 0.01; done
echo "out 3"`,
    );
    const seen: Array<[OutputStream, string]> = [];
    const [result] = await runParts({
      dirs: [dir],
      timeoutMs: 30_000,
      env: {},
      onLine: (_name, stream, line) => {
        seen.push([stream, line]);
        if (line === "out 1") writeFileSync(join(dir, "ack1"), "");
        if (line === "err 2") writeFileSync(join(dir, "ack2"), "");
      },
    });
    assert.deepEqual(seen, [["stdout", "out 1"], ["stderr", "err 2"], ["stdout", "out 3"]]);
    assert.equal(result?.outputTail, "out 1\nerr 2\nout 3");
  });

  test("missing directories run nothing; every directory runs, in the order given, same names included", async () => {
    const first = freshDir();
    const second = freshDir();
    writeScript(first, "check", "echo first");
    writeScript(second, "check", "echo second");
    const results = await runParts({ dirs: [join(scratch, "does-not-exist"), first, second], timeoutMs: 10_000, env: {} });
    assert.deepEqual(results.map((r) => [r.path, r.outputTail]), [[join(first, "check"), "first"], [join(second, "check"), "second"]]);
    assert.deepEqual(await runParts({ dirs: [join(scratch, "nope")], timeoutMs: 1000, env: {} }), []);
  });

  test("a directory that cannot be read is a failure naming it, not silently empty", async () => {
    const notADir = join(freshDir(), "required.d");
    writeFileSync(notADir, "");
    const [result] = await runParts({ dirs: [notADir], timeoutMs: 1000, env: {} });
    assert.equal(result?.ok, false);
    assert.equal(result?.path, notADir);
    assert.match(result?.error ?? "", /^cannot read directory: .*ENOTDIR/);
  });

  test("in a greenboot directory, *.sh runs with bash even without the exec bit", async () => {
    const greenboot = freshDir();
    const plain = freshDir();
    for (const dir of [greenboot, plain]) {
      // No exec bit, and a bash-only construct, the way greenboot's own scripts are written.
      writeScript(dir, "01_check.sh", 'if [[ -n "$BASH_VERSION" ]]; then echo "bash $BASH_VERSION"; fi', 0o644);
      writeScript(dir, "02_notes.txt", "echo should not run", 0o644);
    }
    const results = await runParts({ dirs: [{ path: greenboot, greenboot: true }, plain], timeoutMs: 10_000, env: {} });
    const [gbScript, gbNotes, plainScript] = results;
    assert.match(gbScript?.outputTail ?? "", /^bash \d/);
    assert.equal(gbNotes?.skipped, "not executable and not a *.sh script (chmod +x to run it)");
    assert.equal(plainScript?.skipped, "not executable (chmod +x to run it)");
  });

  test("a disabled name is skipped with the place it was disabled", async () => {
    const dir = freshDir();
    writeScript(dir, "01_noisy.sh", "exit 1");
    const [result] = await runParts({
      dirs: [{ path: dir, greenboot: true, disabled: { names: ["01_noisy.sh"], source: "/etc/greenboot/greenboot.conf" } }],
      timeoutMs: 10_000,
      env: {},
    });
    assert.equal(result?.skipped, "disabled in /etc/greenboot/greenboot.conf");
  });

  test("a part that cannot start fails with the reason", async () => {
    const dir = freshDir();
    const path = join(dir, "bad-interpreter");
    writeFileSync(path, "#!/nonexistent/interpreter\n");
    chmodSync(path, 0o755);
    const [result] = await runParts({ dirs: [dir], timeoutMs: 10_000, env: {} });
    assert.equal(result?.ok, false);
    assert.match(result?.error ?? "", /cannot start: .*ENOENT/);
  });

  test("aborting kills the running part and rejects: a half-run set is not a result", async () => {
    const dir = freshDir();
    const pidFile = join(dir, "child.pid");
    writeScript(dir, "10-hangs", `sleep 300 & echo $! > ${pidFile}; wait`);
    writeScript(dir, "20-never", `touch ${dir}/never-ran`);
    const controller = new AbortController();
    const run = runParts({
      dirs: [dir],
      timeoutMs: 60_000,
      env: {},
      signal: controller.signal,
      onLine: () => undefined,
    });
    while (!existsSync(pidFile) || readFileSync(pidFile, "utf8") === "") await new Promise((r) => setTimeout(r, 10));
    controller.abort(new Error("agent stopping"));
    await assert.rejects(run, /agent stopping/);
    const pid = Number(readFileSync(pidFile, "utf8"));
    assert.ok(await processGone(pid), `child ${pid} still there: ${processState(pid)}`);
    assert.equal(existsSync(join(dir, "never-ran")), false);
  });
});

describe("planEntry", () => {
  const plain = { path: "/d" };
  const greenboot = { path: "/d", greenboot: true };
  const file = (mode: number) => ({ kind: "file" as const, mode });
  const cases: Array<[string, Parameters<typeof planEntry>[0], string, Parameters<typeof planEntry>[2], string[] | string]> = [
    ["executable", plain, "10-x", file(0o755), ["/d/10-x"]],
    ["group-executable only", plain, "10-x", file(0o650), ["/d/10-x"]],
    ["not executable", plain, "10-x", file(0o644), "not executable (chmod +x to run it)"],
    ["*.sh without exec bit, plain dir", plain, "a.sh", file(0o644), "not executable (chmod +x to run it)"],
    ["*.sh without exec bit, greenboot dir", greenboot, "a.sh", file(0o644), ["/bin/bash", "/d/a.sh"]],
    ["executable *.sh, greenboot dir: still bash", greenboot, "a.sh", file(0o755), ["/bin/bash", "/d/a.sh"]],
    ["executable binary, greenboot dir", greenboot, "check", file(0o755), ["/d/check"]],
    ["backup of a *.sh, greenboot dir", greenboot, "a.sh~", file(0o755), "editor or package-manager backup file"],
    ["rpmnew", plain, "x.rpmnew", file(0o755), "editor or package-manager backup file"],
    ["dpkg-dist", plain, "x.dpkg-dist", file(0o755), "editor or package-manager backup file"],
    ["emacs autosave", plain, "#x#", file(0o755), "editor or package-manager backup file"],
    ["hidden", greenboot, ".a.sh", file(0o755), "hidden file (name starts with a dot)"],
    ["fifo", plain, "pipe", { kind: "other", mode: 0o755 }, "not a regular file"],
  ];
  for (const [title, dir, name, facts, expected] of cases) {
    test(title, () => {
      const plan = planEntry(dir, name, facts);
      if (typeof expected === "string") assert.deepEqual(plan, { name, path: `/d/${name}`, skip: expected });
      else assert.deepEqual(plan, { name, path: `/d/${name}`, argv: expected });
    });
  }
});

describe("partEnvironment", () => {
  test("keeps the given PATH, else inherits one, else a default", () => {
    assert.equal(partEnvironment({ PATH: "/x" }, "/inherited").PATH, "/x");
    assert.equal(partEnvironment({}, "/inherited").PATH, "/inherited");
    assert.match(partEnvironment({}, undefined).PATH ?? "", /\/usr\/bin/);
  });
  test("drops NOTIFY_SOCKET and every WATCHDOG_ variable", () => {
    assert.deepEqual(partEnvironment({ A: "1", NOTIFY_SOCKET: "s", WATCHDOG_USEC: "1", WATCHDOG_PID: "2" }, "/p"), { A: "1", PATH: "/p" });
  });
});
