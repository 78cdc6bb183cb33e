/**
 * Starts tests/helpers/logind-double.py on a private bus (see dbus-daemon.ts) and lets a test
 * change the sessions and inhibitors it reports while it runs.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, renameSync, rmSync, writeFileSync, existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stopChild } from "./process.js";

export interface DoubleSession {
  id: string;
  uid?: number;
  user?: string;
  seat?: string;
  /** logind's TTY property: "" when the session has none. */
  tty?: string;
  type?: string;
  class?: string;
  remote?: boolean;
  state?: string;
  service?: string;
  active?: boolean;
}

export interface DoubleInhibitor {
  what: string;
  who: string;
  why: string;
  mode: string;
  uid?: number;
  pid?: number;
}

export interface LogindDouble {
  /** Replaces what the double reports from its next call on. */
  set(sessions: DoubleSession[], inhibitors?: DoubleInhibitor[]): void;
  /** How many times `Reboot` was called. */
  reboots(): number;
  stop(): Promise<void>;
}

const SCRIPT = fileURLToPath(new URL("./logind-double.py", import.meta.url));

export async function startLogindDouble(options: {
  busAddress: string;
  sessions?: DoubleSession[];
  inhibitors?: DoubleInhibitor[];
}): Promise<LogindDouble> {
  const dir = mkdtempSync(join(tmpdir(), "ua-logind-"));
  const statePath = join(dir, "state.json");
  let inhibitorsNow = options.inhibitors ?? [];
  const write = (sessions: DoubleSession[], inhibitors: DoubleInhibitor[]) => {
    // Atomic, so the double never reads half a file.
    writeFileSync(`${statePath}.tmp`, JSON.stringify({ sessions, inhibitors }));
    renameSync(`${statePath}.tmp`, statePath);
  };
  write(options.sessions ?? [], inhibitorsNow);

  const child = spawn("/usr/bin/python3", [SCRIPT, options.busAddress, statePath], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`logind double did not start in 15 s: ${stderr}`)), 15_000);
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready\n")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`logind double exited with ${code}: ${stderr}`));
    });
  });

  return {
    set(sessions, inhibitors = inhibitorsNow) {
      inhibitorsNow = inhibitors;
      write(sessions, inhibitors);
    },
    reboots() {
      return existsSync(`${statePath}.reboots`) ? readFileSync(`${statePath}.reboots`, "utf8").split("\n").filter(Boolean).length : 0;
    },
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
