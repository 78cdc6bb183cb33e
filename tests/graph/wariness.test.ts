import { test } from "node:test";
import assert from "node:assert/strict";
import { ANONYMOUS_WARINESS, clamp, parseRustF64, serverWariness, sipHash13, warinessFromNodeUuid } from "../../src/graph/wariness.js";

test("SipHash-1-3 over the UUID bytes plus 0xFF matches the four known-answer vectors", () => {
  const vectors: Array<[string, bigint, number]> = [
    ["", 3476900567878811119n, 0.18848315746051456],
    ["e0f3745b108f471cbd4883c6fbed8cdd", 12051689558367979132n, 0.6533234000651716],
    ["00000000000000000000000000000000", 5815292231040438784n, 0.31524762352660596],
    ["de35106b6ec24688b63afddaa156679b", 3705905510303986210n, 0.2008975402648792],
  ];
  for (const [uuid, digest, wariness] of vectors) {
    assert.equal(sipHash13(Buffer.from([...Buffer.from(uuid), 0xff]), 0n, 0n), digest, uuid);
    assert.equal(warinessFromNodeUuid(uuid), wariness, uuid);
  }
  assert.equal(warinessFromNodeUuid(""), ANONYMOUS_WARINESS);
});

test("SipHash handles messages of every tail length (0 to 16 bytes)", () => {
  const seen = new Set<bigint>();
  for (let n = 0; n <= 16; n++) seen.add(sipHash13(new Uint8Array(n).fill(0x61), 0n, 0n));
  assert.equal(seen.size, 17);
});

test("clamp keeps NaN, like Rust's f64::clamp", () => {
  assert.equal(clamp(1.5, 0, 1), 1);
  assert.equal(clamp(-0.2, 0, 1), 0);
  assert.equal(clamp(0.5, 0, 1), 0.5);
  assert.ok(Number.isNaN(clamp(NaN, 0, 1)));
});

test("the server's wariness: an explicit value parsed like Rust's f64, else the UUID's hash", () => {
  const uuid = "e0f3745b108f471cbd4883c6fbed8cdd";
  const cases: Array<[string | undefined, number]> = [
    ["0.5", 0.5],
    ["0.500000", 0.5],
    ["+0.5", 0.5],
    ["1e-3", 0.001],
    [".5", 0.5],
    ["5.", 1],
    ["inf", 1],
    ["-Infinity", 0],
    ["-0.2", 0],
    ["1.5", 1],
    ["", 0.6533234000651716],
    [" 0.5", 0.6533234000651716],
    ["abc", 0.6533234000651716],
    ["0x1", 0.6533234000651716],
    [undefined, 0.6533234000651716],
  ];
  for (const [explicit, expected] of cases) assert.equal(serverWariness(explicit, uuid), expected, String(explicit));
  assert.ok(Number.isNaN(serverWariness("NaN", uuid)));
  assert.equal(serverWariness(undefined, undefined), ANONYMOUS_WARINESS);
  assert.equal(parseRustF64("e5"), undefined);
  assert.equal(parseRustF64("."), undefined);
});
