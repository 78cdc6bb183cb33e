import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  closestName,
  parseBaseUrl,
  parseCron,
  parseGroup,
  parseLoopbackListen,
  parseNodeUuid,
  parseStartTime,
  parseTimeZone,
  parseWeekday,
  showValue,
  sortWeekdays,
  type Parsed,
} from "../../src/config/values.js";

/** Table rows: input → normalized value, or the exact message. */
function table<T>(parse: (s: string) => Parsed<T>, rows: [string, { value: T } | { message: string }][]) {
  for (const [input, want] of rows) {
    test(JSON.stringify(input), () => {
      const got = parse(input);
      if ("value" in want) assert.deepEqual(got, { ok: true, value: want.value });
      else {
        assert.equal(got.ok, false);
        assert.equal(got.ok ? "" : got.message, want.message);
      }
    });
  }
}

describe("start_time follows Zincati's rules and is normalized to HH:MM", () => {
  table(parseStartTime, [
    ["23:00", { value: "23:00" }],
    ["7:05", { value: "07:05" }],
    ["07:5", { value: "07:05" }],
    ["0:0", { value: "00:00" }],
    ["25:00", { message: 'expected "HH:MM", got "25:00"' }],
    ["23:60", { message: 'expected "HH:MM", got "23:60"' }],
    ["-00:00", { message: 'expected "HH:MM", got "-00:00"' }],
    ["12", { message: 'expected "HH:MM", got "12"' }],
    ["12:00:00", { message: 'expected "HH:MM", got "12:00:00"' }],
    [" 1:00", { message: 'expected "HH:MM", got " 1:00"' }],
  ]);
});

describe("weekdays: short and long names in any case, tuesday included (Zincati rejects it)", () => {
  table(parseWeekday, [
    ["Sat", { value: "sat" }],
    ["sunday", { value: "sun" }],
    ["tuesday", { value: "tue" }],
    ["TUE", { value: "tue" }],
    ["Wednesday", { value: "wed" }],
    ["tuesady", { message: 'expected a weekday (mon…sun or monday…sunday), got "tuesady"' }],
    ["", { message: 'expected a weekday (mon…sun or monday…sunday), got ""' }],
  ]);
  test("a window's days come out unique and in week order", () => {
    assert.deepEqual(sortWeekdays(["sun", "sat", "sun", "mon"]), ["mon", "sat", "sun"]);
  });
});

describe("identity.node_uuid: 32 hex digits or a UUID, sent as lower-case hex; \"\" means derive it", () => {
  table(parseNodeUuid, [
    ["27e3ac02af3946af995c9940e18b0cce", { value: "27e3ac02af3946af995c9940e18b0cce" }],
    ["27E3AC02-AF39-46AF-995C-9940E18B0CCE", { value: "27e3ac02af3946af995c9940e18b0cce" }],
    ["", { value: undefined }],
    ["27e3ac02af3946af995c9940e18b0cc", { message: 'expected 32 hex digits or a UUID, got "27e3ac02af3946af995c9940e18b0cc"' }],
    ["27e3ac02-af3946af995c9940e18b0cce", { message: 'expected 32 hex digits or a UUID, got "27e3ac02-af3946af995c9940e18b0cce"' }],
  ]);
});

describe("identity.group: Zincati's character set; \"\" means the default group", () => {
  table(parseGroup, [
    ["workers", { value: "workers" }],
    ["db.eu-1", { value: "db.eu-1" }],
    ["", { value: "default" }],
    ["my group", { message: 'expected letters, digits, "." and "-" only, got "my group"' }],
    ["a/b", { message: 'expected letters, digits, "." and "-" only, got "a/b"' }],
  ]);
});

describe("updates.periodic.time_zone", () => {
  table(parseTimeZone, [
    ["UTC", { value: "UTC" }],
    ["localtime", { value: "localtime" }],
    ["Europe/Berlin", { value: "Europe/Berlin" }],
    [
      "Mars/Olympus",
      { message: 'expected "localtime" or an IANA time zone name such as "Europe/Berlin", got "Mars/Olympus"' },
    ],
  ]);
});

describe("cron windows: five fields, checked by cron-parser", () => {
  table(parseCron, [
    ["0 3 * * sat", { value: "0 3 * * sat" }],
    ["  */15   1-5 * * *  ", { value: "*/15 1-5 * * *" }],
    ["0 0 3 * * *", { message: 'expected a 5-field cron expression (minute hour day-of-month month day-of-week), got "0 0 3 * * *"' }],
    ["@daily", { message: 'expected a 5-field cron expression (minute hour day-of-month month day-of-week), got "@daily"' }],
    ["0 25 * * *", { message: 'invalid cron expression "0 25 * * *": Constraint error, got value 25 expected range 0-23' }],
  ]);
});

describe("base URLs are templated with placeholders, then must parse as http(s)", () => {
  table(parseBaseUrl, [
    ["https://updates.coreos.fedoraproject.org", { value: "https://updates.coreos.fedoraproject.org" }],
    ["http://${stream}.example.com/${basearch}/", { value: "http://${stream}.example.com/${basearch}/" }],
    ["updates.example.com", { message: 'expected an http(s) URL, got "updates.example.com"' }],
    ["ftp://example.com/", { message: 'expected an http(s) URL, got "ftp://example.com/"' }],
    ["", { message: 'expected an http(s) URL, got ""' }],
    ["https://example.com/${arch}/", { message: 'unknown template variable ${arch} in "https://example.com/${arch}/"' }],
  ]);
});

describe("metrics.listen only on loopback", () => {
  const expected = '("127.0.0.1:9100", "[::1]:9100" or "localhost:9100")';
  table(parseLoopbackListen, [
    ["127.0.0.1:9100", { value: "127.0.0.1:9100" }],
    ["[::1]:9100", { value: "[::1]:9100" }],
    ["localhost:9100", { value: "localhost:9100" }],
    ["", { value: undefined }],
    ["0.0.0.0:9100", { message: `expected a loopback address and port ${expected}, got "0.0.0.0:9100"` }],
    ["192.168.1.5:9100", { message: `expected a loopback address and port ${expected}, got "192.168.1.5:9100"` }],
    ["127.0.0.1:0", { message: `expected a loopback address and port ${expected}, got "127.0.0.1:0"` }],
    ["127.0.0.1:70000", { message: `expected a loopback address and port ${expected}, got "127.0.0.1:70000"` }],
    ["127.300.0.1:9100", { message: `expected a loopback address and port ${expected}, got "127.300.0.1:9100"` }],
  ]);
});

describe("messages show values as the admin wrote them", () => {
  const rows: [unknown, string][] = [
    ["25:00", '"25:00"'],
    [NaN, "nan"],
    [Infinity, "inf"],
    [-Infinity, "-inf"],
    [true, "true"],
    [[1], "an array"],
    [{}, "a table"],
    [null, "null"],
  ];
  for (const [value, shown] of rows) test(shown, () => assert.equal(showValue(value), shown));
});

describe("did-you-mean suggestions", () => {
  const rows: [string, string[], string | undefined][] = [
    ["fleet-lock", ["immediate", "fleet_lock"], "fleet_lock"],
    ["periodc", ["immediate", "periodic"], "periodic"],
    ["time_zon", ["time_zone", "window"], "time_zone"],
    ["completely_different", ["time_zone", "window"], undefined],
  ];
  for (const [input, candidates, want] of rows) test(input, () => assert.equal(closestName(input, candidates), want));
});
