import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../src/cli/main.js";
import { reply, startHttpServer } from "../helpers/http-server.js";

const EXAMPLE = "tests/fixtures/cincinnati/fcos-example-graph.json";
const START = 1591279200; // the example's rollout start

async function agentctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: {} });
  return { code, stdout, stderr };
}

interface PlanJson {
  booted: { version: string; payload: string; deadend: boolean; deadend_reason: string | null };
  target: { version: string; payload: string; age_index: number } | null;
  throttling: { wariness: number; wariness_source: string; now: number } | null;
  candidates: Array<{ version: string; payload: string; age_index: number | null; verdict: string; reason: string }>;
}

async function planJson(...args: string[]): Promise<PlanJson> {
  const result = await agentctl("plan", "--json", ...args);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as PlanJson;
}

test("the demo: booted on 32.20200517.1.0, the example graph offers 32.20200601.1.1", async () => {
  const { code, stdout, stderr } = await agentctl("plan", "--graph", EXAMPLE, "--booted", "32.20200517.1.0");
  assert.equal(code, 0, stderr);
  assert.equal(
    stdout,
    [
      `Graph:    ${EXAMPLE} (3 releases, 2 edges)`,
      "Booted:   32.20200517.1.0 (age index 0, payload 7c23c4735fb3c541586f0a4d3ca956ef93ef7d76f00a19bccf51460bafa7ee97)",
      "Rollout:  not evaluated: 1 candidate carries rollout metadata; give --wariness or --now to apply it as the server would",
      "Decision: update to 32.20200601.1.1 (age index 2)",
      "",
      "  VERDICT  VERSION          AGE  PAYLOAD       REASON",
      "  chosen   32.20200601.1.1    2  08040bebbab8  the only eligible release",
      "",
    ].join("\n"),
  );
});

test("--json keeps the documented field names", async () => {
  const plan = await planJson("--graph", EXAMPLE, "--booted", "7c23c4735fb3c541586f0a4d3ca956ef93ef7d76f00a19bccf51460bafa7ee97");
  assert.deepEqual(plan.booted, {
    version: "32.20200517.1.0",
    payload: "7c23c4735fb3c541586f0a4d3ca956ef93ef7d76f00a19bccf51460bafa7ee97",
    age_index: 0,
    deadend: false,
    deadend_reason: null,
  });
  assert.deepEqual(plan.target, { version: "32.20200601.1.1", payload: "08040bebbab87a3343a281f94bb68010df618eb6ce6ac3d4230d2595959b5da1", age_index: 2 });
  assert.equal(plan.throttling, null);
  assert.deepEqual(Object.keys(plan.candidates[0]!), ["version", "payload", "age_index", "verdict", "reason", "rollout"]);
});

