/**
 * `npm run demo`: the agent's main job on a simulated node, no real OS needed. A private dbus-daemon,
 * the rpm-ostreed simulator booted on the oldest release of Zincati's example FCOS graph, a loopback
 * graph server serving that graph, and agentd itself. Watch it find the update, stage it with progress,
 * finalize, "reboot" into it and settle. Everything it started is stopped at the end.
 *
 *   npm run demo                                  immediate strategy
 *   npm run demo -- --fragment my-strategy.toml   drop a config fragment in (any strategy)
 *   npm run demo -- --failing-check               a required health check fails on the new release: rollback
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { join } from "node:path";
import { startNodeRig, type NodeRig } from "../tests/helpers/node-rig.js";
import type { SimRelease } from "../tests/sim/harness.js";
import type { StatusView } from "../src/agent/view.js";
import { progressBar } from "../src/cli/render/words.js";

const REPO = new URL("..", import.meta.url).pathname;
const GRAPH = join(REPO, "tests/fixtures/cincinnati/fcos-example-graph.json");
const DEADLINE_MS = 90_000;

const { values } = parseArgs({
  options: {
    fragment: { type: "string", multiple: true },
    "failing-check": { type: "boolean" },
    verbose: { type: "boolean", short: "v" },
  },
});

const graphBody = readFileSync(GRAPH, "utf8");
const graph = JSON.parse(graphBody) as { nodes: { version: string; payload: string }[] };
const releases: SimRelease[] = graph.nodes.map((n) => ({ version: n.version, payload: n.payload, stream: "stable" }));
const newest = releases[releases.length - 1]!;

const say = (text: string) => process.stdout.write(`${text}\n`);
const dim = (text: string) => (process.stdout.isTTY ? `\x1b[2m${text}\x1b[0m` : text);

function describe(s: StatusView): string {
  const booted = `booted ${s.booted?.version ?? "?"}`;
  if (s.state === "staging" && s.progress) {
    const pct = s.progress.percent;
    return `${booted} | ${pct !== undefined ? `${progressBar(pct)} ` : ""}${s.progress.message}`;
  }
  return `${booted} | ${s.status_text}`;
}

async function watch(rig: NodeRig, until: (s: StatusView) => boolean, deadline: number): Promise<StatusView> {
  let last = "";
  for (;;) {
    if (Date.now() > deadline) throw new Error("the demo took too long; run with -v to see the agent's log");
    const s = await rig.status().catch(() => undefined);
    if (s) {
      const line = describe(s);
      if (line !== last) say(`  status: ${line}`);
      last = line;
      if (until(s)) return s;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<number> {
  const started = Date.now();
  const deadline = started + DEADLINE_MS;
  const fragments = (values.fragment ?? []).map((f) => readFileSync(f, "utf8"));
  const failing = values["failing-check"] === true;
  say(`update-agent demo: a simulated Fedora CoreOS node booted on ${releases[0]!.version}`);
  say(dim(`  graph: ${GRAPH} (${releases.length} releases); strategy and checks: ${fragments.length ? "your fragment(s)" : "immediate"}${failing ? ", a required health check that fails on the new release" : ""}`));
  const rig = await startNodeRig({
    releases,
    booted: 0,
    graphBody: () => graphBody,
    config: [failing ? "[health]\nmax_boot_attempts = 1" : "", ...fragments].join("\n"),
    scripts: failing
      ? { "etc/update-agent/check/required.d/50-demo-app": `#!/bin/sh\necho "checking the demo app on $UPDATE_AGENT_BOOTED_VERSION"\n[ "$UPDATE_AGENT_BOOTED_VERSION" != "${newest.version}" ]\n` }
      : {},
    progress: { signals: 12, intervalMs: 150 },
    verbose: values.verbose === true,
    onLine: (line) => {
      // The agent's own log (journald priority prefix stripped), debug lines left out.
      const m = /^<([0-6])>(.*)$/.exec(line);
      if (m && !values.verbose) say(dim(`    agentd: ${m[2]}`));
    },
  });
  try {
    say("\n1. agentd starts, checks the graph, stages the update (finalization-locked), finalizes:");
    rig.startAgent();
    await watch(rig, (s) => s.state === "finalized" || s.state === "held", deadline);
    say("\n2. the node reboots into the finalized deployment; agentd verifies the new boot:");
    await rig.reboot();
    if (failing) {
      await watch(rig, (s) => s.state === "finalized" && s.target?.version === releases[0]!.version, deadline);
      say(`\n3. ${newest.version} failed its required check: agentd rolled back; rebooting into ${releases[0]!.version}:`);
      await rig.reboot();
      const end = await watch(rig, (s) => s.state === "idle" && s.booted?.version === releases[0]!.version && s.last_check !== null, deadline);
      for (const d of end.denylist) say(`  denylisted ${d.version}: ${d.reason}`);
    } else {
      await watch(rig, (s) => s.state === "idle" && s.booted?.version === newest.version && s.last_check !== null, deadline);
    }
    say(`\ndone in ${((Date.now() - started) / 1000).toFixed(1)} s. Try: npm run demo -- --failing-check`);
    return 0;
  } catch (e) {
    say(`\ndemo failed: ${e instanceof Error ? e.message : String(e)}`);
    say(dim(rig.log().slice(-3000)));
    return 1;
  } finally {
    await rig.stopAgent().catch(() => undefined);
    await rig.stop();
  }
}

process.exitCode = await main();
