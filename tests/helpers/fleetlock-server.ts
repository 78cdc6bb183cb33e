/**
 * A small FleetLock server on loopback (coordination.md §1) for the agent-loop tests and the demo: a counting
 * semaphore per group with owned, recursive slots, mounted under any base path. It answers a full group the
 * way the two real servers do: Airlock with 500 `failed_lock`, poseidon/fleetlock with 423 `lock_held`
 * naming the holder (and 423 on a steady-state from a non-holder while someone else holds the lease).
 * Every FleetLock request is recorded, with what the test wanted to know at that moment (`note`).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { startHttpServer, type TestServer } from "./http-server.js";

export type FleetLockFlavour = "airlock" | "poseidon";
export type FleetLockCall = "pre-reboot" | "steady-state";

export interface FleetLockRequest {
  api: FleetLockCall;
  id: string;
  group: string;
  /** The HTTP status the server answered. */
  status: number;
  /** What `note()` gave when the request arrived (e.g. how many FinalizeDeployment calls the simulator had seen). */
  note: unknown;
}

export interface FleetLockServerOptions {
  /** Slots per group (poseidon always has 1). Default 1. */
  slots?: number;
  flavour?: FleetLockFlavour;
  /** Where the API lives, e.g. `/fleetlock/` (default `/`). Requests elsewhere get a 404. */
  mount?: string;
  /** Called at each FleetLock request, before it is answered; its value is recorded with it. */
  note?: () => unknown;
  /** Told about every recorded request, once answered (the demo prints them). */
  onCall?: (call: FleetLockRequest) => void;
}

export interface FleetLockServer extends TestServer {
  /** `http://127.0.0.1:<port><mount>`, with its trailing slash. */
  baseUrl: string;
  /** FleetLock requests in arrival order (malformed ones are not recorded, only answered). */
  calls: FleetLockRequest[];
  /** Current holders of `group` (default `default`). */
  holders(group?: string): string[];
  /** Gives a slot of `group` to `id`, as another node's pre-reboot would. */
  hold(id: string, group?: string): void;
  /** Takes `id`'s slot away, as its steady-state would. */
  free(id: string, group?: string): void;
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}

function answer(res: ServerResponse, status: number, kind?: string, value?: string): void {
  if (kind === undefined) {
    res.writeHead(status, { "content-type": "text/plain" });
    res.end(status === 200 ? "" : "\n");
    return;
  }
  res.writeHead(status, { "content-type": "application/json" });
  res.end(`${JSON.stringify({ kind, value })}\n`);
}

/** `client_params` of a FleetLock request body, as the servers validate it; undefined when it has none. */
export function clientParams(body: string): { id: string; group: string } | undefined {
  try {
    const params = (JSON.parse(body) as { client_params?: { id?: unknown; group?: unknown } }).client_params;
    if (typeof params?.id === "string" && params.id !== "" && typeof params.group === "string" && /^[a-zA-Z0-9.-]+$/.test(params.group)) {
      return { id: params.id, group: params.group };
    }
  } catch {
    // not JSON: the caller answers 400
  }
  return undefined;
}

export async function startFleetLockServer(options: FleetLockServerOptions = {}): Promise<FleetLockServer> {
  const flavour = options.flavour ?? "airlock";
  const slots = flavour === "poseidon" ? 1 : Math.max(1, options.slots ?? 1);
  const mount = (options.mount ?? "/").replace(/\/*$/, "/");
  const groups = new Map<string, string[]>();
  const calls: FleetLockRequest[] = [];
  const holdersOf = (group: string) => groups.get(group) ?? [];

  const server = await startHttpServer(async (req, res) => {
    const path = (req.url ?? "").split("?")[0] ?? "";
    const api = path === `${mount}v1/pre-reboot` ? "pre-reboot" : path === `${mount}v1/steady-state` ? "steady-state" : undefined;
    if (api === undefined) return answer(res, 404, "not_found", `no FleetLock endpoint at ${path}`);
    if (req.method !== "POST") return answer(res, 405, "method_not_allowed", "use POST");
    if (req.headers["fleet-lock-protocol"] !== "true") return answer(res, 400, "missing_header", "fleet-lock-protocol: true is required");
    const params = clientParams(await readBody(req));
    if (!params) return answer(res, 400, "invalid_client_identity", "client_params.id and client_params.group are required");
    const { id, group } = params;
    const holders = holdersOf(group);
    const note: unknown = await options.note?.();
    const record = (status: number) => {
      const call: FleetLockRequest = { api, id, group, status, note };
      calls.push(call);
      options.onCall?.(call);
    };

    if (api === "pre-reboot") {
      if (holders.includes(id)) return (record(200), answer(res, 200));
      if (holders.length < slots) {
        groups.set(group, [...holders, id].sort());
        return (record(200), answer(res, 200));
      }
      if (flavour === "poseidon") {
        record(423);
        return answer(res, 423, "lock_held", `reboot lease lock unavailable, held by ${holders[0]}`);
      }
      record(500);
      return answer(res, 500, "failed_lock", `all ${slots} semaphore slots currently locked`);
    }
    if (holders.includes(id)) {
      groups.set(group, holders.filter((h) => h !== id));
      return (record(200), answer(res, 200));
    }
    if (flavour === "poseidon" && holders.length > 0) {
      record(423);
      return answer(res, 423, "lock_held", `reboot lease lock unavailable, held by ${holders[0]}`);
    }
    return (record(200), answer(res, 200));
  });

  return {
    ...server,
    baseUrl: `${server.url.replace(/\/$/, "")}${mount}`,
    calls,
    holders: (group = "default") => [...holdersOf(group)],
    hold(id, group = "default") {
      const holders = holdersOf(group);
      if (!holders.includes(id)) groups.set(group, [...holders, id].sort());
    },
    free(id, group = "default") {
      groups.set(group, holdersOf(group).filter((h) => h !== id));
    },
  };
}
