/**
 * A real, private dbus-daemon for tests: its own config and socket in a temp directory,
 * so tests never touch the machine's system bus. Point clients at it with
 * DBUS_SYSTEM_BUS_ADDRESS=<address>.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stopChild } from "./process.js";

export interface PrivateBus {
  address: string;
  socketPath: string;
  dir: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface PrivateBusOptions {
  /**
   * Extra policy files (`<busconfig>` documents, e.g. units/*.conf) to include, so a test can check
   * the project's own D-Bus policy. Without them the bus lets anyone own and call anything.
   */
  policyFiles?: string[];
  /** Replace the permissive default policy with only `policyFiles` (plus "root may own anything"). */
  strict?: boolean;
}

const PERMISSIVE = `
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus"/>
  </policy>`;

const STRICT_BASE = `
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <policy user="root">
    <allow own="*"/>
    <allow send_destination="*"/>
  </policy>`;

export async function startPrivateBus(options: PrivateBusOptions = {}): Promise<PrivateBus> {
  if (!existsSync("/usr/bin/dbus-daemon")) {
    throw new Error("dbus-daemon is not installed (apt-get install dbus); the integration tests need a real bus");
  }
  const dir = mkdtempSync(join(tmpdir(), "ua-bus-"));
  const socketPath = join(dir, "bus.sock");
  const includes = (options.policyFiles ?? []).map((f) => `  <include>${f}</include>`).join("\n");
  const config = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${socketPath}</listen>
  <auth>EXTERNAL</auth>
${options.strict ? STRICT_BASE : PERMISSIVE}
${includes}
</busconfig>
`;
  const configPath = join(dir, "bus.conf");
  writeFileSync(configPath, config);
  const child = spawn("/usr/bin/dbus-daemon", ["--config-file", configPath, "--nofork", "--nopidfile", "--print-address=1"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const address = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`dbus-daemon did not start in 10 s: ${stderr}`)), 10_000);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf("\n");
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, nl).trim());
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`dbus-daemon exited with ${code}: ${stderr}`));
    });
  });
  return {
    address,
    socketPath,
    dir,
    process: child,
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
