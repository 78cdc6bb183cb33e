import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CONFIG_DIRS, defaultSettings, loadConfig } from "../../src/config/index.js";
import { AgentError } from "../../src/errors.js";
import { ETC, makeRoot, problemLines, RUN, USR, warningLines, type Entry } from "./helpers.js";

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`../fixtures/zincati/${name}`, import.meta.url)), "utf8");
const ZINCATI_DIST = ["10-agent.toml", "10-auto-updates.toml", "10-identity.toml", "30-updates-strategy.toml", "50-fedora-coreos-cincinnati.toml"];
const SHIPPED_DIR = fileURLToPath(new URL("../../config.d/", import.meta.url));

function zincatiDist(): Record<string, Entry> {
  return Object.fromEntries(ZINCATI_DIST.map((name) => [`${USR}/${name}`, fixture(`dist/config.d/${name}`)]));
}

async function rejection(promise: Promise<unknown>): Promise<AgentError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof AgentError);
    return e;
  }
  assert.fail("expected the configuration to be rejected");
}

describe("Zincati's fragments load unchanged", () => {
  test("00-config-sample.toml, which uses every Zincati key", async () => {
    const root = makeRoot({ [`${ETC}/00-config-sample.toml`]: fixture("00-config-sample.toml") });
    const file = join(root, ETC, "00-config-sample.toml");
    const config = await loadConfig({ root });
    const { settings } = config;
    assert.equal(settings.agent.timing.steady_interval_secs, 35);
    assert.deepEqual(settings.identity, { group: "workers", node_uuid: "27e3ac02af3946af995c9940e18b0cce", rollout_wariness: 0.5 });
    assert.equal(settings.cincinnati.base_url, "http://cincinnati.example.com:80/");
    assert.equal(settings.updates.allow_downgrade, true);
    assert.equal(settings.updates.enabled, false);
    assert.equal(settings.updates.strategy, "fleet_lock");
    assert.equal(settings.updates.fleet_lock.base_url, "http://fleet-lock.example.com:8080/");
    assert.equal(settings.updates.periodic.time_zone, "localtime");
    assert.deepEqual(settings.updates.periodic.window, [
      { kind: "weekly", days: ["sat", "sun"], start_time: "23:00", length_minutes: 120 },
      { kind: "weekly", days: ["wed"], start_time: "23:30", length_minutes: 25 },
    ]);
    assert.equal(config.sources["updates.strategy"], file);
    assert.equal(config.sources["updates.periodic.window[1]"], file);
    assert.deepEqual(config.fragments, [file]);
    // Zincati silently ignores windows with fleet_lock; we say so.
    assert.deepEqual(warningLines(config), [
      `${file}: updates.periodic.window: has no effect unless updates.strategy is "periodic", or a lock strategy with updates.lock_only_in_windows = true`,
    ]);
  });

  test("31-periodic-sample-non-utc.toml", async () => {
    const root = makeRoot({ [`${ETC}/31-periodic-sample-non-utc.toml`]: fixture("31-periodic-sample-non-utc.toml") });
    const config = await loadConfig({ root });
    assert.equal(config.settings.updates.strategy, "periodic");
    assert.equal(config.settings.updates.periodic.time_zone, "localtime");
    assert.deepEqual(config.settings.updates.periodic.window, [{ kind: "weekly", days: ["wed"], start_time: "23:00", length_minutes: 30 }]);
    assert.deepEqual(config.warnings, []);
  });

  test("Zincati's shipped defaults (dist/config.d) give our defaults", async () => {
    const config = await loadConfig({ root: makeRoot(zincatiDist()) });
    assert.deepEqual(config.settings, defaultSettings());
    assert.deepEqual(config.warnings, []);
    assert.equal(config.fragments.length, 5);
  });

  test("an admin's Zincati fragments on top of Zincati's defaults", async () => {
    const root = makeRoot({ ...zincatiDist(), [`${ETC}/55-updates-strategy.toml`]: fixture("31-periodic-sample-non-utc.toml") });
    const config = await loadConfig({ root });
    assert.equal(config.settings.updates.strategy, "periodic");
    assert.equal(config.sources["updates.strategy"], join(root, ETC, "55-updates-strategy.toml"));
    assert.equal(config.sources["updates.enabled"], join(root, USR, "10-auto-updates.toml"));
  });

  test("our shipped config.d gives the schema defaults, mirrors Zincati's set, and is warning-free", async () => {
    const names = readdirSync(SHIPPED_DIR).sort();
    assert.deepEqual(names, ["10-agent.toml", "10-auto-updates.toml", "10-identity.toml", "30-updates-strategy.toml", "40-fedora-coreos-cincinnati.toml"]);
    const root = makeRoot(Object.fromEntries(names.map((n) => [`${USR}/${n}`, readFileSync(join(SHIPPED_DIR, n), "utf8")])));
    const config = await loadConfig({ root });
    assert.deepEqual(config.settings, defaultSettings());
    assert.deepEqual(config.warnings, []);
    assert.deepEqual(config.fragments, names.map((n) => join(root, USR, n)));
    assert.equal(config.sources["cincinnati.base_url"], join(root, USR, "40-fedora-coreos-cincinnati.toml"));
  });
});

