/**
 * Pure parsers for the configuration values that are more than a type check. Each returns the
 * normalized value, or a message of the form `expected …, got …` that the schema attaches to the key.
 */
import { CronExpressionParser } from "cron-parser";
import { IANAZone } from "luxon";
import { templateUrl } from "./template.js";

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string; hint?: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = (message: string, hint?: string): Parsed<never> =>
  hint === undefined ? { ok: false, message } : { ok: false, message, hint };

/** How a value from a fragment is shown in a message: strings quoted, TOML's special floats by name. */
export function showValue(value: unknown): string {
  if (typeof value === "string") {
    const shown = JSON.stringify(value);
    return shown.length > 82 ? `${shown.slice(0, 80)}…"` : shown;
  }
  if (typeof value === "number") {
    if (Number.isNaN(value)) return "nan";
    if (value === Infinity) return "inf";
    if (value === -Infinity) return "-inf";
    return String(value);
  }
  if (typeof value === "bigint" || typeof value === "boolean") return String(value);
  if (value === null) return "null";
  if (value === undefined) return "nothing";
  // smol-toml returns dates and times as Date subclasses whose toISOString() keeps the TOML form.
  if (value instanceof Date) {
    const shown = Number.isNaN(value.getTime()) ? "an invalid date" : value.toISOString().replace(/\.000(?=$|Z|[+-])/, "");
    return `${shown} (a TOML date/time, not a string)`;
  }
  if (Array.isArray(value)) return "an array";
  return "a table";
}

