/**
 * A raw peer-to-peer D-Bus connection, for rpm-ostree's private transaction sockets.
 *
 * A transaction address is a GDBusServer, not a message bus: the client must not send `Hello`, there
 * is no `AddMatch`, and messages carry no sender. The library's `MessageBus` always sends `Hello` (a
 * GDBus peer answers it with an error), so we use the library's lower layer instead: its
 * `DBusConnection` does the SASL EXTERNAL handshake and the (un)marshalling, and we match replies to
 * calls and read signals from the raw message stream ourselves. The class is not exported by
 * @jellybrick/dbus-next 0.11, so we take it from a live bus connection's `_connection`; a library
 * change that breaks this fails loudly here, and tests/deploy cover it against a GDBus server.
 */
import { EventEmitter } from "node:events";
import { DBusError, Message, MessageType, type MessageBus } from "@jellybrick/dbus-next";
import { plain } from "../host/dbus.js";
import { AgentError } from "../errors.js";
import { withTimeout } from "./timing.js";

interface RawConnection extends EventEmitter {
  message(msg: Message): void;
  end(): unknown;
}

export type RawConnectionClass = new (options: { busAddress: string; authMethods: string[] }) => RawConnection;

/** The library's DBusConnection class, found through a connected bus (see the file comment for why). */
export function rawConnectionClass(bus: MessageBus): RawConnectionClass {
  const connection = (bus as unknown as { _connection?: unknown })._connection;
  const candidate = connection as Partial<RawConnection> | undefined;
  if (!(connection instanceof EventEmitter) || typeof candidate?.message !== "function" || typeof candidate.end !== "function") {
    throw new AgentError("INTERNAL", "the installed @jellybrick/dbus-next has no usable DBusConnection class", {
      where: "src/deploy/peer-connection.ts",
      hint: "the peer-to-peer transaction client depends on @jellybrick/dbus-next 0.11 internals; pin that version",
    });
  }
  return connection.constructor as RawConnectionClass;
}

export interface PeerSignal {
  interface: string;
  member: string;
  /** Already converted by `plain()`: no Variants, no BigInts. */
  body: unknown[];
}

export interface PeerCall {
  interface: string;
  member: string;
  path?: string;
  signature?: string;
  body?: unknown[];
  timeoutMs: number;
}

export interface PeerConnection {
  /** Calls a method on the peer; rejects with the library's DBusError on an error reply. */
  call(call: PeerCall): Promise<unknown[]>;
  /** Settles (never rejects) with the reason once the connection is gone, whoever closed it. */
  readonly closed: Promise<Error>;
  close(): void;
}

interface Pending {
  resolve: (body: unknown[]) => void;
  reject: (error: Error) => void;
}

/**
 * Connects and authenticates to `address`, delivering every signal to `onSignal` from the first
 * message on, so nothing emitted right after `Start` can be missed.
 */
export async function openPeerConnection(
  address: string,
  options: { connectionClass: RawConnectionClass; timeoutMs: number; onSignal: (signal: PeerSignal) => void },
): Promise<PeerConnection> {
  const raw = new options.connectionClass({ busAddress: address, authMethods: ["EXTERNAL"] });
  const pending = new Map<number, Pending>();
  let nextSerial = 1;
  let closedReason: Error | undefined;
  let resolveClosed: (reason: Error) => void = () => {};
  const closed = new Promise<Error>((resolve) => (resolveClosed = resolve));

  const drop = (reason: Error): void => {
    if (closedReason !== undefined) return;
    closedReason = reason;
    for (const call of pending.values()) call.reject(reason);
    pending.clear();
    resolveClosed(reason);
  };
  raw.on("error", (error: unknown) => drop(error instanceof Error ? error : new Error(String(error))));
  raw.on("end", () => drop(new Error("the peer closed the connection")));
  raw.on("message", (msg: Message) => {
    if (msg.type === MessageType.SIGNAL) {
      options.onSignal({ interface: msg.interface, member: msg.member, body: plain(msg.body) as unknown[] });
      return;
    }
    if (msg.type !== MessageType.METHOD_RETURN && msg.type !== MessageType.ERROR) return;
    const call = msg.replySerial === undefined ? undefined : pending.get(msg.replySerial);
    if (call === undefined || msg.replySerial === undefined) return;
    pending.delete(msg.replySerial);
    if (msg.type === MessageType.ERROR) {
      const text = typeof msg.body[0] === "string" ? msg.body[0] : undefined;
      call.reject(new DBusError(msg.errorName, text, msg));
    } else {
      call.resolve(msg.body);
    }
  });

  const connected = new Promise<void>((resolve, reject) => {
    raw.once("connect", () => resolve());
    void closed.then(reject);
  });
  try {
    await withTimeout(connected, options.timeoutMs, () => new Error(`no answer from ${address} within ${options.timeoutMs} ms`));
  } catch (error) {
    raw.end();
    drop(error as Error);
    throw error;
  }

  return {
    closed,
    call(call: PeerCall): Promise<unknown[]> {
      if (closedReason !== undefined) return Promise.reject(closedReason);
      const msg = new Message({
        path: call.path ?? "/",
        interface: call.interface,
        member: call.member,
        signature: call.signature ?? "",
        body: call.body ?? [],
      });
      const serial = nextSerial++;
      msg.serial = serial;
      const reply = new Promise<unknown[]>((resolve, reject) => pending.set(serial, { resolve, reject }));
      raw.message(msg);
      return withTimeout(reply, call.timeoutMs, () => {
        pending.delete(serial);
        return new AgentError("DEPLOY_TIMEOUT", `no reply to ${call.member} within ${call.timeoutMs} ms`, {
          where: `${call.interface}.${call.member}`,
        });
      });
    },
    close(): void {
      raw.end();
      drop(new Error("closed by the agent"));
    },
  };
}
