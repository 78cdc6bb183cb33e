import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { AgentError } from "../../src/errors.js";
import { assemble, problemsOf, rejectionOf } from "./helpers.js";

const FILE = "/etc/update-agent/config.d/55-strategy.toml";

/** Each row: a fragment, and exactly the lines `agentctl config validate` prints for it. */
const rows: [string, string, string[]][] = [
  [
    "the issue's example: a bad start time in the second window",
    `[[updates.periodic.window]]\ndays = ["Sat"]\nstart_time = "23:00"\nlength_minutes = 60\n` +
      `[[updates.periodic.window]]\ndays = ["Sun"]\nstart_time = "25:00"\nlength_minutes = 60\n`,
    [`${FILE}: updates.periodic.window[1].start_time: expected "HH:MM", got "25:00"`],
  ],
  ["a string where a boolean goes", `[updates]\nenabled = "yes"`, [`${FILE}: updates.enabled: expected true or false, got "yes"`]],
  [
    "zero interval (Zincati rejects it too)",
    `[agent.timing]\nsteady_interval_secs = 0`,
    [`${FILE}: agent.timing.steady_interval_secs: expected an integer from 1 to 2147483, got 0`],
  ],
  [
    "a fractional interval",
    `[agent.timing]\nsteady_interval_secs = 1.5`,
    [`${FILE}: agent.timing.steady_interval_secs: expected an integer from 1 to 2147483, got 1.5`],
  ],
  [
    "rollout wariness out of range and NaN",
    `[identity]\nrollout_wariness = 1.5`,
    [`${FILE}: identity.rollout_wariness: expected a number from 0 to 1, got 1.5`],
  ],
  ["NaN wariness", `[identity]\nrollout_wariness = nan`, [`${FILE}: identity.rollout_wariness: expected a number from 0 to 1, got nan`]],
  [
    "an unsupported strategy",
    `[updates]\nstrategy = "reboot"`,
    [`${FILE}: updates.strategy: expected one of "immediate", "periodic", "fleet_lock", "etcd_lock", got "reboot"`],
  ],
  ["a section that is not a table", `updates = 5`, [`${FILE}: updates: expected a table, got 5`]],
  [
    "a window with both schedules",
    `[[updates.periodic.window]]\ndays = ["Sat"]\nstart_time = "01:00"\ncron = "0 1 * * 6"\nlength_minutes = 60`,
    [`${FILE}: updates.periodic.window[0]: expected either days + start_time or cron, not both`],
  ],
  [
    "a window with no schedule",
    `[[updates.periodic.window]]\nlength_minutes = 60`,
    [`${FILE}: updates.periodic.window[0]: expected days + start_time (a weekly window) or cron`],
  ],
  [
    "a window without a length",
    `[[updates.periodic.window]]\ndays = ["Sat"]\nstart_time = "01:00"`,
    [`${FILE}: updates.periodic.window[0].length_minutes: is required`],
  ],
  [
    "days without a start time",
    `[[updates.periodic.window]]\ndays = ["Sat"]\nlength_minutes = 60`,
    [`${FILE}: updates.periodic.window[0].start_time: is required with days`],
  ],
  [
    "days as a string",
    `[[updates.periodic.window]]\ndays = "Sat"\nstart_time = "01:00"\nlength_minutes = 60`,
    [`${FILE}: updates.periodic.window[0].days: expected an array of weekdays, got "Sat"`],
  ],
  [
    "a misspelt day",
    `[[updates.periodic.window]]\ndays = ["Sat", "tuesady"]\nstart_time = "01:00"\nlength_minutes = 60`,
    [`${FILE}: updates.periodic.window[0].days[1]: expected a weekday (mon…sun or monday…sunday), got "tuesady"`],
  ],
  [
    "a window longer than a week",
    `[[updates.periodic.window]]\ncron = "0 1 * * *"\nlength_minutes = 10081`,
    [`${FILE}: updates.periodic.window[0].length_minutes: expected an integer from 1 to 10080, got 10081`],
  ],
  [
    "[updates.periodic.window] written as a single table",
    `[updates.periodic.window]\ndays = ["Sat"]\nstart_time = "01:00"\nlength_minutes = 60`,
    [`${FILE}: updates.periodic.window: expected an array of tables ([[updates.periodic.window]]), got a table`],
  ],
  [
    "an unquoted TOML time",
    `[[updates.periodic.window]]\ndays = ["Sat"]\nstart_time = 23:00:00\nlength_minutes = 60`,
    [`${FILE}: updates.periodic.window[0].start_time: expected a string, got 23:00:00 (a TOML date/time, not a string)`],
  ],
  [
    "a bad cron expression",
    `[[updates.periodic.window]]\ncron = "61 * * * *"\nlength_minutes = 30`,
    [`${FILE}: updates.periodic.window[0].cron: invalid cron expression "61 * * * *": Constraint error, got value 61 expected range 0-59`],
  ],
  ["a group with a space", `[identity]\ngroup = "my workers"`, [`${FILE}: identity.group: expected letters, digits, "." and "-" only, got "my workers"`]],
  [
    "an unknown time zone",
    `[updates.periodic]\ntime_zone = "Europe/Atlantis"`,
    [`${FILE}: updates.periodic.time_zone: expected "localtime" or an IANA time zone name such as "Europe/Berlin", got "Europe/Atlantis"`],
  ],
  ["an empty Cincinnati URL", `[cincinnati]\nbase_url = ""`, [`${FILE}: cincinnati.base_url: expected an http(s) URL, got ""`]],
  [
    "a FleetLock URL that does not parse, even with another strategy",
    `[updates.fleet_lock]\nbase_url = "fleet-lock.example.com"`,
    [`${FILE}: updates.fleet_lock.base_url: expected an http(s) URL, got "fleet-lock.example.com"`],
  ],
  [
    "an etcd endpoint without scheme",
    `[updates.etcd_lock]\nendpoints = ["https://etcd-0:2379", "etcd-1:2379"]`,
    [`${FILE}: updates.etcd_lock.endpoints[1]: expected an http(s) URL, got "etcd-1:2379"`],
  ],
  ["a relative CA file", `[cincinnati]\nca_file = "ca.pem"`, [`${FILE}: cincinnati.ca_file: expected an absolute path, got "ca.pem"`]],
  [
    "an unknown health action",
    `[health]\non_failure = "reboot"`,
    [`${FILE}: health.on_failure: expected one of "rollback", "hold", got "reboot"`],
  ],
  [
    "every problem of a fragment at once",
    `[agent.timing]\nsteady_interval_secs = -1\n[updates]\nenabled = 1\nstrategy = "weekly"\n` +
      `[[updates.periodic.window]]\ndays = ["Sat"]\nstart_time = "24:00"\nlength_minutes = 0`,
    [
      `${FILE}: agent.timing.steady_interval_secs: expected an integer from 1 to 2147483, got -1`,
      `${FILE}: updates.enabled: expected true or false, got 1`,
      `${FILE}: updates.strategy: expected one of "immediate", "periodic", "fleet_lock", "etcd_lock", got "weekly"`,
      `${FILE}: updates.periodic.window[0].start_time: expected "HH:MM", got "24:00"`,
      `${FILE}: updates.periodic.window[0].length_minutes: expected an integer from 1 to 10080, got 0`,
    ],
  ],
];

