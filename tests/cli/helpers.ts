/** Harnesses for the agentctl tests: run the CLI in-process, a temp root with a state file, a bus with agentd's service. */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { MessageBus } from "@jellybrick/dbus-next";
import { main } from "../../src/cli/main.js";
import { connectSystemBus } from "../../src/host/dbus.js";
import { exportAgentService, type AgentControl, type ExportedAgentService } from "../../src/api/agent-service.js";
import { statusView, type LiveFacts } from "../../src/agent/view.js";
import { initialAgentState, type AgentState } from "../../src/agent/state.js";
import { statePath } from "../../src/state/index.js";
import { startPrivateBus, type PrivateBus } from "../helpers/dbus-daemon.js";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function agentctl(env: NodeJS.ProcessEnv, ...argv: string[]): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env });
  return { code, stdout, stderr };
}

/** A system bus address where nothing listens: agentctl must treat it as "agentd is not running", at once. */
export const NO_BUS: NodeJS.ProcessEnv = { DBUS_SYSTEM_BUS_ADDRESS: "unix:path=/nonexistent/update-agent-test/bus.sock" };

export const BOOTED = { version: "41.20251110.3.0", payload: "5a3b6c7d8e9f00112233445566778899aabbccddeeff00112233445566778899" };
export const TARGET = { version: "41.20251125.3.0", payload: "9f8e7d6c5b4a00112233445566778899aabbccddeeff00112233445566778899", age_index: 7 };

const roots: string[] = [];

/** A temp directory for `--root`; call `removeRoots` from an `after` hook of the file. */
export function makeRoot(): string {
  const root = mkdtempSync(join(tmpdir(), "ua-cli-"));
  roots.push(root);
  return root;
}

export function removeRoots(): void {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
}

/** Writes `state` as agentd would (schema version 1), or raw text for a broken file. */
export function writeState(root: string, state: AgentState | string): string {
  const path = statePath(root);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, typeof state === "string" ? state : JSON.stringify({ schema_version: 1, state }, null, 2));
  return path;
}

export function stagedState(overrides: Partial<AgentState> = {}): AgentState {
  return {
    ...initialAgentState(),
    phase: {
      kind: "staged",
      target: TARGET,
      staged_at: "2026-12-01T20:00:00Z",
      postponements_left: 10,
      wait: { kind: "window", message: "waiting for the next maintenance window", until: "2026-12-01T23:00:00Z" },
    },
    ...overrides,
  };
}

/** agentd's D-Bus service on a private bus, over a state the test sets, recording every control call. */
export interface ServedAgent {
  bus: PrivateBus;
  env: NodeJS.ProcessEnv;
  calls: string[];
  setState(state: AgentState): void;
  stop(): Promise<void>;
}

export async function serveAgent(
  state: AgentState,
  facts: LiveFacts = { strategy: "periodic", booted: BOOTED },
  allowedUids: number[] = [0, process.getuid?.() ?? 0],
): Promise<ServedAgent> {
  const bus = await startPrivateBus();
  let current = state;
  const calls: string[] = [];
  const control: AgentControl = {
    view: () => statusView(current, facts, "running"),
    checkNow: () => void calls.push("CheckNow"),
    applyNow: () => void calls.push("ApplyNow"),
    pauseUntil: (until) => void calls.push(`PauseUntil ${until.toISOString()}`),
    resume: () => void calls.push("Resume"),
  };
  let conn: MessageBus | undefined;
  let service: ExportedAgentService | undefined;
  try {
    conn = connectSystemBus({ DBUS_SYSTEM_BUS_ADDRESS: bus.address });
    service = await exportAgentService(conn, control, allowedUids);
  } catch (e) {
    conn?.disconnect();
    await bus.stop();
    throw e;
  }
  return {
    bus,
    env: { DBUS_SYSTEM_BUS_ADDRESS: bus.address },
    calls,
    setState: (s) => void (current = s),
    async stop() {
      await service?.close();
      conn?.disconnect();
      await bus.stop();
    },
  };
}

/** The value column of `Key: value` in agentctl's aligned block, or undefined when the key is not shown. */
export function field(text: string, key: string): string | undefined {
  const line = text.split("\n").find((l) => l.trimStart().startsWith(`${key}: `));
  return line?.trimStart().slice(key.length + 2);
}