describe("directories, overrides, masks and links", () => {
  test("CONFIG_DIRS lists /usr/lib, /run, /etc, lowest priority first", () => {
    assert.deepEqual(CONFIG_DIRS, ["usr/lib/update-agent/config.d", "run/update-agent/config.d", "etc/update-agent/config.d"]);
  });

  test("an empty root gives the defaults", async () => {
    const config = await loadConfig({ root: makeRoot({}) });
    assert.deepEqual(config.settings, defaultSettings());
    assert.deepEqual(config.fragments, []);
  });

  test("same file name: /etc beats /run beats /usr/lib", async () => {
    const steady = (n: number) => `[agent.timing]\nsteady_interval_secs = ${n}`;
    const root = makeRoot({
      [`${USR}/50-a.toml`]: steady(1),
      [`${RUN}/50-a.toml`]: steady(2),
      [`${ETC}/50-a.toml`]: steady(3),
      [`${USR}/60-b.toml`]: `[updates]\nenabled = false`,
      [`${RUN}/60-b.toml`]: `[updates]\nallow_downgrade = true`,
    });
    const config = await loadConfig({ root });
    assert.equal(config.settings.agent.timing.steady_interval_secs, 3);
    // The /usr/lib 60-b.toml is replaced as a whole, not merged into.
    assert.equal(config.settings.updates.enabled, true);
    assert.equal(config.settings.updates.allow_downgrade, true);
    assert.deepEqual(config.fragments, [join(root, ETC, "50-a.toml"), join(root, RUN, "60-b.toml")]);
  });

  test("fragments apply in file-name order across directories", async () => {
    const root = makeRoot({
      [`${ETC}/10-admin.toml`]: `[identity]\ngroup = "from-etc"`,
      [`${USR}/20-vendor.toml`]: `[identity]\ngroup = "from-usr"`,
    });
    const config = await loadConfig({ root });
    assert.equal(config.settings.identity.group, "from-usr");
    assert.deepEqual(config.fragments, [join(root, ETC, "10-admin.toml"), join(root, USR, "20-vendor.toml")]);
  });

  test("a link to /dev/null masks the same-named fragment (absolute or relative)", async () => {
    const root = makeRoot({
      [`${USR}/40-fedora-coreos-cincinnati.toml`]: `[cincinnati]\nbase_url = "https://vendor.example.com/"`,
      [`${USR}/50-b.toml`]: `[updates]\nenabled = false`,
      [`${ETC}/40-fedora-coreos-cincinnati.toml`]: { link: "/dev/null" },
      [`${RUN}/50-b.toml`]: { link: "../../../dev/null" },
    });
    const config = await loadConfig({ root });
    assert.equal(config.settings.cincinnati.base_url, defaultSettings().cincinnati.base_url);
    assert.equal(config.settings.updates.enabled, true);
    assert.deepEqual(config.fragments, []);
  });

  test("links to real files are followed (Zincati ignores them); absolute targets are under the root", async () => {
    const root = makeRoot({
      "srv/shared/strategy.toml": `[updates]\nstrategy = "periodic"\n[[updates.periodic.window]]\ncron = "0 4 * * *"\nlength_minutes = 60`,
      "srv/shared/group.json": `{"identity": {"group": "linked"}}`,
      [`${ETC}/55-strategy.toml`]: { link: "/srv/shared/strategy.toml" },
      [`${ETC}/56-group.json`]: { link: "../../../srv/shared/group.json" },
    });
    const config = await loadConfig({ root });
    assert.equal(config.settings.updates.strategy, "periodic");
    assert.equal(config.settings.identity.group, "linked");
    assert.equal(config.sources["updates.strategy"], join(root, ETC, "55-strategy.toml"));
  });

  test("a dangling link is an error naming the fragment", async () => {
    const root = makeRoot({ [`${ETC}/55-gone.toml`]: { link: "/srv/nowhere.toml" } });
    const error = await rejection(loadConfig({ root }));
    assert.equal(error.code, "CONFIG_UNREADABLE");
    assert.deepEqual(problemLines(error), [
      `${join(root, ETC, "55-gone.toml")}: cannot read: dangling link: /srv/nowhere.toml (looked up as ${join(root, "srv/nowhere.toml")}) does not exist`,
    ]);
  });

  test("dotfiles are skipped silently; other files are skipped with a warning", async () => {
    const root = makeRoot({
      [`${ETC}/.55-editor-swap.toml`]: "this is not TOML",
      [`${ETC}/55-strategy.yaml`]: "updates: {strategy: periodic}",
      [`${ETC}/55-strategy.toml.rpmsave`]: "",
      [`${ETC}/subdir.toml`]: { dir: true },
      [`${ETC}/60-link-to-dir.toml`]: { link: "/srv" },
      "srv/x": "",
    });
    const config = await loadConfig({ root });
    assert.deepEqual(config.fragments, []);
    assert.deepEqual(warningLines(config).sort(), [
      `${join(root, ETC, "55-strategy.toml.rpmsave")}: ignored: only *.toml and *.json fragments are read`,
      `${join(root, ETC, "55-strategy.yaml")}: ignored: only *.toml and *.json fragments are read`,
      `${join(root, ETC, "60-link-to-dir.toml")}: ignored: not a regular file`,
    ]);
    assert.ok(config.warnings.every((w) => w.code === "CONFIG_IGNORED_FILE"));
  });

  test("an oversized fragment is refused", async () => {
    const root = makeRoot({ [`${ETC}/55-big.toml`]: `# ${"x".repeat(1024 * 1024)}\n` });
    const error = await rejection(loadConfig({ root }));
    assert.equal(error.code, "CONFIG_UNREADABLE");
    assert.match(error.describe(), /55-big\.toml: is 104857\d bytes; fragments are limited to 1048576 bytes$/);
  });

  test("an unreadable fragment is an error with a hint", { skip: process.getuid?.() === 0 ? "root reads everything" : false }, async () => {
    const root = makeRoot({ [`${ETC}/55-secret.toml`]: "" });
    chmodSync(join(root, ETC, "55-secret.toml"), 0);
    const error = await rejection(loadConfig({ root }));
    assert.equal(error.code, "CONFIG_UNREADABLE");
    assert.equal(error.describe(), `${join(root, ETC, "55-secret.toml")}: cannot read: permission denied (the agent's user needs read access to its config.d directories)`);
  });

  test("syntax errors in several files are all reported, with the file's line and column", async () => {
    const root = makeRoot({ [`${ETC}/55-a.toml`]: "[updates\n", [`${ETC}/56-b.json`]: '{"updates": }', [`${ETC}/57-c.toml`]: "[updates]\nenabled = 3" });
    const error = await rejection(loadConfig({ root }));
    assert.equal(error.code, "CONFIG_SYNTAX");
    assert.deepEqual(problemLines(error), [
      `${join(root, ETC, "55-a.toml")}:1:9: invalid TOML: illegal character in key`,
      `${join(root, ETC, "56-b.json")}:1:13: invalid JSON: Unexpected token '}'`,
      `${join(root, ETC, "57-c.toml")}: updates.enabled: expected true or false, got 3`,
    ]);
  });

  test("loading has no side effects and gives the same answer twice", async () => {
    const root = makeRoot({ [`${ETC}/55-a.toml`]: `[updates]\nstrategy = "periodic"` });
    const before = readdirSync(root, { recursive: true }).sort();
    const first = await rejection(loadConfig({ root }));
    const second = await rejection(loadConfig({ root }));
    assert.deepEqual(problemLines(first), problemLines(second));
    assert.deepEqual(readdirSync(root, { recursive: true }).sort(), before);
  });
});

