/**
 * Property tests: whatever a fragment holds, loading it either succeeds or fails with AgentErrors that say
 * where (file, and key path for a bad value). Runs are few and small so CI stays fast.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { stringify as toToml } from "smol-toml";
import { assembleConfig, type LoadedConfig } from "../../src/config/index.js";
import { formatKeyPath, SETTING_PATHS } from "../../src/config/keys.js";
import { AgentError } from "../../src/errors.js";

const FILE_TOML = "/etc/update-agent/config.d/55-fuzz.toml";
const FILE_JSON = "/etc/update-agent/config.d/56-fuzz.json";
const RUNS = { numRuns: 150 };

/** Loads one fragment and checks the error contract; returns the config when it was accepted. */
function loadChecked(file: string, text: string): LoadedConfig | undefined {
  const format = file.endsWith(".json") ? "json" : "toml";
  let config: LoadedConfig | undefined;
  try {
    config = assembleConfig({ fragments: [{ file, format, text }], problems: [], warnings: [] });
  } catch (e) {
    assert.ok(e instanceof AgentError, `not an AgentError: ${String(e)}`);
    assert.ok(["CONFIG_SYNTAX", "CONFIG_INVALID", "CONFIG_UNREADABLE"].includes(e.code), e.code);
    const problems = e.details?.["problems"];
    assert.ok(Array.isArray(problems) && problems.length > 0);
    for (const problem of problems as unknown[]) {
      assert.ok(problem instanceof AgentError);
      const where = problem.where ?? "";
      if (problem.code === "CONFIG_SYNTAX") assert.match(where, /:\d+:\d+$|\.toml$|\.json$/);
      else if (problem.code === "CONFIG_INVALID" && where !== file) {
        // A bad value (or a rule over values): some file, then a key path.
        assert.match(where, /^(\/\S+|default): [A-Za-z"]/, where);
      }
      assert.ok(where.startsWith(file) || where.startsWith("default"), where);
      assert.ok(problem.message.length > 0);
    }
    return undefined;
  }
  for (const warning of config.warnings) {
    assert.ok(warning instanceof AgentError);
    assert.ok(warning.where?.startsWith(`${file}: `), warning.where);
  }
  return config;
}

const fixtureText = readFileSync(fileURLToPath(new URL("../fixtures/zincati/00-config-sample.toml", import.meta.url)), "utf8");

/** Values that reach every branch of the validators: plausible, borderline and absurd. */
const scalar = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constantFrom(
    "", "immediate", "periodic", "fleet_lock", "etcd_lock", "Sat", "tuesday", "23:00", "25:00", "7:5", "UTC", "localtime",
    "https://h/${stream}/", "http://h/${nope}", "0 3 * * *", "61 * * * *", "127.0.0.1:9100", "0.0.0.0:1", "/etc/pki/x", 0, -1, 10080,
    Number.NaN, Infinity, 1e300, "__proto__", "constructor",
  ),
);
const value = fc.oneof(
  { weight: 4, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 6 }), scalar, { maxKeys: 3 }) },
);
const windowEntry = fc.dictionary(
  fc.constantFrom("days", "start_time", "cron", "length_minutes", "lenght", "__proto__"),
  fc.oneof(scalar, fc.array(fc.constantFrom("Sat", "sunday", "TUESDAY", "funday", "", 3), { maxLength: 4 })),
  { maxKeys: 5 },
);
const knownPath = fc.constantFrom(...SETTING_PATHS.map((p) => [...p]), ["updates"], ["updates", "periodic"], ["agent", "timing"]);
const unknownPath = fc.array(fc.constantFrom("updates", "agent", "x", "__proto__", "window", "fleet_lock", "a.b"), { minLength: 1, maxLength: 4 });

/** A fragment built from settings paths (and some nonsense), set to random values. */
const fragmentObject = fc
  .tuple(
    fc.array(fc.tuple(fc.oneof({ weight: 4, arbitrary: knownPath }, { weight: 1, arbitrary: unknownPath }), value), { maxLength: 8 }),
    fc.option(fc.array(windowEntry, { maxLength: 3 })),
  )
  .map(([assignments, windows]) => {
    const root: Record<string, unknown> = {};
    for (const [path, v] of assignments) setPath(root, path, v);
    if (windows !== null) setPath(root, ["updates", "periodic", "window"], windows);
    return root;
  });

function setPath(root: Record<string, unknown>, path: string[], v: unknown): void {
  let node = root;
  for (const segment of path.slice(0, -1)) {
    const next = Object.hasOwn(node, segment) ? node[segment] : undefined;
    if (typeof next !== "object" || next === null || Array.isArray(next)) {
      Object.defineProperty(node, segment, { value: {}, enumerable: true, writable: true, configurable: true });
    }
    node = node[segment] as Record<string, unknown>;
  }
  Object.defineProperty(node, path.at(-1)!, { value: v, enumerable: true, writable: true, configurable: true });
}

describe("fuzzing fragments never crashes and always says where", () => {
  test("arbitrary text as TOML and as JSON", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        loadChecked(FILE_TOML, text);
        loadChecked(FILE_JSON, text);
      }),
      RUNS,
    );
  });

  test("Zincati's sample with random edits", () => {
    const edit = fc.tuple(fc.nat(fixtureText.length), fc.nat(8), fc.string({ maxLength: 6 }));
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
        let text = fixtureText;
        for (const [at, remove, insert] of edits) text = text.slice(0, at) + insert + text.slice(at + remove);
        loadChecked(FILE_TOML, text);
      }),
      RUNS,
    );
  });

  test("random settings objects, written as JSON and as TOML", () => {
    fc.assert(
      fc.property(fragmentObject, (object) => {
        loadChecked(FILE_JSON, JSON.stringify(object));
        let toml: string | undefined;
        try {
          toml = toToml(object);
        } catch {
          toml = undefined; // not every object has a TOML form (NaN inside arrays of tables, say)
        }
        if (toml !== undefined) loadChecked(FILE_TOML, toml);
      }),
      RUNS,
    );
  });

  test("well-formed weekly windows are accepted and normalized", () => {
    const day = fc.constantFrom("mon", "Tue", "tuesday", "WEDNESDAY", "thu", "Fri", "saturday", "Sun");
    const window = fc.record({
      days: fc.array(day, { minLength: 1, maxLength: 7 }),
      start_time: fc.tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 })).map(([h, m]) => `${h}:${m}`),
      length_minutes: fc.integer({ min: 1, max: 10080 }),
    });
    fc.assert(
      fc.property(fc.array(window, { minLength: 1, maxLength: 4 }), (windows) => {
        const config = loadChecked(FILE_JSON, JSON.stringify({ updates: { strategy: "periodic", periodic: { window: windows } } }));
        assert.ok(config, "rejected a well-formed schedule");
        const order = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        config.settings.updates.periodic.window.forEach((w, i) => {
          assert.equal(w.kind, "weekly");
          if (w.kind !== "weekly") return;
          assert.match(w.start_time, /^\d\d:\d\d$/);
          assert.deepEqual(w.days, [...w.days].sort((a, b) => order.indexOf(a) - order.indexOf(b)));
          assert.equal(new Set(w.days).size, w.days.length);
          assert.equal(config.sources[formatKeyPath(["updates", "periodic", "window", i])], FILE_JSON);
        });
      }),
      RUNS,
    );
  });
});
