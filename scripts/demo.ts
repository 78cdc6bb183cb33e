/**
 * `npm run demo`: the agent's main job on a simulated node, no real OS needed. A private dbus-daemon,
 * the rpm-ostreed simulator booted on the oldest release of Zincati's example FCOS graph, a loopback
 * graph server serving that graph, and agentd itself. Watch it find the update, stage it with progress,
 * finalize, "reboot" into it and settle. Everything it started is stopped at the end.
 *
 *   npm run demo                                  immediate strategy
 *   npm run demo -- --fragment my-strategy.toml   drop a config fragment in (any strategy)
 *   npm run demo -- --failing-check               a required health check fails on the new release: rollback
 *   npm run demo -- --fragment docs/examples/fleet-lock.toml      every strategy has a ready-made fragment there
 *
 * A FleetLock `base_url` or an etcd endpoint on `127.0.0.1:0` is a placeholder: the demo starts that coordinator
 * on loopback (a one-slot FleetLock server; a throw-away etcd, when it is installed) and fills in its address.
 */
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { basename, join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { startNodeRig, type NodeRig } from "../tests/helpers/node-rig.js";
import { startFleetLockServer } from "../tests/helpers/fleetlock-server.js";
import { ETCD_BINARY, startEtcd } from "../tests/helpers/etcd.js";
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

/** `http://127.0.0.1:0` (with or without a path): "start one for me". */
const PLACEHOLDER = /^https?:\/\/127\.0\.0\.1:0(?=\/|$)/;

interface Coordinators {
  /** The fragments with every placeholder replaced by a running server's address. */
  fragments: string[];
  /** What each coordinator holds now, for the summary. */
  describe(): Promise<string[]>;
  stop(): Promise<void>;
}

async function startCoordinators(fragments: string[]): Promise<Coordinators> {
  const stops: (() => Promise<void>)[] = [];
  const summaries: (() => Promise<string> | string)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  const filled: string[] = [];
  try {
    for (const text of fragments) {
      let updates: { fleet_lock?: { base_url?: unknown }; etcd_lock?: { endpoints?: unknown } } = {};
      try {
        updates = (parseToml(text) as { updates?: typeof updates }).updates ?? {};
      } catch {
        // agentd reports the fragment's syntax error itself, naming the file
      }
      let result = text;
      const base = updates.fleet_lock?.base_url;
      if (typeof base === "string" && PLACEHOLDER.test(base)) {
        const server = await startFleetLockServer({
          mount: new URL(base).pathname,
          onCall: (c) => say(dim(`    fleetlock server: ${c.api} from ${c.id.slice(0, 8)}… (group ${c.group}) → ${c.status}${c.status === 200 ? "" : " (busy)"}`)),
        });
        stops.push(() => server.close());
        summaries.push(() => `fleetlock server ${server.baseUrl}: ${server.calls.length} requests; slot holders now: ${server.holders().length === 0 ? "none" : server.holders().join(", ")}`);
        result = result.replaceAll(JSON.stringify(base), JSON.stringify(server.baseUrl));
        say(dim(`  started a FleetLock server (one slot per group) at ${server.baseUrl}`));
      }
      const endpoints = updates.etcd_lock?.endpoints;
      const placeholders = Array.isArray(endpoints) ? endpoints.filter((e): e is string => typeof e === "string" && PLACEHOLDER.test(e)) : [];
      if (placeholders.length > 0) {
        if (!existsSync(ETCD_BINARY)) throw new Error(`this fragment asks for an etcd on loopback, and ${ETCD_BINARY} is not installed (apt-get install etcd-server), or set updates.etcd_lock.endpoints to your etcd`);
        const etcd = await startEtcd();
        stops.push(() => etcd.destroy());
        summaries.push(async () => {
          const semaphores = (await etcd.etcdctl("get", "--prefix", "com.coreos.airlock/groups/")).trim().split("\n");
          return `etcd ${etcd.endpoint}: ${semaphores.join(" = ")}`;
        });
        for (const e of placeholders) result = result.replaceAll(JSON.stringify(e), JSON.stringify(etcd.endpoint));
        say(dim(`  started etcd at ${etcd.endpoint}; the reboot slot is Airlock's semaphore com.coreos.airlock/groups/<group>/v1/semaphore`));
      }
      filled.push(result);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { fragments: filled, describe: () => Promise.all(summaries.map((s) => s())), stop };
}

async function main(): Promise<number> {
  const started = Date.now();
  const deadline = started + DEADLINE_MS;
  const paths = values.fragment ?? [];
  const failing = values["failing-check"] === true;
  say(`update-agent demo: a simulated Fedora CoreOS node booted on ${releases[0]!.version}`);
  say(dim(`  graph: ${GRAPH} (${releases.length} releases); strategy and checks: ${paths.length ? paths.join(", ") : "immediate"}${failing ? ", a required health check that fails on the new release" : ""}`));
  let coordinators: Coordinators;
  try {
    coordinators = await startCoordinators(paths.map((f) => readFileSync(f, "utf8")));
  } catch (e) {
    say(`\ndemo failed: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  // Each fragment is its own file in config.d, in the order given, as an admin would drop them in.
  const files = Object.fromEntries(coordinators.fragments.map((text, i) => [`etc/update-agent/config.d/${61 + i}-demo-${basename(paths[i]!)}`, text]));
  const rig = await startNodeRig({
    releases,
    booted: 0,
    graphBody: () => graphBody,
    config: failing ? "[health]\nmax_boot_attempts = 1\n" : "",
    files,
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
  }).catch(async (e: unknown) => {
    await coordinators.stop();
    throw e;
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
    for (const line of await coordinators.describe()) say(`  ${line}`);
    await rig.stopAgent();
    say(`\ndone in ${((Date.now() - started) / 1000).toFixed(1)} s. Try: npm run demo -- --failing-check, or --fragment docs/examples/<strategy>.toml`);
    return 0;
  } catch (e) {
    say(`\ndemo failed: ${e instanceof Error ? e.message : String(e)}`);
    say(dim(rig.log().slice(-3000)));
    return 1;
  } finally {
    await rig.stopAgent().catch(() => undefined);
    await rig.stop();
    await coordinators.stop();
  }
}

process.exitCode = await main();
