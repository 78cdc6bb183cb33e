import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { main } from "../../src/cli/main.js";
import { ETC, makeRoot, USR } from "./helpers.js";

async function agentctl(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: {} });
  return { code, stdout, stderr };
}

const PERIODIC = `[updates]\nstrategy = "periodic"\n[[updates.periodic.window]]\ndays = ["Sat"]\nstart_time = "1:00"\nlength_minutes = 60\n`;

describe("agentctl config show", () => {
  test("prints every setting with its source, and warnings", async () => {
    const root = makeRoot({
      [`${USR}/10-agent.toml`]: `[agent.timing]\nsteady_interval_secs = 300`,
      [`${ETC}/55-strategy.toml`]: `${PERIODIC}\n[updates.periodic]\ntime_zon = "UTC"`,
    });
    const { code, stdout, stderr } = await agentctl("--root", root, "config", "show");
    assert.equal(code, 0);
    assert.equal(stderr, "");
    const etc = join(root, ETC, "55-strategy.toml");
    const lines = stdout.split("\n");
    assert.deepEqual(lines.slice(0, 3), ["# 2 fragments applied, in order:", `#   ${join(root, USR, "10-agent.toml")}`, `#   ${etc}`]);
    const line = (prefix: string) => lines.find((l) => l.startsWith(prefix))?.replace(/ {2,}/, "  ");
    assert.equal(line("agent.timing.steady_interval_secs "), `agent.timing.steady_interval_secs = 300  # ${join(root, USR, "10-agent.toml")}`);
    assert.equal(line("agent.timing.retry_interval_secs "), "agent.timing.retry_interval_secs = 300  # default");
    assert.equal(line("updates.strategy "), `updates.strategy = "periodic"  # ${etc}`);
    assert.equal(line("identity.node_uuid "), "identity.node_uuid = (unset)  # default");
    assert.equal(
      line("updates.periodic.window[0] "),
      `updates.periodic.window[0] = { days = ["sat"], start_time = "01:00", length_minutes = 60 }  # ${etc}`,
    );
    assert.equal(lines.at(-2), `warning: ${etc}: updates.periodic.time_zon: unknown key, ignored (did you mean updates.periodic.time_zone?)`);
  });

  test("--json gives settings, sources, fragments and warnings", async () => {
    const root = makeRoot({ [`${ETC}/55-strategy.toml`]: `${PERIODIC}bogus = 1\n` });
    const { code, stdout } = await agentctl("--root", root, "config", "show", "--json");
    assert.equal(code, 0);
    const body = JSON.parse(stdout);
    const etc = join(root, ETC, "55-strategy.toml");
    assert.equal(body.format_version, 1);
    assert.equal(body.settings.updates.strategy, "periodic");
    assert.deepEqual(body.settings.updates.periodic.window, [{ kind: "weekly", days: ["sat"], start_time: "01:00", length_minutes: 60 }]);
    assert.equal(body.sources["updates.periodic.window[0]"], etc);
    assert.equal(body.sources["health.enabled"], "default");
    assert.deepEqual(body.fragments, [etc]);
    assert.deepEqual(body.warnings, [
      { code: "CONFIG_UNKNOWN_KEY", message: "unknown key, ignored", where: `${etc}: updates.periodic.window[0].bogus`, details: { file: etc, key: "updates.periodic.window[0].bogus" } },
    ]);
  });

  test("an invalid configuration prints its problems and exits 1", async () => {
    const root = makeRoot({ [`${ETC}/55-strategy.toml`]: `[updates]\nstrategy = "periodic"` });
    const { code, stdout, stderr } = await agentctl("--root", root, "config", "show");
    assert.equal(code, 1);
    assert.equal(stdout, "");
    assert.equal(
      stderr,
      `${join(root, ETC, "55-strategy.toml")}: updates.periodic.window: needs at least one window with days or a cron schedule when updates.strategy is "periodic"\n`,
    );
  });
});

describe("agentctl config validate", () => {
  test("valid: exit 0, warnings on stderr", async () => {
    const root = makeRoot({ [`${ETC}/55-strategy.toml`]: `${PERIODIC}[identity]\ngruop = "x"\n` });
    const { code, stdout, stderr } = await agentctl("--root", root, "config", "validate");
    assert.equal(code, 0);
    assert.equal(stdout, "configuration is valid (1 fragment)\n");
    assert.equal(stderr, `warning: ${join(root, ETC, "55-strategy.toml")}: identity.gruop: unknown key, ignored (did you mean identity.group?)\n`);
  });

  test("invalid: exit 1, one PATH: KEY: MESSAGE line per problem", async () => {
    const root = makeRoot({
      [`${ETC}/55-strategy.toml`]: `[updates]\nstrategy = "periodic"\n[[updates.periodic.window]]\ndays = ["Sat"]\nstart_time = "25:00"\nlength_minutes = 60\n`,
      [`${ETC}/60-id.json`]: `{"identity": {"rollout_wariness": 2}}`,
    });
    const { code, stdout, stderr } = await agentctl("--root", root, "config", "validate");
    assert.equal(code, 1);
    assert.equal(stdout, "");
    assert.deepEqual(stderr.split("\n"), [
      `${join(root, ETC, "55-strategy.toml")}: updates.periodic.window[0].start_time: expected "HH:MM", got "25:00"`,
      `${join(root, ETC, "60-id.json")}: identity.rollout_wariness: expected a number from 0 to 1, got 2`,
      "",
    ]);
  });

  test("PATHs are validated as a set, without the installed fragments", async () => {
    const root = makeRoot({
      [`${ETC}/10-broken.toml`]: "[[[",
      "drafts/55-strategy.toml": PERIODIC,
      "drafts/56-tz.toml": `[updates.periodic]\ntime_zone = "Europe/Berlin"`,
    });
    const ok = await agentctl("--root", root, "config", "validate", join(root, "drafts/56-tz.toml"), join(root, "drafts/55-strategy.toml"));
    assert.deepEqual(ok, { code: 0, stdout: "configuration is valid (2 fragments)\n", stderr: "" });
    const json = await agentctl("config", "validate", "--json", join(root, ETC, "10-broken.toml"));
    assert.equal(json.code, 1);
    const body = JSON.parse(json.stdout);
    assert.equal(body.valid, false);
    assert.deepEqual(body.problems.map((p: { code: string; where: string }) => [p.code, p.where]), [
      ["CONFIG_SYNTAX", `${join(root, ETC, "10-broken.toml")}:1:3`],
    ]);
  });

  test("usage errors exit 2", async () => {
    assert.equal((await agentctl("config")).code, 2);
    assert.equal((await agentctl("config", "edit")).code, 2);
    assert.equal((await agentctl("config", "show", "--yaml")).code, 2);
    assert.equal((await agentctl("config", "show", "/etc/x.toml")).code, 2);
  });
});
