/**
 * The one error type of update-agent. Every failure an admin can see carries a stable `code`
 * (used in metrics labels, `--json` output and tests), `where` it happened (a file and key path,
 * a URL, a D-Bus method) and, when we know one, a `hint` saying what the admin can do.
 */
export const ERROR_CODES = [
  // configuration
  "CONFIG_SYNTAX", // a fragment is not valid TOML/JSON
  "CONFIG_INVALID", // a value has the wrong type or is out of range
  "CONFIG_UNREADABLE", // a fragment or directory cannot be read
  "CONFIG_TEMPLATE", // URL templating failed
  "CONFIG_UNKNOWN_KEY", // warning: a key the agent does not know (ignored)
  "CONFIG_IGNORED_FILE", // warning: a file in a config.d directory that is not read (not *.toml/*.json, not a file)
  "CONFIG_NO_EFFECT", // warning: a setting that does nothing with the rest of the configuration
  // identity
  "IDENTITY_INVALID", // machine-id, group, platform, stream cannot be determined
  // deployment status
  "STATUS_INVALID", // rpm-ostree status data is missing a field we need
  // update graph
  "GRAPH_HTTP", // non-2xx from the graph server
  "GRAPH_SERVER", // server sent a {kind,value} error body
  "GRAPH_DECODE", // body is not a valid graph
  "GRAPH_TOO_LARGE", // body over the size cap
  "GRAPH_TIMEOUT", // connect or total timeout
  "GRAPH_NETWORK", // connection refused, DNS, TLS ...
  "GRAPH_BOOTED_NOT_FOUND", // the booted payload is not in the graph
  "GRAPH_NODE_INVALID", // a node lacks version/payload/age_index
  "GRAPH_UNREADABLE", // a file:// graph cannot be read
  // state file
  "STATE_CORRUPT",
  "STATE_IO",
  // deployment manager (rpm-ostree)
  "DEPLOY_DBUS", // D-Bus call failed
  "DEPLOY_BUSY", // another transaction is in progress
  "DEPLOY_TRANSACTION_FAILED", // Finished(false, msg)
  "DEPLOY_TIMEOUT",
  "DEPLOY_VERIFY", // staged deployment is not what we asked for
  "DEPLOY_UNSUPPORTED", // the request cannot be done on this host (OCI update on a non-OCI boot)
  "DEPLOY_CANCELLED", // the caller aborted a transaction
  // strategies and coordination
  "STRATEGY_WINDOW",
  "LOCK_HTTP",
  "LOCK_PROTOCOL",
  "LOCK_BUSY",
  "ETCD_UNAVAILABLE",
  "ETCD_CONFLICT",
  "ETCD_AUTH",
  "ETCD_REJECTED", // etcd refused a request for another reason than auth (bad request, not found)
  // host
  "HOST_IO",
  "HOOK_FAILED",
  "HEALTH_CHECK_FAILED",
  // command line
  "USAGE",
  "NOT_FOUND",
  "DAEMON_UNAVAILABLE",
  "PERMISSION_DENIED",
  "INTERNAL",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface AgentErrorOptions {
  /** A file (optionally `path: key.path`), a URL, a D-Bus member: where the admin should look. */
  where?: string | undefined;
  /** What the admin can do about it. */
  hint?: string | undefined;
  cause?: unknown;
  /** Extra machine-readable facts (HTTP status, server kind, ...) for `--json` and metrics. */
  details?: Record<string, unknown> | undefined;
}

export class AgentError extends Error {
  override readonly name = "AgentError";
  readonly code: ErrorCode;
  readonly where: string | undefined;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: AgentErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.where = options.where;
    this.hint = options.hint;
    this.details = options.details;
  }

  /** `WHERE: MESSAGE (HINT)`, the one-line form used in logs and CLI errors. */
  describe(): string {
    const head = this.where ? `${this.where}: ${this.message}` : this.message;
    return this.hint ? `${head} (${this.hint})` : head;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      ...(this.where ? { where: this.where } : {}),
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export function isAgentError(e: unknown): e is AgentError {
  return e instanceof AgentError;
}

/** Wraps anything thrown into an AgentError, keeping AgentErrors as they are. */
export function toAgentError(e: unknown, code: ErrorCode = "INTERNAL", where?: string): AgentError {
  if (e instanceof AgentError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new AgentError(code, message, { where, cause: e });
}

/** The `code` of a failed system call (`ENOENT`, `EACCES`, ...), or undefined for anything else. */
export function errnoCode(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined;
}