describe("explicit files are validated as one set, by the same rules", () => {
  test("same name: the file in the higher-priority directory wins whatever the argument order", async () => {
    const root = makeRoot({ [`${ETC}/60-a.toml`]: `[identity]\ngroup = "etc"`, [`${USR}/60-a.toml`]: `[identity]\ngroup = "usr"` });
    const config = await loadConfig({ root, files: [join(root, ETC, "60-a.toml"), join(root, USR, "60-a.toml")] });
    assert.equal(config.settings.identity.group, "etc");
    assert.deepEqual(config.fragments, [join(root, ETC, "60-a.toml")]);
  });

  test("a draft outside the directories replaces the installed file of the same name; order is by name", async () => {
    const root = makeRoot({
      [`${ETC}/55-strategy.toml`]: `[updates]\nstrategy = "immediate"`,
      [`${ETC}/10-group.toml`]: `[identity]\ngroup = "installed"`,
      "home/admin/55-strategy.toml": `[updates]\nstrategy = "fleet_lock"`,
    });
    const draft = join(root, "home/admin/55-strategy.toml");
    const error = await rejection(loadConfig({ root, files: [draft, join(root, ETC, "55-strategy.toml"), join(root, ETC, "10-group.toml")] }));
    assert.deepEqual(problemLines(error), [`${draft}: updates.fleet_lock.base_url: is required when updates.strategy is "fleet_lock"`]);
    assert.deepEqual(error.details?.["fragments"], [join(root, ETC, "10-group.toml"), draft]);
  });

  test("a missing file or a file the agent would never read is an error", async () => {
    const root = makeRoot({ "home/admin/notes.yaml": "" });
    const error = await rejection(loadConfig({ root, files: [join(root, "home/admin/none.toml"), join(root, "home/admin/notes.yaml")] }));
    assert.deepEqual(problemLines(error), [
      `${join(root, "home/admin/notes.yaml")}: not a fragment: the agent only reads *.toml and *.json files not starting with "."`,
      `${join(root, "home/admin/none.toml")}: cannot read: no such file`,
    ]);
  });
});
