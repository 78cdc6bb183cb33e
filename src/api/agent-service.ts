/**
 * The agent's own D-Bus service on the system bus (documented in docs/dbus-api.md).
 * Properties are readable by everyone; methods change what the agent does, so only root (and the
 * agent's own user) may call them: the bus policy in units/ says so, and every call is checked again
 * here against the caller's uid, so a permissive or missing policy file does not open the door.
 */
import { interface as dbusInterface, Message, MessageType, type MessageBus } from "@jellybrick/dbus-next";
import type { StatusView } from "../agent/view.js";
import { AgentError } from "../errors.js";

export const AGENT_BUS_NAME = "org.updateagent.Agent";
export const AGENT_OBJECT_PATH = "/org/updateagent/Agent";
export const AGENT_INTERFACE = "org.updateagent.Agent1";

export interface AgentControl {
  view(): StatusView;
  checkNow(): void;
  applyNow(): void;
  /** `until` is Unix seconds. */
  pauseUntil(until: Date): void;
  resume(): void;
}

const ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied";
const INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs";

const METHODS: Record<string, { inSignature: string; run: (c: AgentControl, body: unknown[]) => void }> = {
  CheckNow: { inSignature: "", run: (c) => c.checkNow() },
  ApplyNow: { inSignature: "", run: (c) => c.applyNow() },
  PauseUntil: {
    inSignature: "t",
    run: (c, body) => {
      const secs = Number(body[0]);
      if (!Number.isFinite(secs) || secs <= 0) throw new RangeError("PauseUntil needs a Unix time in seconds");
      c.pauseUntil(new Date(secs * 1000));
    },
  },
  Resume: { inSignature: "", run: (c) => c.resume() },
};

/** The properties, computed from one status snapshot. */
function properties(v: StatusView): Record<string, string | number> {
  return {
    State: v.state,
    StatusText: v.status_text,
    Strategy: v.strategy,
    BootedVersion: v.booted?.version ?? "",
    TargetVersion: v.target?.version ?? "",
    StagedVersion: v.staged?.version ?? "",
    ProgressPercent: v.progress?.percent ?? -1,
    WaitReason: v.waiting?.message ?? "",
    LastCheck: v.last_check ? Math.floor(Date.parse(v.last_check.at) / 1000) : 0,
    LastError: v.last_error ? `${v.last_error.code}: ${v.last_error.message}` : "",
    PausedUntil: v.paused_until ? Math.floor(Date.parse(v.paused_until) / 1000) : 0,
    Status: JSON.stringify(v),
  };
}

const SIGNATURES: Record<string, string> = {
  State: "s",
  StatusText: "s",
  Strategy: "s",
  BootedVersion: "s",
  TargetVersion: "s",
  StagedVersion: "s",
  ProgressPercent: "i",
  WaitReason: "s",
  LastCheck: "t",
  LastError: "s",
  PausedUntil: "t",
  Status: "s",
};

export interface ExportedAgentService {
  /** Call after every state change: emits PropertiesChanged for what changed. */
  changed(): void;
  close(): Promise<void>;
}

async function callerUid(bus: MessageBus, sender: string): Promise<number> {
  const reply = await bus.call(
    new Message({
      destination: "org.freedesktop.DBus",
      path: "/org/freedesktop/DBus",
      interface: "org.freedesktop.DBus",
      member: "GetConnectionUnixUser",
      signature: "s",
      body: [sender],
    }),
  );
  return Number(reply?.body[0]);
}

export async function exportAgentService(bus: MessageBus, control: AgentControl, allowedUids: number[]): Promise<ExportedAgentService> {
  class AgentInterface extends dbusInterface.Interface {}
  const props: Record<string, { signature: string; access: "read" }> = {};
  for (const [name, signature] of Object.entries(SIGNATURES)) {
    props[name] = { signature, access: "read" };
    Object.defineProperty(AgentInterface.prototype, name, { get: () => properties(control.view())[name] });
  }
  const methods: Record<string, { inSignature: string; outSignature: string }> = {};
  for (const [name, m] of Object.entries(METHODS)) {
    methods[name] = { inSignature: m.inSignature, outSignature: "" };
    // Never reached: the handler below answers first, after checking the caller. Kept for introspection.
    Object.defineProperty(AgentInterface.prototype, name, { value: () => undefined });
  }
  AgentInterface.configureMembers({ properties: props, methods });
  const iface = new AgentInterface(AGENT_INTERFACE);
  // The library's compiled class fields set own `$properties`/`$methods`/`$signals` to undefined, which
  // hide what configureMembers put on the prototype; removing them restores the configured members.
  for (const field of ["$properties", "$methods", "$signals"]) {
    if (Object.hasOwn(iface, field) && (iface as unknown as Record<string, unknown>)[field] === undefined) {
      delete (iface as unknown as Record<string, unknown>)[field];
    }
  }

  const handler = (msg: Message): boolean => {
    if (msg.type !== MessageType.METHOD_CALL || msg.path !== AGENT_OBJECT_PATH || msg.interface !== AGENT_INTERFACE) return false;
    const method = METHODS[msg.member ?? ""];
    if (!method || (msg.signature ?? "") !== method.inSignature) return false;
    void (async () => {
      try {
        const uid = await callerUid(bus, msg.sender ?? "");
        if (!allowedUids.includes(uid)) {
          bus.send(Message.newError(msg, ACCESS_DENIED, `${msg.member} may only be called by root (caller uid ${uid})`));
          return;
        }
        method.run(control, msg.body);
        bus.send(Message.newMethodReturn(msg, "", []));
      } catch (e) {
        bus.send(Message.newError(msg, INVALID_ARGS, e instanceof Error ? e.message : String(e)));
      }
    })();
    return true;
  };
  bus.addMethodHandler(handler);
  bus.export(AGENT_OBJECT_PATH, iface);
  const reply = await bus.requestName(AGENT_BUS_NAME, 0x4 /* DO_NOT_QUEUE */);
  if (reply !== 1 /* PRIMARY_OWNER */) {
    bus.removeMethodHandler(handler);
    bus.unexport(AGENT_OBJECT_PATH, iface);
    throw new AgentError("DEPLOY_DBUS", `${AGENT_BUS_NAME} is already owned: is another agentd running?`, {
      where: "org.freedesktop.DBus.RequestName",
      hint: "stop the other instance (systemctl stop update-agent) first",
    });
  }

  let last = properties(control.view());
  return {
    changed() {
      const now = properties(control.view());
      const diff: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(now)) if (last[k] !== v) diff[k] = v;
      last = now;
      if (Object.keys(diff).length > 0) dbusInterface.Interface.emitPropertiesChanged(iface, diff, []);
    },
    async close() {
      bus.removeMethodHandler(handler);
      bus.unexport(AGENT_OBJECT_PATH, iface);
      await bus.releaseName(AGENT_BUS_NAME).catch(() => undefined);
    },
  };
}
