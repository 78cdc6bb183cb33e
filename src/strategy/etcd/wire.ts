/**
 * The etcd v3 JSON gateway's wire format (etcd 3.4, `/v3/...`), as pure functions: keys and values
 * are standard base64, int64s travel as strings, and zero values are omitted (a failed txn has no
 * `succeeded`, an empty range no `kvs`), so every parser treats a missing field as false, 0 or empty.
 */
import { AgentError } from "../../errors.js";

export const encode = (text: string): string => Buffer.from(text, "utf8").toString("base64");
export const decode = (b64: string | undefined): string => (b64 ? Buffer.from(b64, "base64").toString("utf8") : "");

/** The smallest key greater than every key starting with `prefix` (a prefix range's `range_end`). */
export function prefixRangeEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, "utf8");
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i] = end[i]! + 1;
      return end.toString("base64");
    }
  }
  return Buffer.from([0]).toString("base64"); // all 0xff: "every key from here on"
}

/** Go's `url.QueryEscape`, which Airlock applies to the group inside the key. */
export function queryEscape(text: string): string {
  return encodeURIComponent(text)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, "+");
}

/** Airlock's key prefix; keep it to share slots with Zincati nodes behind Airlock. */
export const AIRLOCK_KEY_PREFIX = "com.coreos.airlock";
/** Airlock's `[lock] default_slots`, used when this agent is the first to create the semaphore. */
export const AIRLOCK_DEFAULT_SLOTS = 1;

/** Every key this agent reads or writes for one group. */
export interface GroupKeys {
  /** Airlock's `{"total_slots":N,"holders":[...]}`. */
  semaphore: string;
  /** `{"releases":[...]}`, releases that failed their health check on some node of the group. */
  denylist: string;
  /** `waiters/<id>`: a leased key per node waiting for a slot; arrival order is create_revision. */
  waitersPrefix: string;
  /** `holders/<id>`: a leased key per holder, only with `ttl_secs` > 0; gone = the holder expired. */
  holderLeasesPrefix: string;
  /** `ttl-holders/<id>`: an unleased marker saying "this holder opted into expiry". */
  ttlMarkersPrefix: string;
}

export function groupKeys(keyPrefix: string, group: string): GroupKeys {
  const base = `${keyPrefix}/groups/${queryEscape(group)}/v1/`;
  return {
    semaphore: `${base}semaphore`,
    denylist: `${base}denylist`,
    waitersPrefix: `${base}waiters/`,
    holderLeasesPrefix: `${base}holders/`,
    ttlMarkersPrefix: `${base}ttl-holders/`,
  };
}

/** `waiters/<id>`: the leased key a node waits in line with. */
export function waiterKey(keys: GroupKeys, id: string): string {
  return `${keys.waitersPrefix}${id}`;
}

/** The node ids of a range of keys under `prefix` (waiters, holder leases, expiry markers). */
export function idsUnder(kvs: readonly KeyValue[] | undefined, prefix: string): string[] {
  return (kvs ?? []).map((kv) => kv.key.slice(prefix.length));
}

export interface KeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  lease: string;
}

/** etcd int64 fields arrive as strings; revisions stay far below 2^53, lease IDs do not (kept as strings). */
function int(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "string" && value !== "") return Number(value);
  return 0;
}

export function parseKeyValue(raw: unknown): KeyValue {
  const kv = (raw ?? {}) as Record<string, unknown>;
  return {
    key: decode(kv.key as string | undefined),
    value: decode(kv.value as string | undefined),
    createRevision: int(kv.create_revision),
    modRevision: int(kv.mod_revision),
    version: int(kv.version),
    lease: typeof kv.lease === "string" ? kv.lease : kv.lease === undefined ? "0" : String(kv.lease),
  };
}

export interface RangeResult {
  revision: number;
  kvs: KeyValue[];
  count: number;
}

export function parseRange(raw: unknown): RangeResult {
  const body = (raw ?? {}) as { header?: { revision?: unknown }; kvs?: unknown[]; count?: unknown };
  const kvs = Array.isArray(body.kvs) ? body.kvs.map(parseKeyValue) : [];
  return { revision: int(body.header?.revision), kvs, count: body.count === undefined ? kvs.length : int(body.count) };
}

export interface TxnResult {
  succeeded: boolean;
  revision: number;
  /** Each op's response in order; ranges parsed, others as `undefined`. */
  ranges: (RangeResult | undefined)[];
}

export function parseTxn(raw: unknown): TxnResult {
  const body = (raw ?? {}) as { header?: { revision?: unknown }; succeeded?: unknown; responses?: unknown[] };
  const responses = Array.isArray(body.responses) ? body.responses : [];
  return {
    succeeded: body.succeeded === true,
    revision: int(body.header?.revision),
    ranges: responses.map((r) => {
      const range = (r as { response_range?: unknown } | null)?.response_range;
      return range === undefined ? undefined : parseRange(range);
    }),
  };
}

export type WatchMessage =
  | { kind: "created"; revision: number }
  | { kind: "events"; revision: number; events: { type: "PUT" | "DELETE"; kv: KeyValue }[] }
  | { kind: "canceled"; revision: number; compactRevision: number; reason: string }
  | { kind: "progress"; revision: number };

