/**
 * The one place that opens D-Bus connections. The system bus address comes from
 * DBUS_SYSTEM_BUS_ADDRESS when set (tests, the demo, the e2e box), else the standard socket.
 * Every connection gets an `error` listener: without one, the library's emitted errors kill the process.
 */
import { sessionBus, Variant, type MessageBus } from "@jellybrick/dbus-next";

export const DEFAULT_SYSTEM_BUS_ADDRESS = "unix:path=/run/dbus/system_bus_socket";

export function systemBusAddress(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.DBUS_SYSTEM_BUS_ADDRESS;
  return fromEnv !== undefined && fromEnv !== "" ? fromEnv : DEFAULT_SYSTEM_BUS_ADDRESS;
}

export function connectSystemBus(
  env: NodeJS.ProcessEnv = process.env,
  onError: (error: Error) => void = () => {},
): MessageBus {
  // The library's systemBus() reads process.env itself and ignores the address it is given;
  // sessionBus() is the same client and honours an explicit address.
  const bus = sessionBus({ busAddress: systemBusAddress(env) });
  bus.on("error" as never, onError as never);
  return bus;
}

/**
 * Converts what the library hands back (Variants, BigInts for `t`/`x`, Buffers for `ay`) into plain
 * JSON-safe values, so nothing past the adapter ever sees a D-Bus type. 64-bit integers become numbers
 * (exact up to 2^53; the agent only reads timestamps and sizes through this).
 */
export function plain(value: unknown): unknown {
  if (value instanceof Variant) return plain(value.value);
  if (typeof value === "bigint") return Number(value);
  if (Buffer.isBuffer(value)) return value;
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plain(v);
    return out;
  }
  return value;
}
