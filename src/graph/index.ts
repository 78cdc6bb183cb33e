/**
 * The update-graph domain: fetch a Cincinnati graph (`fetchGraph`), parse it (`parseGraph`) and decide
 * which release to move to (`decideUpdate`). Everything but the fetch is pure.
 */
export { fetchGraph, fetchGraphFrom, type FetchGraphOptions, type FetchOptions, type FetchedGraph } from "./client.js";
export { graphErrorKind } from "./error-kind.js";
export { readGraphFile } from "./file.js";
export { parseGraph } from "./parse.js";
export { METADATA, deadendStatus, toRelease, type DeadendStatus, type Edge, type Graph, type GraphNode } from "./model.js";
export { decideUpdate, type BootedRelease, type Candidate, type DecideInput, type Plan, type Verdict } from "./decide.js";
export { isHiddenByRollout, rolloutParameters, rolloutServedAt, rolloutThrottling, type RolloutParameters } from "./throttle.js";
export { ANONYMOUS_WARINESS, clamp, parseRustF64, serverWariness, sipHash13, warinessFromNodeUuid } from "./wariness.js";
export { graphQuery, graphUrl, redactUrl, type GraphUrl } from "./url.js";
export { bypassesProxy, proxyForUrl, type ProxyChoice } from "./proxy.js";
export { PLAN_JSON_VERSION, planJson, renderPlan, shortPayload, type PlanReport, type ThrottleReport } from "./report.js";
export type { Release } from "./release.js";
