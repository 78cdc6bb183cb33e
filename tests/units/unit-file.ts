/** Shared bits for the tests of units/: the repository paths, a tiny unit-file reader, and running tools. */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const REPO = join(import.meta.dirname, "..", "..");
export const UNITS = join(REPO, "units");
export const SERVICE = join(UNITS, "update-agent.service");

/** `section → key → every value`, in file order; comments and blank lines dropped. */
export type UnitFile = Map<string, Map<string, string[]>>;

export function parseUnit(text: string): UnitFile {
  const unit: UnitFile = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1]!, section);
      continue;
    }
    const eq = line.indexOf("=");
    if (!section || eq < 0) throw new Error(`not a unit-file line: ${raw}`);
    const key = line.slice(0, eq).trim();
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return unit;
}

export function readService(): UnitFile {
  return parseUnit(readFileSync(SERVICE, "utf8"));
}

/** The values of `key` in `section` (empty when absent). */
export function values(unit: UnitFile, section: string, key: string): string[] {
  return unit.get(section)?.get(key) ?? [];
}

/** The one value of `key`: fails the test when it is missing or set twice. */
export function single(unit: UnitFile, section: string, key: string): string {
  const all = values(unit, section, key);
  if (all.length !== 1) throw new Error(`[${section}] ${key}= is set ${all.length} times, expected once`);
  return all[0]!;
}

export interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runTool(command: string, args: string[], env?: NodeJS.ProcessEnv): Ran {
  const r = spawnSync(command, args, { encoding: "utf8", env: env ?? process.env, timeout: 120_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function hasTool(name: string): boolean {
  return spawnSync("sh", ["-c", 'command -v "$1"', "sh", name]).status === 0;
}
