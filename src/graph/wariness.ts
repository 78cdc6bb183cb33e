/**
 * Rollout wariness as the FCOS policy engine computes it (`compute_wariness`): an explicit value clamped to
 * [0, 1], else a value derived from the node UUID with Rust's `DefaultHasher`, which is SipHash-1-3 with
 * keys (0, 0) over the string's UTF-8 bytes followed by one 0xFF byte (`str`'s Hash impl).
 */

/** The wariness the server computes for a client that sends neither `rollout_wariness` nor `node_uuid`. */
export const ANONYMOUS_WARINESS = 0.18848315746051456;

/** The smallest derived wariness, so a derived value never sees a rollout before it starts. */
const MIN_DERIVED_WARINESS = 0.000001;

/** Rust's `f64::clamp`: NaN stays NaN. */
export function clamp(value: number, min: number, max: number): number {
  if (Number.isNaN(value)) return value;
  return value < min ? min : value > max ? max : value;
}

export function warinessFromNodeUuid(nodeUuid: string): number {
  const bytes = Buffer.concat([Buffer.from(nodeUuid, "utf8"), Buffer.from([0xff])]);
  const digest = sipHash13(bytes, 0n, 0n);
  // Rust divides by `u64::MAX as f64`, which rounds to 2^64; Number(bigint) rounds the same way.
  return clamp(Number(digest) / Number(MASK_64), MIN_DERIVED_WARINESS, 1.0);
}

/**
 * What the server uses for a request: `rollout_wariness` when it parses as a Rust f64 (then clamped),
 * otherwise the node UUID's hash (a missing UUID hashes as "").
 */
export function serverWariness(rolloutWariness: string | undefined, nodeUuid: string | undefined): number {
  const explicit = rolloutWariness === undefined ? undefined : parseRustF64(rolloutWariness);
  if (explicit !== undefined) return clamp(explicit, 0, 1);
  return warinessFromNodeUuid(nodeUuid ?? "");
}

const RUST_F64 = /^[+-]?(?:inf|infinity|nan|[0-9]+(?:\.[0-9]*)?(?:e[+-]?[0-9]+)?|\.[0-9]+(?:e[+-]?[0-9]+)?)$/i;

/** Rust's `f64::from_str`: no surrounding spaces, `inf`/`infinity`/`nan` in any case, `1.`, `.5`, `1e-3`. */
export function parseRustF64(text: string): number | undefined {
  if (!RUST_F64.test(text)) return undefined;
  const unsigned = text.replace(/^[+-]/, "").toLowerCase();
  const negative = text.startsWith("-");
  if (unsigned === "nan") return NaN;
  if (unsigned === "inf" || unsigned === "infinity") return negative ? -Infinity : Infinity;
  return Number(text);
}

const MASK_64 = (1n << 64n) - 1n;

function rotl(x: bigint, bits: bigint): bigint {
  return ((x << bits) | (x >> (64n - bits))) & MASK_64;
}

/**
 * SipHash with 1 compression and 3 finalization rounds (Aumasson & Bernstein), 64-bit output.
 * BigInt keeps it readable; it runs once per identity, never on a hot path.
 */
export function sipHash13(message: Uint8Array, k0: bigint, k1: bigint): bigint {
  let v0 = k0 ^ 0x736f6d6570736575n;
  let v1 = k1 ^ 0x646f72616e646f6dn;
  let v2 = k0 ^ 0x6c7967656e657261n;
  let v3 = k1 ^ 0x7465646279746573n;

  const round = (): void => {
    v0 = (v0 + v1) & MASK_64;
    v1 = rotl(v1, 13n) ^ v0;
    v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & MASK_64;
    v3 = rotl(v3, 16n) ^ v2;
    v0 = (v0 + v3) & MASK_64;
    v3 = rotl(v3, 21n) ^ v0;
    v2 = (v2 + v1) & MASK_64;
    v1 = rotl(v1, 17n) ^ v2;
    v2 = rotl(v2, 32n);
  };
  const compress = (m: bigint): void => {
    v3 ^= m;
    round();
    v0 ^= m;
  };

  const fullBlocks = Math.floor(message.length / 8);
  for (let block = 0; block < fullBlocks; block++) compress(readLittleEndian(message, block * 8, 8));
  // The last block holds the leftover bytes and, in its top byte, the message length mod 256.
  const tail = readLittleEndian(message, fullBlocks * 8, message.length - fullBlocks * 8);
  compress(tail | (BigInt(message.length & 0xff) << 56n));

  v2 ^= 0xffn;
  round();
  round();
  round();
  return v0 ^ v1 ^ v2 ^ v3;
}

function readLittleEndian(bytes: Uint8Array, offset: number, length: number): bigint {
  let value = 0n;
  for (let i = length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[offset + i]!);
  return value;
}