test("--now alone throttles with the anonymous wariness and says so; --wariness sets it", async () => {
  const early = await planJson("--graph", EXAMPLE, "--booted", "32.20200517.1.0", "--now", "2020-06-04T20:00:00Z");
  assert.equal(early.target, null);
  assert.deepEqual(early.throttling, { wariness: 0.18848315746051456, wariness_source: "anonymous", now: START + 6 * 3600, now_iso: "2020-06-04T20:00:00Z" });
  assert.equal(early.candidates[0]!.verdict, "throttled");
  const later = await planJson("--graph", EXAMPLE, "--booted", "32.20200517.1.0", "--now", String(START + 10 * 3600));
  assert.equal(later.target?.version, "32.20200601.1.1");
  const wary = await planJson("--graph", EXAMPLE, "--booted", "32.20200517.1.0", "--now", "2020-06-05T14:00:00+00:00", "--wariness", "0.6");
  assert.equal(wary.candidates[0]!.verdict, "throttled");
  assert.match(wary.candidates[0]!.reason, /0\.5 of the fleet served now, wariness 0\.6 served from 2020-06-05T18:48:00Z/);

  const text = await agentctl("plan", "--graph", EXAMPLE, "--booted", "32.20200517.1.0", "--now", "2020-06-04T20:00:00Z");
  assert.match(text.stdout, /Rollout: {2}evaluated at 2020-06-04T20:00:00Z for wariness 0\.18848315746051456 \(no --wariness given/);
  assert.match(text.stdout, /throttled {2}32\.20200601\.1\.1/);
});

test("downgrades are shown and refused unless --allow-downgrade; --denylist takes payloads or versions", async () => {
  const graph = "tests/fixtures/zincati/cincinnati-graph-downgrade.json";
  const refused = await planJson("--graph", graph, "--booted", "sha-mock");
  assert.equal(refused.target, null);
  assert.equal(refused.candidates[0]!.verdict, "downgrade");
  const allowed = await planJson("--graph", graph, "--booted", "0.0.0-mock", "--allow-downgrade");
  assert.equal(allowed.target?.version, "30.20190725.0");
  const byVersion = await planJson("--graph", graph, "--booted", "sha-mock", "--allow-downgrade", "--denylist", "30.20190725.0");
  assert.equal(byVersion.candidates[0]!.verdict, "denylisted");
  const byPayload = await planJson("--graph", graph, "--booted", "sha-mock", "--allow-downgrade", "--denylist", "x,8b79877efa7ac06becd8637d95f8ca83aa385f89f383288bf3c2c31ca53216c7");
  assert.equal(byPayload.candidates[0]!.verdict, "denylisted");
});

test("a dead-end booted release is flagged in both outputs", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ua-plan-"));
  try {
    const template = JSON.parse(readFileSync("tests/fixtures/zincati/kola-graph-template-deadend.json", "utf8")) as { nodes: Array<{ version: string; payload: string }> };
    Object.assign(template.nodes[0]!, { version: "30.20190716.1", payload: "ff48" });
    const file = join(dir, "graph.json");
    writeFileSync(file, JSON.stringify(template));
    const plan = await planJson("--graph", file, "--booted", "30.20190716.1");
    assert.equal(plan.booted.deadend, true);
    assert.equal(plan.booted.deadend_reason, "https://github.com/coreos/fedora-coreos-tracker/issues/215");
    const text = await agentctl("plan", "--graph", file, "--booted", "ff48");
    assert.match(text.stdout, /Warning: {2}this release is a dead-end and will not further auto-update: https:\/\/github\.com\/coreos\/fedora-coreos-tracker\/issues\/215/);
    assert.match(text.stdout, /Decision: no update: the booted release is a dead-end/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a graph URL is fetched as given, query included", async () => {
  const server = await startHttpServer(reply(200, readFileSync(EXAMPLE)));
  try {
    const url = `${server.url}v1/graph?basearch=x86_64&stream=stable`;
    const plan = await planJson("--graph", url, "--booted", "32.20200601.1.0");
    assert.equal(plan.target?.version, "32.20200601.1.1");
    assert.equal(server.requests[0]!.url, "/v1/graph?basearch=x86_64&stream=stable");
    assert.match(String(server.requests[0]!.headers["user-agent"]), /^update-agent\/\d+\.\d+\.\d+/);
  } finally {
    await server.close();
  }
});

test("exit codes: 2 for usage and a booted release not in the graph, 1 for a bad graph", async () => {
  const cases: Array<[string[], number, RegExp]> = [
    [["--graph", EXAMPLE, "--booted", "31.0"], 2, /booted release '31\.0' is not in the update graph .*releases in the graph: 32\.20200517\.1\.0, 32\.20200601\.1\.0, 32\.20200601\.1\.1/],
    [["--graph", "tests/fixtures/zincati/cincinnati-graph-empty.json", "--booted", "sha-mock"], 2, /the graph has no releases/],
    [["--booted", "x"], 2, /--graph FILE\|URL is required/],
    [["--graph", EXAMPLE], 2, /--booted VERSION\|PAYLOAD is required/],
    [["--graph", EXAMPLE, "--booted", "x", "--wariness", "1.5"], 2, /--wariness must be a number from 0 to 1/],
    [["--graph", EXAMPLE, "--booted", "x", "--now", "yesterday"], 2, /--now must be ISO 8601/],
    [["--graph", EXAMPLE, "--booted", "x", "--colour"], 2, /Unknown option '--colour'/],
    [["--graph", "tests/fixtures/zincati/cincinnati-error-graph-server-error.json", "--booted", "x"], 1, /cincinnati-error-graph-server-error\.json: nodes: expected an array, got nothing/],
    [["--graph", "/nonexistent/graph.json", "--booted", "x"], 1, /\/nonexistent\/graph\.json: cannot read the graph file/],
  ];
  for (const [args, code, message] of cases) {
    const result = await agentctl("plan", ...args);
    assert.equal(result.code, code, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.equal(result.stdout, "");
  }
  const help = await agentctl("plan", "--help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: agentctl plan --graph FILE\|URL --booted VERSION\|PAYLOAD/);
});
