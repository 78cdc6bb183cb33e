import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { defaultSettings } from "../../src/config/index.js";
import { assemble, problemsOf, warningLines } from "./helpers.js";

const A = "/usr/lib/update-agent/config.d/10-a.toml";
const B = "/etc/update-agent/config.d/55-b.toml";
const C = "/run/update-agent/config.d/60-c.json";

describe("merging fragments", () => {
  test("no fragment: every setting is its default, from 'default'", () => {
    const config = assemble([]);
    assert.deepEqual(config.settings, defaultSettings());
    assert.equal(config.sources["updates.strategy"], "default");
    assert.equal(config.sources["identity.node_uuid"], "default");
    assert.equal(config.sources["updates.periodic.window"], "default");
    assert.deepEqual(config.fragments, []);
    assert.deepEqual(config.warnings, []);
  });

  test("scalars: the last fragment that sets a key wins, and is named as its source", () => {
    const config = assemble([
      [A, `[agent.timing]\nsteady_interval_secs = 100\n[updates]\nenabled = false`],
      [B, `[agent.timing]\nsteady_interval_secs = 200`],
      [C, `{"agent": {"log_format": "json"}}`],
    ]);
    assert.equal(config.settings.agent.timing.steady_interval_secs, 200);
    assert.equal(config.sources["agent.timing.steady_interval_secs"], B);
    assert.equal(config.settings.updates.enabled, false);
    assert.equal(config.sources["updates.enabled"], A);
    assert.equal(config.settings.agent.log_format, "json");
    assert.equal(config.sources["agent.log_format"], C);
    assert.deepEqual(config.fragments, [A, B, C]);
  });

  test("windows accumulate across fragments, each with its own source", () => {
    const config = assemble([
      [A, `[[updates.periodic.window]]\ndays = ["Sat", "Sun"]\nstart_time = "1:00"\nlength_minutes = 60`],
      [B, `[[updates.periodic.window]]\ndays = []\nstart_time = "02:00"\nlength_minutes = 5`],
      [C, `{"updates": {"periodic": {"window": [{"cron": "0 3 * * 1-5", "length_minutes": 30}]}}}`],
    ]);
    assert.deepEqual(config.settings.updates.periodic.window, [
      { kind: "weekly", days: ["sat", "sun"], start_time: "01:00", length_minutes: 60 },
      { kind: "weekly", days: [], start_time: "02:00", length_minutes: 5 },
      { kind: "cron", cron: "0 3 * * 1-5", length_minutes: 30 },
    ]);
    assert.equal(config.sources["updates.periodic.window[0]"], A);
    assert.equal(config.sources["updates.periodic.window[1]"], B);
    assert.equal(config.sources["updates.periodic.window[2]"], C);
    assert.equal(config.sources["updates.periodic.window"], C);
  });

  test('Zincati\'s "" values: strategy → immediate, group → default, node_uuid → derived', () => {
    const config = assemble([
      [A, `[identity]\ngroup = "workers"\nnode_uuid = "27E3AC02-AF39-46AF-995C-9940E18B0CCE"\n[updates]\nstrategy = "periodic"`],
      [B, `[identity]\ngroup = ""\nnode_uuid = ""\n[updates]\nstrategy = ""`],
    ]);
    assert.equal(config.settings.identity.group, "default");
    assert.equal(config.settings.identity.node_uuid, undefined);
    assert.equal(config.settings.updates.strategy, "immediate");
    assert.equal(config.sources["identity.group"], B);
  });

  test("values are normalized: UUID to lower-case hex, days to week order, tuesday accepted", () => {
    const config = assemble([
      [A, `[identity]\nnode_uuid = "27E3AC02-AF39-46AF-995C-9940E18B0CCE"\n` +
        `[[updates.periodic.window]]\ndays = ["Sunday", "tuesday", "TUE"]\nstart_time = "7:5"\nlength_minutes = 1`],
    ]);
    assert.equal(config.settings.identity.node_uuid, "27e3ac02af3946af995c9940e18b0cce");
    assert.deepEqual(config.settings.updates.periodic.window, [
      { kind: "weekly", days: ["tue", "sun"], start_time: "07:05", length_minutes: 1 },
    ]);
  });
});

