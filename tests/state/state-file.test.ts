import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as z from "zod/mini";
import { StateFile, STATE_PATH, statePath, type StateFileOptions } from "../../src/state/index.js";
import { AgentError } from "../../src/errors.js";

const tempRoots: string[] = [];
after(() => {
  for (const dir of tempRoots) rmSync(dir, { recursive: true, force: true });
});

function tempRoot(): string {
  const root = mkdtempSync(join(tmpdir(), "state-file-"));
  tempRoots.push(root);
  return root;
}

const CounterSchema = z.object({ counter: z.number().check(z.int(), z.nonnegative()), note: z.string() });
type Counter = z.infer<typeof CounterSchema>;

const FIXED_NOW = new Date("2025-01-31T12:00:00.123Z");
const CORRUPT_SUFFIX = ".corrupt-20250131T120000123Z";

function counterFile(path: string, extra: Partial<StateFileOptions<Counter>> = {}) {
  const logged: [string, string][] = [];
  const file = new StateFile<Counter>({
    path,
    schemaVersion: 2,
    schema: CounterSchema,
    initial: () => ({ counter: 0, note: "initial" }),
    log: (level, msg) => logged.push([level, msg]),
    now: () => FIXED_NOW,
    ...extra,
  });
  return { file, logged };
}

function writeDocument(path: string, document: unknown): void {
  writeFileSync(path, typeof document === "string" ? document : JSON.stringify(document));
}

function assertCorruptWarning(warnings: AgentError[], path: string, reason: RegExp): void {
  assert.equal(warnings.length, 1);
  const [warning] = warnings;
  assert.ok(warning instanceof AgentError);
  assert.equal(warning.code, "STATE_CORRUPT");
  assert.equal(warning.where, path);
  assert.match(warning.message, reason);
  assert.match(warning.hint ?? "", new RegExp(`${path}${CORRUPT_SUFFIX}`.replaceAll(".", "\\.")));
}

