/**
 * How `agentctl` talks to a running agentd: one Properties.Get for the status document, one call per
 * control method. A daemon that is not on the bus is a normal answer (`undefined`), not an error.
 */
import { Message, type MessageBus } from "@jellybrick/dbus-next";
import { AgentError } from "../errors.js";
import { connectSystemBus } from "../host/dbus.js";
import { dbusErrorName } from "../deploy/dbus-errors.js";
import { withTimeout } from "../deploy/timing.js";
import type { StatusView } from "../agent/view.js";
import { AGENT_BUS_NAME, AGENT_INTERFACE, AGENT_OBJECT_PATH } from "./agent-service.js";

const NOT_RUNNING = new Set([
  "org.freedesktop.DBus.Error.ServiceUnknown",
  "org.freedesktop.DBus.Error.NameHasNoOwner",
  "org.freedesktop.DBus.Error.UnknownObject",
]);

const CALL_TIMEOUT_MS = 10_000;

function answerInTime<T>(where: string, p: Promise<T>): Promise<T> {
  return withTimeout(p, CALL_TIMEOUT_MS, () => new AgentError("DAEMON_UNAVAILABLE", `no answer from agentd in ${CALL_TIMEOUT_MS / 1000} s`, { where }));
}

export class AgentClient {
  private constructor(private readonly bus: MessageBus) {}

  static connect(env: NodeJS.ProcessEnv = process.env): AgentClient {
    return new AgentClient(connectSystemBus(env));
  }

  /** The daemon's status, or undefined when no agentd is on the bus. */
  async status(): Promise<StatusView | undefined> {
    const where = `${AGENT_INTERFACE}.Status`;
    try {
      const reply = await answerInTime(
        where,
        this.bus.call(
          new Message({
            destination: AGENT_BUS_NAME,
            path: AGENT_OBJECT_PATH,
            interface: "org.freedesktop.DBus.Properties",
            member: "Get",
            signature: "ss",
            body: [AGENT_INTERFACE, "Status"],
          }),
        ),
      );
      const variant = reply?.body[0] as { value: unknown } | undefined;
      return JSON.parse(String(variant?.value)) as StatusView;
    } catch (e) {
      if (NOT_RUNNING.has(dbusErrorName(e) ?? "")) return undefined;
      if (e instanceof AgentError) throw e;
      throw new AgentError("DAEMON_UNAVAILABLE", `cannot read the agent's status: ${e instanceof Error ? e.message : String(e)}`, { where, cause: e });
    }
  }

  /** Calls a control method (CheckNow, ApplyNow, PauseUntil, Resume). */
  async control(member: "CheckNow" | "ApplyNow" | "PauseUntil" | "Resume", args: { signature: string; body: unknown[] } = { signature: "", body: [] }): Promise<void> {
    const where = `${AGENT_INTERFACE}.${member}`;
    try {
      await answerInTime(
        where,
        this.bus.call(
          new Message({ destination: AGENT_BUS_NAME, path: AGENT_OBJECT_PATH, interface: AGENT_INTERFACE, member, signature: args.signature, body: args.body }),
        ),
      );
    } catch (e) {
      const name = dbusErrorName(e);
      if (name && NOT_RUNNING.has(name)) throw new AgentError("DAEMON_UNAVAILABLE", "agentd is not running", { where, hint: "systemctl start update-agent" });
      if (name === "org.freedesktop.DBus.Error.AccessDenied") {
        throw new AgentError("PERMISSION_DENIED", e instanceof Error ? e.message : "access denied", { where, hint: "run it as root" });
      }
      if (e instanceof AgentError) throw e;
      throw new AgentError("DAEMON_UNAVAILABLE", e instanceof Error ? e.message : String(e), { where, cause: e });
    }
  }

  close(): void {
    this.bus.disconnect();
  }
}
