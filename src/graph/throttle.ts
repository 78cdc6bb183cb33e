/**
 * Rollout throttling exactly as the FCOS policy engine applies it (`policy::throttle_rollouts`), for
 * static graph files served without a policy engine (`cincinnati.client_throttling`) and for `agentctl plan`.
 *
 * Integer parts use BigInt with Rust's release-mode semantics (saturating where the Rust code saturates,
 * wrapping i64 arithmetic elsewhere), so absurd metadata gives the server's answer, not a JS artefact.
 * The float part is done with Numbers in the server's order of operations, which gives bit-identical
 * results (0.3 over 1440 min at +43200 s is 0.6499999999999999 on both sides).
 */
import { METADATA } from "./model.js";
import { parseRustF64 } from "./wariness.js";

const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;
const U64_MAX = (1n << 64n) - 1n;

const SIGNED_DECIMAL = /^[+-]?[0-9]+$/;
const UNSIGNED_DECIMAL = /^\+?[0-9]+$/;

/** Rust `i64::from_str`, or undefined when it would fail (including overflow). */
function parseI64(text: string | undefined): bigint | undefined {
  if (text === undefined || !SIGNED_DECIMAL.test(text)) return undefined;
  const value = BigInt(text);
  return value < I64_MIN || value > I64_MAX ? undefined : value;
}

/** Rust `u64::from_str`, or undefined when it would fail (including overflow). */
function parseU64(text: string | undefined): bigint | undefined {
  if (text === undefined || !UNSIGNED_DECIMAL.test(text)) return undefined;
  const value = BigInt(text);
  return value > U64_MAX ? undefined : value;
}

export interface RolloutParameters {
  startEpoch: bigint;
  startValue: number;
  /** Undefined when the duration is missing or unparsable: the rollout then stays at `startValue`. */
  end: bigint | undefined;
}

/** The rollout a node carries, with the server's defaults, or undefined when it has no `rollout` key. */
export function rolloutParameters(metadata: Readonly<Record<string, string>>): RolloutParameters | undefined {
  // The server checks only that the key exists; "false" would still count as a rollout.
  if (!Object.hasOwn(metadata, METADATA.rollout)) return undefined;
  const startEpoch = parseI64(metadata[METADATA.startEpoch]) ?? 0n;
  const rawStartValue = metadata[METADATA.startValue];
  const startValue = (rawStartValue === undefined ? undefined : parseRustF64(rawStartValue)) ?? 0;
  const minutes = parseU64(metadata[METADATA.durationMinutes]);
  if (minutes === undefined) return { startEpoch, startValue, end: undefined };
  // `max(1)`: a zero duration is one minute. `saturating_mul(60) as i64` then a wrapping add.
  const seconds = BigInt.asIntN(64, min(max(minutes, 1n) * 60n, U64_MAX));
  return { startEpoch, startValue, end: BigInt.asIntN(64, startEpoch + seconds) };
}

/**
 * The fraction of the fleet (by wariness) served at `now` (Unix seconds; fractions are dropped like the
 * server's integer clock), or undefined when the node has no rollout.
 */
export function rolloutThrottling(metadata: Readonly<Record<string, string>>, now: number): number | undefined {
  const rollout = rolloutParameters(metadata);
  return rollout === undefined ? undefined : throttlingAt(rollout, toI64(now));
}

function throttlingAt({ startEpoch, startValue, end }: RolloutParameters, now: bigint): number {
  if (end === undefined) return now < startEpoch ? 0.0 : startValue;
  const span = clampI64(end - startEpoch); // saturating_sub
  const rate = (1.0 - startValue) / Number(span);
  if (now < startEpoch) return 0.0;
  if (now > end) return 1.0;
  return startValue + rate * Number(BigInt.asIntN(64, now - startEpoch));
}

/** The server's rule: a node is hidden from a client while its wariness exceeds the throttling. */
export function isHiddenByRollout(metadata: Readonly<Record<string, string>>, wariness: number, now: number): boolean {
  const throttling = rolloutThrottling(metadata, now);
  return throttling !== undefined && wariness > throttling;
}

/**
 * The first Unix second at or after `now` from which a client with this wariness is served the node,
 * or undefined when it never will be (a rollout that stops below the wariness). Used to tell the admin
 * when a throttled release will arrive.
 */
export function rolloutServedAt(metadata: Readonly<Record<string, string>>, wariness: number, now: number): number | undefined {
  const rollout = rolloutParameters(metadata);
  const from = toI64(now);
  if (rollout === undefined) return Number(from);
  const served = (t: bigint): boolean => !(wariness > throttlingAt(rollout, t));
  if (served(from)) return Number(from);
  // After `end` (or from the start, without a duration) throttling no longer changes.
  const last = rollout.end === undefined ? rollout.startEpoch : rollout.end < I64_MAX ? rollout.end + 1n : I64_MAX;
  if (last <= from || !served(last)) return undefined;
  // Served-ness only grows with time (0 before the start, then a non-decreasing line, then 1): bisect.
  let low = from; // not served
  let high = last; // served
  while (high - low > 1n) {
    const middle = low + (high - low) / 2n;
    if (served(middle)) high = middle;
    else low = middle;
  }
  return Number(high);
}

function toI64(seconds: number): bigint {
  if (Number.isNaN(seconds)) return 0n;
  if (seconds === Infinity) return I64_MAX;
  if (seconds === -Infinity) return I64_MIN;
  return clampI64(BigInt(Math.floor(seconds)));
}

function clampI64(value: bigint): bigint {
  return value < I64_MIN ? I64_MIN : value > I64_MAX ? I64_MAX : value;
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
