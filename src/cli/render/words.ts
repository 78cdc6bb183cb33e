/**
 * Small pure helpers that turn agent facts into the words `agentctl` prints: times on the node's wall clock,
 * "in 2 hours 5 minutes", short payloads, progress bars and the aligned `Key: value` block.
 */
import { formatDuration, formatInstant } from "../../strategy/windows/index.js";

/** `Tue 2026-12-01 23:00 UTC` on the node's clock; an unreadable time is shown as it was written. */
export function localTime(iso: string, zone: string): string {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : formatInstant(new Date(ms), zone);
}

/** `in 2 hours 5 minutes`, `12 minutes ago`, `now`: how far `iso` is from `now`. */
export function relativeTime(iso: string, now: Date): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return "at an unknown time";
  const delta = ms - now.getTime();
  if (Math.abs(delta) < 60_000) return "now";
  return delta > 0 ? `in ${formatDuration(delta)}` : `${formatDuration(-delta)} ago`;
}

/** `Tue 2026-12-01 23:00 UTC, in 2 hours 5 minutes`. */
export function timeInWords(iso: string, now: Date, zone: string): string {
  return Number.isNaN(Date.parse(iso)) ? iso : `${localTime(iso, zone)}, ${relativeTime(iso, now)}`;
}

const SHORT_HEX = 12;

/**
 * OSTree checksums and OCI digests are 64 hex digits; the first 12 tell releases apart, as `git log --oneline`
 * does. `quay.io/fedora/fedora-coreos@sha256:<64 hex>` keeps its repository and shortens the digest.
 */
export function shortPayload(payload: string): string {
  if (/^[0-9a-f]{64}$/i.test(payload)) return payload.slice(0, SHORT_HEX);
  const digest = /^(.*@sha256:)([0-9a-f]{64})$/i.exec(payload);
  if (digest) return `${digest[1]}${digest[2]!.slice(0, SHORT_HEX)}`;
  return payload;
}

/** `41.20250101.3.0 (5a3b6c7d8e9f)`; the version alone is not enough to tell an OCI and an OSTree build apart. */
export function release(ref: { version: string; payload: string }, fullPayload: boolean): string {
  const payload = fullPayload ? ref.payload : shortPayload(ref.payload);
  if (ref.version === "") return payload;
  return payload === "" ? ref.version : `${ref.version} (${payload})`;
}

export const PROGRESS_BAR_WIDTH = 18;

/** `[#########.........] 48%`: the percentage is clamped, so a confused progress report never breaks the line. */
export function progressBar(percent: number, width = PROGRESS_BAR_WIDTH): string {
  const clamped = Math.min(100, Math.max(0, percent));
  const filled = Math.round((clamped / 100) * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${Math.round(clamped)}%`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** A row of the block; extra lines of a value are indented under its first line. */
export type Row = [key: string, value: string, ...continuation: string[]];

/**
 * rpm-ostree's deployment layout: keys right-aligned on the colon, values in one column, so the eye finds
 * a key by its end and a value by its start.
 */
export function alignedBlock(rows: readonly Row[]): string[] {
  const width = Math.max(0, ...rows.map(([key]) => key.length));
  const lines: string[] = [];
  for (const [key, value, ...more] of rows) {
    lines.push(`${key.padStart(width)}: ${value}`);
    for (const line of more) lines.push(`${" ".repeat(width + 2)}${line}`);
  }
  return lines;
}
