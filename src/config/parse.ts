/**
 * Fragment text → a raw table, or a CONFIG_SYNTAX error at `PATH:LINE:COLUMN`. Pure: the caller reads the file.
 */
import { parse as parseToml, TomlError } from "smol-toml";
import { AgentError } from "../errors.js";
import { showValue } from "./values.js";

export type RawTable = Record<string, unknown>;
export type FragmentFormat = "toml" | "json";

export function fragmentFormat(fileName: string): FragmentFormat | undefined {
  if (fileName.endsWith(".toml")) return "toml";
  if (fileName.endsWith(".json")) return "json";
  return undefined;
}

export function isTable(value: unknown): value is RawTable {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  // smol-toml builds its tables without a prototype; JSON.parse uses plain objects.
  return prototype === null || prototype === Object.prototype;
}

export function parseFragmentText(path: string, format: FragmentFormat, text: string): RawTable | AgentError {
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  return format === "json" ? parseJson(path, body) : parseTomlText(path, body);
}

function syntaxError(path: string, format: string, message: string, line: number, column: number): AgentError {
  return new AgentError("CONFIG_SYNTAX", `invalid ${format}: ${message}`, {
    where: `${path}:${line}:${column}`,
    details: { file: path, line, column },
  });
}

function parseTomlText(path: string, text: string): RawTable | AgentError {
  try {
    return parseToml(text) as RawTable;
  } catch (e) {
    if (e instanceof TomlError) {
      const message = (e.message.split("\n")[0] ?? "").replace(/^Invalid TOML document: /, "");
      return syntaxError(path, "TOML", message, e.line, e.column);
    }
    // Not a syntax error smol-toml knows (e.g. nesting deep enough to exhaust the stack): still the file's fault.
    return new AgentError("CONFIG_SYNTAX", `invalid TOML: ${e instanceof Error ? e.message : String(e)}`, { where: path });
  }
}

function parseJson(path: string, text: string): RawTable | AgentError {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const raw = e instanceof Error ? e.message : String(e);
    const reported = /at position (\d+)/.exec(raw);
    const offset = reported ? Number(reported[1]) : jsonErrorOffset(text);
    const { line, column } = lineAndColumn(text, offset);
    // V8 appends the position, or a quoted excerpt of the text; the line and column say both better.
    const message = raw.replace(/ in JSON at position \d+.*$/s, "").replace(/, (\.\.\.)?".*$/s, "");
    return syntaxError(path, "JSON", message, line, column);
  }
  if (isTable(value)) return value;
  return new AgentError("CONFIG_INVALID", `expected a JSON object at the top level, got ${showValue(value)}`, {
    where: path,
  });
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split("\n");
  return { line: lines.length, column: (lines.at(-1)?.length ?? 0) + 1 };
}

/**
 * Where JSON.parse gave up, for the messages that do not say (`Unexpected token '}', "…" is not valid JSON`):
 * a small validating scanner, only run on text already known to be invalid.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const fail = (): never => {
    throw new JsonStop(i);
  };
  const skipSpace = () => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++;
  };
  const expectChar = (c: string) => (text[i] === c ? i++ : fail());
  const string = () => {
    expectChar('"');
    for (;;) {
      const c = text[i];
      if (c === undefined || c < " ") fail();
      i++;
      if (c === '"') return;
      if (c === "\\") {
        if (text[i] === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) i += 5;
        else if (text[i] !== undefined && '"\\/bfnrt'.includes(text[i]!)) i++;
        else fail();
      }
    }
  };
  const sequence = (close: string, item: () => void) => {
    i++;
    skipSpace();
    if (text[i] === close) return void i++;
    for (;;) {
      item();
      skipSpace();
      if (text[i] === ",") i++;
      else return void expectChar(close);
    }
  };
  const value = (): void => {
    skipSpace();
    const c = text[i];
    if (c === "{") {
      return sequence("}", () => {
        skipSpace();
        string();
        skipSpace();
        expectChar(":");
        value();
      });
    }
    if (c === "[") return sequence("]", value);
    if (c === '"') return string();
    const number = /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
    number.lastIndex = i;
    if (number.test(text)) return void (i = number.lastIndex);
    for (const literal of ["true", "false", "null"]) if (text.startsWith(literal, i)) return void (i += literal.length);
    fail();
  };
  try {
    value();
    skipSpace();
    if (i < text.length) fail();
    return text.length;
  } catch (e) {
    if (e instanceof JsonStop) return e.offset;
    return 0; // nesting deep enough to exhaust the stack: point at the start
  }
}

class JsonStop {
  constructor(readonly offset: number) {}
}
