/** The `kind` label of update-check error metrics, with Zincati's values so dashboards keep working. */
import { isAgentError } from "../errors.js";

/** Server-chosen kinds become label values: keep them short and tame so they cannot explode cardinality. */
const MAX_KIND_LENGTH = 64;

export function graphErrorKind(err: unknown): string {
  if (!isAgentError(err)) return "client_failed_request";
  const kind = err.details?.["kind"];
  if (typeof kind === "string" && kind !== "") return kind.replace(/[^A-Za-z0-9_]/g, "_").slice(0, MAX_KIND_LENGTH);
  switch (err.code) {
    case "GRAPH_HTTP": {
      const status = err.details?.["status"];
      return typeof status === "number" ? `generic_http_${status}` : "client_failed_request";
    }
    case "GRAPH_DECODE":
      return "client_failed_json_decoding";
    case "GRAPH_NODE_INVALID":
      return "client_failed_node_parsing";
    case "GRAPH_BOOTED_NOT_FOUND":
      return "client_failed_node_lookup";
    case "CONFIG_INVALID":
      return "client_failed_build";
    default:
      return "client_failed_request";
  }
}
