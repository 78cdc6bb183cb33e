/**
 * Proxy selection from the environment, like Zincati's HTTP client (reqwest) and curl:
 * `https_proxy`/`HTTPS_PROXY` for https URLs, `http_proxy`/`HTTP_PROXY` for http URLs, `all_proxy`/
 * `ALL_PROXY` as the fallback, and `no_proxy`/`NO_PROXY` exceptions. The lower-case spelling wins when
 * both are set (curl's rule); empty values count as unset.
 */
import { BlockList, isIP } from "node:net";
import { AgentError } from "../errors.js";

export interface ProxyChoice {
  /** The proxy URL to tunnel through. */
  proxy: URL;
  /** Which variable it came from, for messages. */
  variable: string;
}

export function proxyForUrl(target: URL, env: NodeJS.ProcessEnv): ProxyChoice | undefined {
  const scheme = target.protocol.replace(/:$/, "");
  if (scheme !== "http" && scheme !== "https") return undefined;
  const found = firstSet(env, [`${scheme}_proxy`, `${scheme.toUpperCase()}_PROXY`, "all_proxy", "ALL_PROXY"]);
  if (found === undefined) return undefined;
  const noProxy = firstSet(env, ["no_proxy", "NO_PROXY"]);
  if (noProxy !== undefined && bypassesProxy(target, noProxy.value)) return undefined;
  return { proxy: parseProxy(found.value, found.name), variable: found.name };
}

function firstSet(env: NodeJS.ProcessEnv, names: string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) return { name, value };
  }
  return undefined;
}

function parseProxy(value: string, variable: string): URL {
  // `proxy:3128` (no scheme) is common in the wild and means an HTTP proxy.
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch (e) {
    throw new AgentError("CONFIG_INVALID", `the proxy ${JSON.stringify(value)} is not a URL`, { where: variable, cause: e });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new AgentError("CONFIG_INVALID", `unsupported proxy scheme ${url.protocol} (only http:// and https:// proxies are supported)`, {
      where: variable,
      hint: "point the variable at an HTTP proxy, or list the graph server's host in NO_PROXY",
    });
  }
  return url;
}

/**
 * NO_PROXY entries, separated by commas or spaces: `*` (everything), a host name (matches it and its
 * subdomains; a leading `.` or `*.` is optional), `host:port`, an IP address or a CIDR range.
 */
export function bypassesProxy(target: URL, noProxy: string): boolean {
  const host = target.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = target.port || (target.protocol === "https:" ? "443" : "80");
  for (const raw of noProxy.split(/[\s,]+/)) {
    const entry = raw.trim().toLowerCase();
    if (entry === "") continue;
    if (entry === "*") return true;
    const { name, entryPort } = splitHostPort(entry);
    if (entryPort !== undefined && entryPort !== port) continue;
    if (matchesAddress(host, name)) return true;
    const domain = name.replace(/^\*?\./, "");
    if (domain !== "" && (host === domain || host.endsWith(`.${domain}`))) return true;
  }
  return false;
}

function splitHostPort(entry: string): { name: string; entryPort: string | undefined } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) return { name: bracketed[1]!, entryPort: bracketed[2] };
  const hostPort = /^([^:]+):(\d+)$/.exec(entry); // one colon only: several mean a bare IPv6 address
  if (hostPort) return { name: hostPort[1]!, entryPort: hostPort[2] };
  return { name: entry, entryPort: undefined };
}

function matchesAddress(host: string, entry: string): boolean {
  const hostFamily = isIP(host);
  if (hostFamily === 0) return false;
  const [address, prefix] = entry.split("/");
  const entryFamily = isIP(address ?? "");
  if (entryFamily !== hostFamily) return false;
  const type = hostFamily === 4 ? "ipv4" : "ipv6";
  const list = new BlockList();
  if (prefix === undefined) {
    list.addAddress(address!, type);
  } else {
    const bits = Number(prefix);
    if (!Number.isInteger(bits) || bits < 0 || bits > (hostFamily === 4 ? 32 : 128)) return false;
    list.addSubnet(address!, bits, type);
  }
  return list.check(host, type);
}