describe("each bad value is reported with its file, key path and what was expected", () => {
  for (const [name, text, want] of rows) {
    test(name, () => assert.deepEqual(problemsOf(() => assemble([[FILE, text]])), want));
  }
});

describe("errors a user sees", () => {
  test("a near-miss strategy gets a did-you-mean hint", () => {
    const e = rejectionOf(() => assemble([[FILE, `[updates]\nstrategy = "fleet-lock"\n[updates.fleet_lock]\nbase_url = "https://fl/"`]]));
    assert.equal(e.code, "CONFIG_INVALID");
    assert.equal(e.hint, 'did you mean "fleet_lock"?');
    assert.equal(e.describe(), `${FILE}: updates.strategy: expected one of "immediate", "periodic", "fleet_lock", "etcd_lock", got "fleet-lock" (did you mean "fleet_lock"?)`);
  });

  test("problems in several fragments come in one error, in application order", () => {
    const first = "/usr/lib/update-agent/config.d/20-a.toml";
    const second = "/etc/update-agent/config.d/60-b.json";
    const e = rejectionOf(() =>
      assemble([
        [first, `[updates]\nenabled = "no"`],
        [second, `{"identity": {"rollout_wariness": -0.5}}`],
      ]),
    );
    assert.equal(e.code, "CONFIG_INVALID");
    assert.match(e.message, /^2 configuration problems: /);
    assert.equal(e.where, undefined);
    const problems = e.details?.["problems"] as AgentError[];
    assert.deepEqual(
      problems.map((p) => p.where),
      [`${first}: updates.enabled`, `${second}: identity.rollout_wariness`],
    );
  });

  test("a syntax error outranks value errors in the error's code", () => {
    const e = rejectionOf(() =>
      assemble([
        ["/etc/update-agent/config.d/10-a.toml", `[updates]\nenabled = "no"`],
        ["/etc/update-agent/config.d/20-b.toml", `[updates\n`],
      ]),
    );
    assert.equal(e.code, "CONFIG_SYNTAX");
  });
});
