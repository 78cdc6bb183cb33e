/**
 * `agentctl plan`: what the agent would decide for a given graph and booted release, without a daemon.
 * Exit codes: 0 a decision was made (update or not), 1 the graph could not be read or is broken,
 * 2 usage errors and a booted release that is not in the graph.
 */
import { DateTime } from "luxon";
import { AgentError } from "../../errors.js";
import { fetchGraphFrom } from "../../graph/client.js";
import { readGraphFile } from "../../graph/file.js";
import { decideUpdate } from "../../graph/decide.js";
import type { Graph } from "../../graph/model.js";
import { parseGraph } from "../../graph/parse.js";
import { planJson, renderPlan, type ThrottleReport } from "../../graph/report.js";
import { rolloutParameters } from "../../graph/throttle.js";
import { ANONYMOUS_WARINESS } from "../../graph/wariness.js";
import pkg from "../../../package.json" with { type: "json" };
import { parseCommandArgs, usageError } from "../args.js";
import { jsonText, type CliContext } from "../context.js";

export const summary = "show which update the agent would pick from a graph file or URL";

const USAGE = `usage: agentctl plan --graph FILE|URL --booted VERSION|PAYLOAD [options]

  --graph FILE|URL      a graph file, or a full graph URL (http, https, file), query included,
                        e.g. 'https://updates.coreos.fedoraproject.org/v1/graph?basearch=x86_64&stream=stable'
  --booted V            the booted release, by payload or version
  --wariness W          apply rollout throttling for this wariness (0 to 1)
  --now TIME            evaluate rollouts at TIME: ISO 8601 (UTC unless it has an offset) or Unix seconds;
                        with --now alone the wariness is the anonymous one, ${ANONYMOUS_WARINESS}
  --allow-downgrade     accept a target older than the booted release
  --denylist P          never pick this payload (or version); repeat or separate with commas
  --json                machine-readable output
`;

/** Big enough for any real graph (OpenShift's are a few MB), small enough to stop a wrong URL early. */
const MAX_GRAPH_BYTES = 64 * 1024 * 1024;
const CONNECT_TIMEOUT_MS = 15_000;
const TOTAL_TIMEOUT_MS = 120_000;

export async function run(args: string[], ctx: CliContext): Promise<number> {
  const options = parseOptions(args);
  if (options === "help") {
    ctx.stdout(USAGE);
    return 0;
  }
  const graph = await loadGraph(options.graph, ctx);
  const denylist = resolveDenylist(graph, options.denylist);
  const throttle = throttleFor(options.wariness, options.now);
  const plan = decideUpdate({
    graph,
    booted: { payload: options.booted, version: options.booted },
    denylist,
    allowDowngrade: options.allowDowngrade,
    throttle,
  });
  if (!plan.booted.found) {
    const error = bootedNotFound(graph, options.booted);
    ctx.stderr(`agentctl: ${error.describe()}\n`);
    return 2;
  }
  const report = { graph, plan, throttle };
  if (options.json) {
    ctx.stdout(jsonText(planJson(report)));
  } else {
    const withRollout = plan.candidates.filter((c) => rolloutParameters(graph.nodes[c.position]!.metadata) !== undefined).length;
    ctx.stdout(renderPlan(report, withRollout));
  }
  return 0;
}

interface PlanOptions {
  graph: string;
  booted: string;
  wariness: number | undefined;
  now: number | undefined;
  allowDowngrade: boolean;
  denylist: string[];
  json: boolean;
}

function parseOptions(args: string[]): PlanOptions | "help" {
  const { values } = parseCommandArgs("plan", {
    args,
    strict: true,
    allowPositionals: false,
    options: {
      graph: { type: "string" },
      booted: { type: "string" },
      wariness: { type: "string" },
      now: { type: "string" },
      "allow-downgrade": { type: "boolean", default: false },
      denylist: { type: "string", multiple: true, default: [] },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help";
  if (values.graph === undefined || values.graph === "") throw usage("--graph FILE|URL is required");
  if (values.booted === undefined || values.booted === "") throw usage("--booted VERSION|PAYLOAD is required");
  return {
    graph: values.graph,
    booted: values.booted,
    wariness: values.wariness === undefined ? undefined : parseWariness(values.wariness),
    now: values.now === undefined ? undefined : parseNow(values.now),
    allowDowngrade: values["allow-downgrade"],
    denylist: values.denylist.flatMap((entry) => entry.split(",")).map((entry) => entry.trim()).filter((entry) => entry !== ""),
    json: values.json,
  };
}

function parseWariness(text: string): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < 0 || value > 1) {
    throw usage(`--wariness must be a number from 0 to 1, got '${text}'`);
  }
  return value;
}

function parseNow(text: string): number {
  if (/^-?[0-9]+(\.[0-9]+)?$/.test(text)) return Number(text);
  const parsed = DateTime.fromISO(text, { zone: "utc" });
  if (!parsed.isValid) throw usage(`--now must be ISO 8601 (2020-06-04T14:00:00Z) or Unix seconds, got '${text}'`);
  return parsed.toSeconds();
}

function throttleFor(wariness: number | undefined, now: number | undefined): ThrottleReport | undefined {
  if (wariness === undefined && now === undefined) return undefined;
  return {
    wariness: wariness ?? ANONYMOUS_WARINESS,
    warinessSource: wariness === undefined ? "anonymous" : "option",
    now: now ?? Math.floor(Date.now() / 1000),
  };
}

async function loadGraph(spec: string, ctx: CliContext): Promise<Graph> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) {
    const { graph } = await fetchGraphFrom(new URL(spec), {
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      timeoutMs: TOTAL_TIMEOUT_MS,
      maxBodyBytes: MAX_GRAPH_BYTES,
      env: ctx.env,
      userAgent: `update-agent/${pkg.version}`,
    });
    return graph;
  }
  return parseGraph(await readGraphFile(spec, MAX_GRAPH_BYTES), spec);
}

/** Denylist entries are payloads; a version is accepted too, for convenience, and means its payloads. */
function resolveDenylist(graph: Graph, entries: string[]): Set<string> {
  const payloads = new Set(entries);
  for (const node of graph.nodes) if (entries.includes(node.version)) payloads.add(node.payload);
  return payloads;
}

function bootedNotFound(graph: Graph, booted: string): AgentError {
  const versions = graph.nodes.map((n) => n.version).filter((v) => v !== "");
  const listed = versions.length === 0 ? "the graph has no releases" : `releases in the graph: ${versions.slice(0, 8).join(", ")}${versions.length > 8 ? `, … (${versions.length} in all)` : ""}`;
  return new AgentError("GRAPH_BOOTED_NOT_FOUND", `booted release '${booted}' is not in the update graph`, {
    where: graph.source,
    hint: `give a version or payload from the graph; ${listed}`,
  });
}

function usage(message: string) {
  return usageError("plan", message);
}

