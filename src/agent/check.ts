/**
 * The `check-graph` effect: fetch the update graph for this node and decide, turning every outcome
 * (including failures) into a CheckResult event for the state machine.
 */
import pkg from "../../package.json" with { type: "json" };
import type { Settings } from "../config/index.js";
import { templateUrl } from "../config/index.js";
import { isAgentError } from "../errors.js";
import { decideUpdate, fetchGraph, graphErrorKind, graphQuery, serverWariness, type Plan } from "../graph/index.js";
import type { NodeIdentity } from "../identity/index.js";
import type { Logger } from "../host/log.js";
import type { CheckResult } from "./machine.js";
import { errorRecord } from "./errors.js";
import type { DenylistEntry } from "./state.js";

export const USER_AGENT = `update-agent/${pkg.version}`;

export interface CheckOutcome {
  result: CheckResult;
  plan: Plan | undefined;
  /** Zincati's error kinds, for `update_agent_cincinnati_update_checks_errors_total{kind}`. */
  errorKind: string | undefined;
  /** The group's shared denylist as read for this check (etcd strategy). */
  fleetDenylist?: DenylistEntry[] | undefined;
}

export interface GraphCheckInput {
  settings: Settings;
  identity: NodeIdentity;
  denylist: ReadonlySet<string>;
  now: Date;
  env: NodeJS.ProcessEnv;
  log: Logger;
  signal?: AbortSignal | undefined;
}

export function graphBaseUrl(settings: Settings, identity: NodeIdentity): string {
  return templateUrl(settings.cincinnati.base_url, {
    basearch: identity.basearch,
    group: identity.group,
    platform: identity.platform,
    stream: identity.stream,
  });
}

export async function checkForUpdate(input: GraphCheckInput): Promise<CheckOutcome> {
  const { settings, identity, log } = input;
  try {
    const baseUrl = graphBaseUrl(settings, identity);
    const { graph, url } = await fetchGraph({
      baseUrl,
      query: graphQuery(identity),
      caFile: settings.cincinnati.ca_file,
      connectTimeoutMs: settings.cincinnati.connect_timeout_secs * 1000,
      timeoutMs: settings.cincinnati.timeout_secs * 1000,
      maxBodyBytes: settings.cincinnati.max_body_bytes,
      env: input.env,
      userAgent: USER_AGENT,
      signal: input.signal,
    });
    const throttle = settings.cincinnati.client_throttling
      ? { wariness: serverWariness(identity.rolloutWariness?.toString(), identity.nodeUuid), now: Math.floor(input.now.getTime() / 1000) }
      : undefined;
    const plan = decideUpdate({
      graph,
      booted: { payload: identity.current.payload },
      denylist: input.denylist,
      allowDowngrade: settings.updates.allow_downgrade,
      throttle,
    });
    log.debug(plan.summary, { url, nodes: graph.nodes.length, edges: graph.edges.length });
    if (!plan.booted.found) {
      log.warn(`booted deployment ${identity.current.payload} not found in the update graph`, { url });
      return { result: { outcome: "not-in-graph" }, plan, errorKind: undefined };
    }
    const deadendReason = plan.booted.deadend ? (plan.booted.deadendReason ?? "(unknown reason)") : undefined;
    if (plan.target) {
      const t = plan.target;
      return { result: { outcome: "update", target: { version: t.version, payload: t.payload, age_index: t.ageIndex }, deadendReason }, plan, errorKind: undefined };
    }
    return { result: { outcome: "no-update", deadendReason }, plan, errorKind: undefined };
  } catch (e) {
    const kind = isAgentError(e) ? graphErrorKind(e) : "client_failed_request";
    const error = errorRecord(e, input.now);
    log.warn(`failed to check for updates: ${error.message}`, { code: error.code, kind });
    return { result: { outcome: "error", error }, plan: undefined, errorKind: kind };
  }
}