/** One line of the gateway's `/v3/watch` stream: `{"result":{...}}` or `{"error":{...}}`. */
export function parseWatchLine(line: string, where: string): WatchMessage {
  let parsed: { result?: Record<string, unknown>; error?: { message?: string } };
  try {
    parsed = JSON.parse(line) as typeof parsed;
  } catch (e) {
    throw new AgentError("ETCD_UNAVAILABLE", "the watch stream sent a line that is not JSON", { where, cause: e });
  }
  if (parsed.error) {
    throw new AgentError("ETCD_UNAVAILABLE", `the watch stream failed: ${parsed.error.message ?? JSON.stringify(parsed.error)}`, { where });
  }
  const result = parsed.result ?? {};
  const revision = int((result.header as { revision?: unknown } | undefined)?.revision);
  if (result.canceled === true) {
    return { kind: "canceled", revision, compactRevision: int(result.compact_revision), reason: String(result.cancel_reason ?? "") };
  }
  if (Array.isArray(result.events) && result.events.length > 0) {
    const events = result.events.map((e) => {
      const event = e as { type?: unknown; kv?: unknown };
      return { type: event.type === "DELETE" || event.type === 1 ? ("DELETE" as const) : ("PUT" as const), kv: parseKeyValue(event.kv) };
    });
    return { kind: "events", revision, events };
  }
  if (result.created === true) return { kind: "created", revision };
  return { kind: "progress", revision };
}

/** The gateway's error body `{"error","message","code"}` → its message, or the raw text. */
export function gatewayErrorMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { message?: unknown; error?: unknown };
    if (typeof parsed.message === "string" && parsed.message) return parsed.message;
    if (typeof parsed.error === "string" && parsed.error) return parsed.error;
  } catch {
    // not JSON
  }
  return body.trim().slice(0, 300) || "(empty body)";
}

// Request builders: only the fields we use, with the proto names the gateway documents.
export type Op =
  | { request_put: { key: string; value: string; lease?: string } }
  | {
      request_range: {
        key: string;
        range_end?: string;
        keys_only?: boolean;
        max_create_revision?: string;
        limit?: string;
        sort_order?: "ASCEND" | "DESCEND";
        sort_target?: "CREATE";
        serializable?: boolean;
      };
    }
  | { request_delete_range: { key: string; range_end?: string } };

export type Compare =
  | { target: "VERSION"; result: "EQUAL" | "GREATER"; key: string; version: string }
  | { target: "MOD"; result: "EQUAL"; key: string; mod_revision: string };

export const putOp = (key: string, value: string, lease?: string): Op => ({
  request_put: { key: encode(key), value: encode(value), ...(lease && lease !== "0" ? { lease } : {}) },
});
export const getOp = (key: string): Op => ({ request_range: { key: encode(key) } });
export const prefixOp = (prefix: string, extra: { keysOnly?: boolean } = {}): Op => ({
  request_range: { key: encode(prefix), range_end: prefixRangeEnd(prefix), ...(extra.keysOnly ? { keys_only: true } : {}) },
});
/**
 * The `limit` oldest keys under `prefix` (oldest = smallest create_revision), keys only: etcd reads
 * the whole range to sort it, so no values come along.
 */
export const oldestOp = (prefix: string, limit: number): Op => ({
  request_range: { key: encode(prefix), range_end: prefixRangeEnd(prefix), keys_only: true, limit: String(limit), sort_order: "ASCEND", sort_target: "CREATE" },
});
/** The `limit` newest keys under `prefix` (created at or before `maxCreateRevision`, if given). */
export const newestOp = (prefix: string, maxCreateRevision?: number, limit = 1): Op => ({
  request_range: {
    key: encode(prefix),
    range_end: prefixRangeEnd(prefix),
    keys_only: true,
    limit: String(limit),
    ...(maxCreateRevision !== undefined ? { max_create_revision: String(maxCreateRevision) } : {}),
    sort_order: "DESCEND",
    sort_target: "CREATE",
  },
});
export const deleteOp = (key: string): Op => ({ request_delete_range: { key: encode(key) } });
/**
 * The same read, served by the member we talk to without a quorum round. Only for reads that a
 * compare-and-swap then checks: a stale answer just makes the write fail and return fresh values.
 */
export function locally(op: Op): Op {
  return "request_range" in op ? { request_range: { ...op.request_range, serializable: true } } : op;
}
/** Compare on `version` as Airlock does (version 0 = the key does not exist). */
export const versionIs = (key: string, version: number): Compare => ({ target: "VERSION", result: "EQUAL", key: encode(key), version: String(version) });
/** The key exists (any version). */
export const exists = (key: string): Compare => ({ target: "VERSION", result: "GREATER", key: encode(key), version: "0" });
/** Compare on `mod_revision`, which (unlike version) never repeats after a delete and re-create. */
export const modRevisionIs = (key: string, modRevision: number): Compare => ({ target: "MOD", result: "EQUAL", key: encode(key), mod_revision: String(modRevision) });
/**
 * The compare-and-swap guard for a key read as `kv` (or found missing): Airlock's version check,
 * plus mod_revision so a semaphore deleted and re-created by an admin in between is not mistaken
 * for the one we read.
 */
export function unchangedSince(key: string, kv: KeyValue | undefined): Compare[] {
  if (!kv) return [versionIs(key, 0)];
  return [versionIs(key, kv.version), modRevisionIs(key, kv.modRevision)];
}
