import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { jsonErrorOffset, parseFragmentText, type FragmentFormat } from "../../src/config/parse.js";
import { AgentError } from "../../src/errors.js";

const TOML = "/etc/update-agent/config.d/55-strategy.toml";
const JSON_FILE = "/etc/update-agent/config.d/55-strategy.json";

describe("syntax errors name the file, line and column", () => {
  const rows: [string, FragmentFormat, string, string, string][] = [
    ["a missing TOML value", "toml", "[updates]\nenabled = \n", `${TOML}:2:11`, "invalid TOML: invalid value"],
    ["an unclosed TOML table header", "toml", "[updates\nenabled = true\n", `${TOML}:1:9`, "invalid TOML: illegal character in key"],
    ["a TOML key set twice", "toml", "a = 1\na = 2\n", `${TOML}:2:1`, "invalid TOML: trying to redefine an already defined table or value"],
    // V8 gives no position for this one; we find it ourselves.
    ["a missing JSON value", "json", '{\n  "updates": {\n    "enabled": }\n}', `${JSON_FILE}:3:16`, "invalid JSON: Unexpected token '}'"],
    ["a trailing JSON comma", "json", '{\n  "updates": {"enabled": true,}\n}', `${JSON_FILE}:2:31`, "invalid JSON: Expected double-quoted property name"],
    ["truncated JSON", "json", '{"a": 1', `${JSON_FILE}:1:8`, "invalid JSON: Expected ',' or '}' after property value"],
    ["an empty JSON file", "json", "", `${JSON_FILE}:1:1`, "invalid JSON: Unexpected end of JSON input"],
  ];
  for (const [name, format, text, where, message] of rows) {
    test(name, () => {
      const result = parseFragmentText(format === "toml" ? TOML : JSON_FILE, format, text);
      assert.ok(result instanceof AgentError);
      assert.equal(result.code, "CONFIG_SYNTAX");
      assert.equal(result.where, where);
      assert.equal(result.message, message);
    });
  }

  test("a JSON fragment must be an object", () => {
    const result = parseFragmentText(JSON_FILE, "json", "[1]");
    assert.ok(result instanceof AgentError);
    assert.equal(result.code, "CONFIG_INVALID");
    assert.equal(result.describe(), `${JSON_FILE}: expected a JSON object at the top level, got an array`);
  });

  test("a byte-order mark is not an error", () => {
    assert.deepEqual({ ...(parseFragmentText(JSON_FILE, "json", '\uFEFF{"a": 1}') as object) }, { a: 1 });
    assert.deepEqual({ ...(parseFragmentText(TOML, "toml", "\uFEFFa = 1") as object) }, { a: 1 });
  });
});

describe("jsonErrorOffset finds where JSON stops being valid", () => {
  const rows: [string, number][] = [
    ['{"a": }', 6],
    ['{"a": 1', 7],
    ["", 0],
    ["[1 2]", 3],
    ["nul", 0],
    ['{"a":"\\x"}', 7],
    ['{"a": 1}}', 8],
    ['{"a": tru}', 6],
    ["[".repeat(1000), 1000],
  ];
  for (const [text, offset] of rows) test(JSON.stringify(text.slice(0, 20)), () => assert.equal(jsonErrorOffset(text), offset));

  test("nesting deep enough to exhaust the stack points at the start instead of crashing", () => {
    assert.equal(jsonErrorOffset("[".repeat(1_000_000)), 0);
  });
});
