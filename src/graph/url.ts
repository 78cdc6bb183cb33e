/** Where the graph is requested, and with which query: pure, so it can be logged and tested. */
import { AgentError } from "../errors.js";
import type { NodeIdentity } from "../identity/types.js";

export interface GraphUrl {
  url: URL;
  /** Set when the base URL is probably not what the admin meant (worth a log line at startup). */
  warning: string | undefined;
}

/**
 * Zincati's rule: `base_url` joined with `v1/graph` by WHATWG URL resolution, so `http://h/p/` gives
 * `http://h/p/v1/graph` but `http://h/p` gives `http://h/v1/graph` (the last path segment is replaced).
 *
 * `file:` URLs: one ending in `/` is a directory laid out like the server (`<dir>/v1/graph`); any other
 * names the graph file itself, which is what an admin writing `file:///etc/.../graph.json` means.
 */
export function graphUrl(base: string): GraphUrl {
  let parsed: URL;
  try {
    parsed = new URL(base);
  } catch (e) {
    throw new AgentError("CONFIG_INVALID", `not an absolute URL: ${JSON.stringify(base)}`, {
      where: redactUrl(base),
      hint: "set cincinnati.base_url to an http://, https:// or file:// URL",
      cause: e,
    });
  }
  if (!["http:", "https:", "file:"].includes(parsed.protocol)) {
    throw new AgentError("CONFIG_INVALID", `unsupported URL scheme ${parsed.protocol} (expected http, https or file)`, {
      where: redactUrl(base),
      hint: "set cincinnati.base_url to an http://, https:// or file:// URL",
    });
  }
  if (parsed.protocol === "file:" && !parsed.pathname.endsWith("/")) {
    return { url: parsed, warning: undefined };
  }
  const url = new URL("v1/graph", parsed);
  const lastSegment = parsed.pathname.slice(parsed.pathname.lastIndexOf("/") + 1);
  const warning =
    lastSegment === ""
      ? undefined
      : `base URL ${redactUrl(base)} has a path without a trailing slash, so its last segment '${lastSegment}' is replaced: ` +
        `the graph is requested from ${redactUrl(url.href)}; add a trailing '/' to keep it`;
  return { url, warning };
}

/**
 * Exactly Zincati's query parameters (cincinnati.md §8): `oci=true` only for OCI-booted nodes, and
 * `rollout_wariness` with 6 decimals only when configured (otherwise the server derives it from node_uuid).
 */
export function graphQuery(identity: NodeIdentity): URLSearchParams {
  const query = new URLSearchParams();
  query.set("basearch", identity.basearch);
  query.set("stream", identity.stream);
  query.set("os_version", identity.current.version);
  query.set("os_checksum", identity.current.payload);
  if (identity.current.scheme === "oci") query.set("oci", "true");
  query.set("group", identity.group);
  query.set("node_uuid", identity.nodeUuid);
  query.set("platform", identity.platform);
  if (identity.rolloutWariness !== undefined) query.set("rollout_wariness", identity.rolloutWariness.toFixed(6));
  return query;
}

/** The URL with any `user:password@` removed, for messages and logs. Unparsable input loses only a `scheme://…@` prefix's credentials. */
export function redactUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return String(url).replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, "$1");
  }
  if (parsed.username === "" && parsed.password === "") return parsed.href;
  parsed.username = "";
  parsed.password = "";
  return parsed.href;
}
