/**
 * Logging, journald-native. Under systemd every line starts with its `<N>` syslog priority so
 * `journalctl -p err` sees errors as errors (journald strips the prefix); without a prefix every
 * line would be "info". journald already records time, pid and host, so those are left out there.
 * At a terminal (and no journald) lines are timestamped and unprefixed, for a human.
 *
 * Built on pino with an in-process synchronous destination: no worker-thread transport (it costs
 * ~8 MB and cannot be bundled), and the last lines before a crash are not lost in a buffer.
 */
import { fstatSync } from "node:fs";
import { isatty } from "node:tty";
import pino from "pino";
import { AgentError } from "../errors.js";
import type { Clock } from "./clock.js";

export type LogLevel = "trace" | "debug" | "info" | "notice" | "warn" | "error" | "fatal";
export type LogFields = Record<string, unknown>;
export type LogFormat = "text" | "json";
/** `journal`: `<N>`-prefixed, no timestamp. `terminal`: timestamped, no prefix. */
export type LogStyle = "journal" | "terminal";

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  notice(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `bindings` to every line it writes. */
  child(bindings: LogFields): Logger;
}

export interface LoggerOptions {
  format?: LogFormat;
  level?: LogLevel;
  /** Receives each record's text: one or more lines, each ending in "\n". Default: stderr. */
  write?: (record: string) => void;
  env?: NodeJS.ProcessEnv;
  /** Default: detected from JOURNAL_STREAM and stderr; `journal` when `write` is given. */
  style?: LogStyle;
  /** Source of the terminal timestamps. */
  clock?: Pick<Clock, "now">;
}

/** syslog priorities (journald `PRIORITY=`) for each level. */
export const LOG_PRIORITY: Record<LogLevel, number> = {
  fatal: 2,
  error: 3,
  warn: 4,
  notice: 5,
  info: 6,
  debug: 7,
  trace: 7,
};

/** A logger that drops everything, for code paths (and tests) that do not care. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  notice: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};

const RESERVED_KEYS = new Set(["level", "time", "msg"]);

export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? "text";
  const env = options.env ?? process.env;
  const style = options.style ?? (options.write ? "journal" : detectLogStyle(env, 2));
  const clock = options.clock ?? { now: () => new Date() };
  const write = options.write ?? ((record: string) => void process.stderr.write(record));
  const render = (json: string) => write(renderRecord(json, format, style));
  const root = pino(
    {
      level: options.level ?? "info",
      customLevels: { notice: 35 },
      base: undefined,
      timestamp: style === "terminal" ? () => `,"time":${JSON.stringify(clock.now().toISOString())}` : false,
      formatters: { level: (label) => ({ level: label }) },
    },
    { write: render },
  );
  return wrap(root);
}

type PinoLogger = pino.Logger<"notice">;

function wrap(target: PinoLogger): Logger {
  const at =
    (level: "debug" | "info" | "notice" | "warn" | "error") =>
    (msg: string, fields?: LogFields): void => {
      if (fields === undefined) target[level](msg);
      else target[level](normalizeFields(fields), msg);
    };
  return {
    debug: at("debug"),
    info: at("info"),
    notice: at("notice"),
    warn: at("warn"),
    error: at("error"),
    child: (bindings) => wrap(target.child(normalizeFields(bindings))),
  };
}

/**
 * Errors become flat facts an admin can grep: `<key>=<message>` plus the AgentError's `code`,
 * `where` and `hint`; other errors keep their stack, since those are bugs. Keys pino itself uses
 * get a trailing underscore instead of silently overwriting the level or message.
 */
export function normalizeFields(fields: LogFields): LogFields {
  const out: LogFields = {};
  const put = (key: string, value: unknown) => {
    if (value === undefined) return;
    let name = RESERVED_KEYS.has(key) ? `${key}_` : key;
    while (name in out) name = `${name}_`;
    out[name] = value;
  };
  for (const [key, value] of Object.entries(fields)) {
    if (!(value instanceof Error)) {
      put(key, value);
      continue;
    }
    put(key, value.message);
    if (value instanceof AgentError) {
      put("code", value.code);
      put("where", value.where);
      put("hint", value.hint);
      put("details", value.details);
    } else {
      put("stack", value.stack);
    }
  }
  return out;
}

/** journald when JOURNAL_STREAM names the very stream on `fd`; else a terminal if `fd` is one. */
export function detectLogStyle(env: NodeJS.ProcessEnv, fd: number): LogStyle {
  if (isJournalStream(env.JOURNAL_STREAM, fd)) return "journal";
  return isatty(fd) ? "terminal" : "journal";
}

export function isJournalStream(journalStream: string | undefined, fd: number): boolean {
  const match = /^(\d+):(\d+)$/.exec(journalStream ?? "");
  if (!match) return false;
  try {
    const stat = fstatSync(fd, { bigint: true });
    return stat.dev === BigInt(match[1]!) && stat.ino === BigInt(match[2]!);
  } catch {
    return false;
  }
}

interface PinoRecord {
  level: LogLevel;
  time?: string;
  msg?: string;
  stack?: unknown;
  [key: string]: unknown;
}

/** Turns one pino JSON line into what goes on the stream. Pure. */
export function renderRecord(json: string, format: LogFormat, style: LogStyle): string {
  const record = JSON.parse(json) as PinoRecord;
  const priority = LOG_PRIORITY[record.level] ?? LOG_PRIORITY.info;
  if (format === "json") {
    const line = json.endsWith("\n") ? json.slice(0, -1) : json;
    return style === "journal" ? `<${priority}>${line}\n` : `${line}\n`;
  }
  const lines = textLines(record);
  if (style === "journal") return lines.map((line) => `<${priority}>${line}\n`).join("");
  const head = `${terminalTime(record.time)} ${record.level.toUpperCase().padEnd(6)} `;
  const indent = " ".repeat(head.length);
  return lines.map((line, i) => `${i === 0 ? head : indent}${line}\n`).join("");
}

/** `message key=value ...` on the first line; the message's other lines and any stack follow. */
function textLines(record: PinoRecord): string[] {
  const { level: _level, time: _time, msg = "", stack, ...fields } = record;
  const [first = "", ...rest] = msg.split("\n");
  const pairs = Object.entries(fields).map(([key, value]) => `${key}=${formatValue(value)}`);
  const head = [first, ...pairs].filter((part) => part !== "").join(" ");
  const stackLines = typeof stack === "string" ? stack.split("\n").slice(1) : [];
  return [head, ...rest, ...stackLines];
}

/** Bare when unambiguous, JSON-quoted when a reader could not tell where the value ends. */
export function formatValue(value: unknown): string {
  if (typeof value === "string") return /^[^\s"'=\\]+$/.test(value) ? value : JSON.stringify(value);
  if (value === null || typeof value !== "object") return String(value);
  return JSON.stringify(value);
}

function terminalTime(iso: string | undefined): string {
  const date = iso ? new Date(iso) : new Date();
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`
  );
}