describe("StateFile", () => {
  test("a missing file gives the initial state without a warning and without creating anything", async () => {
    const root = tempRoot();
    const path = join(root, "var/lib/agent/state.json");
    const { file } = counterFile(path);
    assert.deepEqual(await file.load(), { state: { counter: 0, note: "initial" }, warnings: [] });
    assert.deepEqual(readdirSync(root), []);
  });

  test("what is saved is loaded back, in the documented envelope", async () => {
    const path = join(tempRoot(), "state.json");
    const { file } = counterFile(path);
    await file.save({ counter: 7, note: "seven" });
    assert.deepEqual(JSON.parse(readFileSync(path, "utf8")), { schema_version: 2, state: { counter: 7, note: "seven" } });
    const { file: reopened } = counterFile(path);
    assert.deepEqual(await reopened.load(), { state: { counter: 7, note: "seven" }, warnings: [] });
  });

  test("creates missing parent directories 0755 and the file 0644, whatever the umask", async () => {
    const root = tempRoot();
    const path = join(root, "var/lib/agent/state.json");
    const previousUmask = process.umask(0o077);
    try {
      await counterFile(path).file.save({ counter: 1, note: "" });
    } finally {
      process.umask(previousUmask);
    }
    assert.equal(statSync(join(root, "var")).mode & 0o777, 0o755);
    assert.equal(statSync(join(root, "var/lib")).mode & 0o777, 0o755);
    assert.equal(statSync(join(root, "var/lib/agent")).mode & 0o777, 0o755);
    assert.equal(statSync(path).mode & 0o777, 0o644);
  });

  test("a crash between writing the temp file and renaming it leaves the old state in force", async () => {
    const dir = tempRoot();
    const path = join(dir, "state.json");
    const { file } = counterFile(path);
    await file.save({ counter: 1, note: "old" });
    // What a crash mid-save leaves behind: a half-written temp file next to the intact old file.
    writeFileSync(join(dir, ".state.json.tmp"), '{"schema_version": 2, "state": {"coun');

    const { file: afterCrash } = counterFile(path);
    assert.deepEqual(await afterCrash.load(), { state: { counter: 1, note: "old" }, warnings: [] });

    await afterCrash.save({ counter: 2, note: "new" });
    assert.deepEqual((await afterCrash.load()).state, { counter: 2, note: "new" });
    assert.deepEqual(readdirSync(dir), ["state.json"]);
  });

  test("a file that is not JSON is moved aside with a warning, and the initial state is used", async () => {
    const dir = tempRoot();
    const path = join(dir, "state.json");
    writeDocument(path, "{ this is not json");
    const { file, logged } = counterFile(path);

    const { state, warnings } = await file.load();
    assert.deepEqual(state, { counter: 0, note: "initial" });
    assertCorruptWarning(warnings, path, /not valid JSON/);
    assert.equal(readFileSync(`${path}${CORRUPT_SUFFIX}`, "utf8"), "{ this is not json");
    assert.deepEqual(readdirSync(dir), [`state.json${CORRUPT_SUFFIX}`]);
    assert.equal(logged.length, 1);
    assert.equal(logged[0]![0], "warn");
    assert.match(logged[0]![1], /state\.json.*not valid JSON/);
  });

  test("a state that does not match the schema is moved aside, naming the bad field", async () => {
    const path = join(tempRoot(), "state.json");
    writeDocument(path, { schema_version: 2, state: { counter: "three", note: "x" } });
    const { warnings, state } = await counterFile(path).file.load();
    assert.deepEqual(state, { counter: 0, note: "initial" });
    assertCorruptWarning(warnings, path, /counter/);
  });

  // zod/mini carries no messages of its own; the state file asks for zod's English ones.
  test("the warning quotes the schema's message for the bad field", async () => {
    const path = join(tempRoot(), "state.json");
    writeDocument(path, { schema_version: 2, state: { counter: "three", note: "x" } });
    const { warnings } = await counterFile(path).file.load();
    assertCorruptWarning(warnings, path, /: counter: Invalid input: expected number, received string;/);
  });

  test("an envelope without schema_version or state is moved aside", async () => {
    for (const document of [{ state: { counter: 1, note: "" } }, { schema_version: 2 }, [1, 2], { schema_version: "2", state: {} }]) {
      const path = join(tempRoot(), "state.json");
      writeDocument(path, document);
      const { warnings } = await counterFile(path).file.load();
      assert.equal(warnings[0]?.code, "STATE_CORRUPT", JSON.stringify(document));
    }
  });

  // After a rollback to an older agent, the newer agent's file means nothing we can trust: keep it
  // for the admin (and for the newer agent, which can be pointed at it) and start afresh.
  test("a file from a newer schema version is moved aside rather than guessed at", async () => {
    const path = join(tempRoot(), "state.json");
    writeDocument(path, { schema_version: 3, state: { counter: 5, note: "from the future" } });
    const { state, warnings } = await counterFile(path).file.load();
    assert.deepEqual(state, { counter: 0, note: "initial" });
    assertCorruptWarning(warnings, path, /schema version 3 is newer/);
  });

  test("an older file goes through the migrate hook, which is told the version it came from", async () => {
    const path = join(tempRoot(), "state.json");
    writeDocument(path, { schema_version: 1, state: { count: 4 } });
    const calls: [number, unknown][] = [];
    const { file, logged } = counterFile(path, {
      migrate: (fromVersion, raw) => {
        calls.push([fromVersion, raw]);
        return { counter: (raw as { count: number }).count, note: "migrated" };
      },
    });
    assert.deepEqual(await file.load(), { state: { counter: 4, note: "migrated" }, warnings: [] });
    assert.deepEqual(calls, [[1, { count: 4 }]]);
    assert.ok(logged.some(([level, msg]) => level === "info" && /schema version 1 to 2/.test(msg)));
  });

  test("a migration that throws or yields a bad shape is treated as corruption", async () => {
    const path = join(tempRoot(), "state.json");
    writeDocument(path, { schema_version: 1, state: {} });
    const throwing = counterFile(path, {
      migrate: () => {
        throw new Error("cannot read v1");
      },
    });
    assertCorruptWarning((await throwing.file.load()).warnings, path, /migration from schema version 1 failed.*cannot read v1/);

    const otherPath = join(tempRoot(), "state.json");
    writeDocument(otherPath, { schema_version: 1, state: {} });
    const sloppy = counterFile(otherPath, { migrate: () => ({ counter: 1 }) });
    assertCorruptWarning((await sloppy.file.load()).warnings, otherPath, /note/);
  });

  test("an older file without a migrate hook is used when it still fits the schema", async () => {
    const path = join(tempRoot(), "state.json");
    writeDocument(path, { schema_version: 1, state: { counter: 3, note: "v1" } });
    assert.deepEqual(await counterFile(path).file.load(), { state: { counter: 3, note: "v1" }, warnings: [] });
  });

  test("a second corruption in the same instant does not overwrite the first kept copy", async () => {
    const dir = tempRoot();
    const path = join(dir, "state.json");
    writeDocument(path, "first");
    await counterFile(path).file.load();
    writeDocument(path, "second");
    const { warnings } = await counterFile(path).file.load();
    assert.match(warnings[0]?.hint ?? "", /corrupt-20250131T120000123Z-1/);
    assert.equal(readFileSync(`${path}${CORRUPT_SUFFIX}`, "utf8"), "first");
    assert.equal(readFileSync(`${path}${CORRUPT_SUFFIX}-1`, "utf8"), "second");
  });

  test("concurrent saves land in call order: the last one wins and no temp file is left", async () => {
    const dir = tempRoot();
    const path = join(dir, "state.json");
    const { file } = counterFile(path);
    const saves = Array.from({ length: 25 }, (_, i) => file.save({ counter: i, note: `save ${i}` }));
    await Promise.all(saves);
    assert.deepEqual((await file.load()).state, { counter: 24, note: "save 24" });
    assert.deepEqual(readdirSync(dir), ["state.json"]);
  });

  test("a save writes the state as it was at the call, even if the caller mutates it afterwards", async () => {
    const path = join(tempRoot(), "state.json");
    const { file } = counterFile(path);
    const state = { counter: 1, note: "at call time" };
    const saving = file.save(state);
    state.note = "mutated later";
    await saving;
    assert.equal((await file.load()).state.note, "at call time");
  });

  test("a state that does not match the schema is refused and the file is left alone", async () => {
    const path = join(tempRoot(), "state.json");
    const { file } = counterFile(path);
    await file.save({ counter: 1, note: "good" });
    await assert.rejects(file.save({ counter: -1, note: "bad" }), (e: unknown) => e instanceof AgentError && /counter/.test(e.message));
    assert.deepEqual((await file.load()).state, { counter: 1, note: "good" });
  });

  test("a save that cannot write names the file with STATE_IO, and later saves still work", async () => {
    const root = tempRoot();
    writeFileSync(join(root, "blocker"), "a file where a directory should be");
    const { file } = counterFile(join(root, "blocker/state.json"));
    await assert.rejects(file.save({ counter: 1, note: "" }), (e: unknown) => {
      assert.ok(e instanceof AgentError);
      assert.equal(e.code, "STATE_IO");
      assert.equal(e.where, join(root, "blocker/state.json"));
      return true;
    });
    rmSync(join(root, "blocker"));
    await file.save({ counter: 2, note: "recovered" });
    assert.deepEqual((await file.load()).state, { counter: 2, note: "recovered" });
  });

  test("an unreadable state file is reported as STATE_IO and the initial state is used", async () => {
    const root = tempRoot();
    const path = join(root, "state.json");
    mkdirSync(path);
    const { state, warnings } = await counterFile(path).file.load();
    assert.deepEqual(state, { counter: 0, note: "initial" });
    assert.equal(warnings[0]?.code, "STATE_IO");
    assert.equal(warnings[0]?.where, path);
  });
});

test("the state file lives under /var/lib/update-agent", () => {
  assert.equal(STATE_PATH, "var/lib/update-agent/state.json");
  assert.equal(statePath("/sysroot"), "/sysroot/var/lib/update-agent/state.json");
  assert.equal(statePath("/"), "/var/lib/update-agent/state.json");
});