describe("rules across keys name the fragment that made them apply", () => {
  const rows: [string, [string, string][], string[]][] = [
    [
      "fleet_lock needs its URL",
      [[B, `[updates]\nstrategy = "fleet_lock"`]],
      [`${B}: updates.fleet_lock.base_url: is required when updates.strategy is "fleet_lock"`],
    ],
    [
      'fleet_lock with base_url = "" (Zincati: empty fleet_lock base URL)',
      [[A, `[updates.fleet_lock]\nbase_url = "https://fl/"`], [B, `[updates]\nstrategy = "fleet_lock"\nfleet_lock.base_url = ""`]],
      [`${B}: updates.fleet_lock.base_url: is required when updates.strategy is "fleet_lock"`],
    ],
    [
      "etcd_lock needs endpoints",
      [[B, `[updates]\nstrategy = "etcd_lock"`]],
      [`${B}: updates.etcd_lock.endpoints: needs at least one http(s) URL when updates.strategy is "etcd_lock"`],
    ],
    [
      "periodic needs a window",
      [[A, `[updates]\nstrategy = "periodic"`]],
      [`${A}: updates.periodic.window: needs at least one window with days or a cron schedule when updates.strategy is "periodic"`],
    ],
    [
      "periodic with only empty-day windows has no schedule (Zincati: weekly calendar length is zero)",
      [[A, `[updates]\nstrategy = "periodic"\n[[updates.periodic.window]]\ndays = []\nstart_time = "01:00"\nlength_minutes = 60`]],
      [`${A}: updates.periodic.window: needs at least one window with days or a cron schedule when updates.strategy is "periodic"`],
    ],
    [
      "lock_only_in_windows needs a window",
      [[B, `[updates]\nstrategy = "etcd_lock"\nlock_only_in_windows = true\netcd_lock.endpoints = ["http://127.0.0.1:2379"]`]],
      [`${B}: updates.periodic.window: needs at least one window with days or a cron schedule when updates.lock_only_in_windows is true`],
    ],
    [
      "a client certificate needs its key",
      [[B, `[updates.etcd_lock]\ncert_file = "/etc/pki/agent.crt"`]],
      [`${B}: updates.etcd_lock.key_file: is required with updates.etcd_lock.cert_file`],
    ],
    [
      "a key needs its certificate",
      [[B, `[updates.etcd_lock]\nkey_file = "/etc/pki/agent.key"`]],
      [`${B}: updates.etcd_lock.cert_file: is required with updates.etcd_lock.key_file`],
    ],
    [
      "a user name needs a password file",
      [[B, `[updates.etcd_lock]\nusername = "agent"`]],
      [`${B}: updates.etcd_lock.password_file: is required with updates.etcd_lock.username`],
    ],
    [
      "a bad window is reported once, not again as a missing window",
      [[A, `[updates]\nstrategy = "periodic"\n[[updates.periodic.window]]\ndays = ["Sat"]\nstart_time = "1:60"\nlength_minutes = 60`]],
      [`${A}: updates.periodic.window[0].start_time: expected "HH:MM", got "1:60"`],
    ],
  ];
  for (const [name, fragments, want] of rows) test(name, () => assert.deepEqual(problemsOf(() => assemble(fragments)), want));

  test("the rule is satisfied by values from other fragments", () => {
    const config = assemble([
      [A, `[updates.fleet_lock]\nbase_url = "https://fleet-lock.example.com/"`],
      [B, `[updates]\nstrategy = "fleet_lock"`],
    ]);
    assert.equal(config.settings.updates.strategy, "fleet_lock");
    assert.equal(config.settings.updates.fleet_lock.base_url, "https://fleet-lock.example.com/");
  });
});

describe("warnings: unknown keys and settings without effect name file and key", () => {
  test("unknown keys are ignored with a warning and a suggestion", () => {
    const config = assemble([
      [B, `[updates]\ntime_zone = "UTC"\nstratgy = "periodic"\n[[updates.fleet_lock.window]]\ndays = ["Sat"]\n[drogue]\nenabled = true`],
    ]);
    assert.deepEqual(warningLines(config), [
      `${B}: updates.fleet_lock.window: unknown key, ignored`,
      `${B}: updates.time_zone: unknown key, ignored`,
      `${B}: updates.stratgy: unknown key, ignored`,
      `${B}: drogue: unknown key, ignored`,
    ]);
    assert.deepEqual(
      config.warnings.map((w) => [w.code, w.hint]),
      [
        ["CONFIG_UNKNOWN_KEY", "reboot windows for fleet_lock and etcd_lock are [[updates.periodic.window]] entries with updates.lock_only_in_windows = true"],
        ["CONFIG_UNKNOWN_KEY", "did you mean updates.periodic.time_zone?"],
        ["CONFIG_UNKNOWN_KEY", "did you mean updates.strategy?"],
        ["CONFIG_UNKNOWN_KEY", undefined],
      ],
    );
    assert.equal(config.settings.updates.strategy, "immediate");
  });

  test("an unknown key inside a window does not drop the window", () => {
    const config = assemble([[A, `[[updates.periodic.window]]\ndays = ["Sat"]\nstart_time = "1:00"\nlength_minutes = 9\nlenght = 3`]]);
    assert.deepEqual(warningLines(config), [
      `${A}: updates.periodic.window[0].lenght: unknown key, ignored`,
      `${A}: updates.periodic.window: has no effect unless updates.strategy is "periodic", or a lock strategy with updates.lock_only_in_windows = true`,
    ]);
    assert.equal(config.settings.updates.periodic.window.length, 1);
  });

  test("lock_only_in_windows without a lock strategy", () => {
    const config = assemble([
      [A, `[updates]\nlock_only_in_windows = true\n[[updates.periodic.window]]\ncron = "0 1 * * *"\nlength_minutes = 60`],
    ]);
    assert.deepEqual(warningLines(config), [
      `${A}: updates.lock_only_in_windows: has no effect unless updates.strategy is "fleet_lock" or "etcd_lock"`,
      `${A}: updates.periodic.window: has no effect unless updates.strategy is "periodic", or a lock strategy with updates.lock_only_in_windows = true`,
    ]);
    assert.equal(config.warnings[0]?.code, "CONFIG_NO_EFFECT");
  });

  test("windows with a lock strategy and lock_only_in_windows are used, so no warning", () => {
    const config = assemble([
      [A, `[updates]\nstrategy = "fleet_lock"\nlock_only_in_windows = true\nfleet_lock.base_url = "http://fl/"\n` +
        `[[updates.periodic.window]]\ndays = ["Sat"]\nstart_time = "01:00"\nlength_minutes = 60`],
    ]);
    assert.deepEqual(config.warnings, []);
    assert.equal(config.settings.updates.lock_only_in_windows, true);
  });
});