/** The candidate a misspelt name most likely meant: same letters ignoring case and `-`/`_`, or ≤ 2 edits away. */
export function closestName(input: string, candidates: readonly string[]): string | undefined {
  const fold = (s: string) => s.toLowerCase().replaceAll("-", "_");
  const exact = candidates.find((c) => fold(c) === fold(input));
  if (exact !== undefined) return exact;
  if (input.length < 3 || input.length > 64) return undefined;
  let best: { name: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(fold(input), fold(candidate));
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { name: candidate, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

export const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

const WEEKDAY_NAMES: ReadonlyMap<string, Weekday> = new Map(
  (["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] as const).flatMap(
    (long, i) => [
      [long, WEEKDAYS[i]!],
      [WEEKDAYS[i]!, WEEKDAYS[i]!],
    ],
  ),
);

/** `Sat`, `saturday`, `SAT` → `sat`. Zincati rejects `tuesday` (a typo in its table); we accept it. */
export function parseWeekday(input: string): Parsed<Weekday> {
  const day = WEEKDAY_NAMES.get(input.toLowerCase());
  return day ? ok(day) : fail(`expected a weekday (mon…sun or monday…sunday), got ${showValue(input)}`);
}

/** Unique days in week order, so `["Sun", "sat", "saturday"]` and `["sat", "sun"]` compare equal. */
export function sortWeekdays(days: readonly Weekday[]): Weekday[] {
  return WEEKDAYS.filter((d) => days.includes(d));
}

/** Zincati's rule: two decimal fields split by `:`, hour ≤ 23, minute ≤ 59 (`7:05` and `07:5` are fine). */
export function parseStartTime(input: string): Parsed<string> {
  const match = /^([0-9]+):([0-9]+)$/.exec(input);
  const hour = match ? Number(match[1]) : NaN;
  const minute = match ? Number(match[2]) : NaN;
  if (!(hour <= 23 && minute <= 59)) return fail(`expected "HH:MM", got ${showValue(input)}`);
  return ok(`${String(hour).padStart(2, "0")}:${String(minute).padStart(2, "0")}`);
}

/** `^[a-zA-Z0-9.-]+$`, as Zincati checks it: the group ends up in lock-server keys and URLs. */
export function parseGroup(input: string): Parsed<string> {
  if (input === "") return ok("default");
  return /^[a-zA-Z0-9.-]+$/.test(input)
    ? ok(input)
    : fail(`expected letters, digits, "." and "-" only, got ${showValue(input)}`);
}

/** sd-id128 forms: 32 hex digits or a hyphenated UUID, sent as 32 lower-case hex digits. */
export function parseNodeUuid(input: string): Parsed<string | undefined> {
  if (input === "") return ok(undefined);
  if (/^[0-9a-fA-F]{32}$/.test(input) || /^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$/.test(input)) {
    return ok(input.replaceAll("-", "").toLowerCase());
  }
  return fail(`expected 32 hex digits or a UUID, got ${showValue(input)}`);
}

/** `localtime`, or a zone the runtime's tz database knows (the same database the windows are computed with). */
export function parseTimeZone(input: string): Parsed<string> {
  if (input === "localtime" || IANAZone.isValidZone(input)) return ok(input);
  return fail(`expected "localtime" or an IANA time zone name such as "Europe/Berlin", got ${showValue(input)}`);
}

/** A cron window: exactly minute, hour, day of month, month and day of week, as cron-parser reads them. */
export function parseCron(input: string): Parsed<string> {
  const fields = input.trim().split(/\s+/);
  if (fields.length !== 5 || fields[0] === "") {
    return fail(`expected a 5-field cron expression (minute hour day-of-month month day-of-week), got ${showValue(input)}`);
  }
  try {
    CronExpressionParser.parse(fields.join(" "), { tz: "UTC" });
  } catch (e) {
    return fail(`invalid cron expression ${showValue(input)}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return ok(fields.join(" "));
}

/** Stand-ins for the identity, so a templated URL can be checked before the identity is known. */
const PLACEHOLDER_VARS = { basearch: "x86_64", group: "default", platform: "metal", stream: "stable" };

/**
 * Zincati only parses the Cincinnati URL when it first fetches the graph; we check every base URL at load time,
 * after templating it with placeholder values, so a typo fails `config validate` rather than the first update check.
 */
export function parseBaseUrl(input: string): Parsed<string> {
  if (input === "") return fail(`expected an http(s) URL, got ""`);
  const trial = templateUrl(input, PLACEHOLDER_VARS);
  const unknown = /\$\{[^}]*\}/.exec(trial);
  if (unknown) {
    return fail(
      `unknown template variable ${unknown[0]} in ${showValue(input)}`,
      "the variables are ${basearch}, ${group}, ${platform} and ${stream}",
    );
  }
  return isHttpUrl(trial) ? ok(input) : fail(`expected an http(s) URL, got ${showValue(input)}`);
}

export function parseHttpUrl(input: string): Parsed<string> {
  return isHttpUrl(input) ? ok(input) : fail(`expected an http(s) URL, got ${showValue(input)}`);
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  } catch {
    return false;
  }
}

export function parseAbsolutePath(input: string): Parsed<string> {
  return input.startsWith("/") && !input.includes("\0")
    ? ok(input)
    : fail(`expected an absolute path, got ${showValue(input)}`);
}

/** `ignition.platform.id` values are short lower-case words (`metal`, `aws`, `qemu`); they are templated into URLs. */
export function parsePlatform(input: string): Parsed<string | undefined> {
  if (input === "") return ok(undefined);
  return /^[a-zA-Z0-9._-]+$/.test(input)
    ? ok(input)
    : fail(`expected a platform id such as "metal" or "aws", got ${showValue(input)}`);
}

/** The metrics endpoint has no authentication, so it may only listen on a loopback address. */
export function parseLoopbackListen(input: string): Parsed<string | undefined> {
  if (input === "") return ok(undefined);
  const match = /^(localhost|\[::1\]|127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}):([0-9]{1,5})$/.exec(input);
  const host = match?.[1] ?? "";
  const port = Number(match?.[2]);
  const octetsOk = !host.startsWith("127.") || host.split(".").every((o) => Number(o) <= 255);
  if (match && octetsOk && port >= 1 && port <= 65535) return ok(input);
  return fail(
    `expected a loopback address and port ("127.0.0.1:9100", "[::1]:9100" or "localhost:9100"), got ${showValue(input)}`,
    "the metrics endpoint has no authentication; to export metrics off the node, put a proxy in front of it",
  );
}
