/** `agentctl denylist`: the releases the agent will not install by itself, one block per entry. Pure. */
import type { DenylistEntry } from "../../agent/state.js";
import { releaseLabel } from "../../health/record.js";
import { alignedBlock, plural, timeInWords } from "./words.js";

export const DENYLIST_FORMAT_VERSION = 1;

/** Where an entry came from, in words an admin can act on. */
export const SOURCE_WORDS: Record<DenylistEntry["source"], string> = {
  local: "this node",
  fleet: "the fleet's shared store",
  boot: "deployment history (a failed boot)",
};

export function renderDenylist(entries: readonly DenylistEntry[], now: Date, zone: string): string {
  if (entries.length === 0) return "The denylist is empty: agentd may install any release the update graph offers.\n";
  const lines = [`${plural(entries.length, "release")} never installed automatically:`];
  for (const e of entries) {
    lines.push("", `  ${releaseLabel(e)}`);
    const block = alignedBlock([
      ["payload", e.payload],
      ["reason", e.reason],
      ["added", timeInWords(e.at, now, zone)],
      ["source", SOURCE_WORDS[e.source] ?? e.source],
    ]);
    lines.push(...block.map((l) => `    ${l}`));
  }
  lines.push("", "`agentctl denylist remove VERSION|PAYLOAD` (with agentd stopped) lets the agent install one again.");
  return lines.join("\n") + "\n";
}

/** The entries `remove` acts on: a payload names one release, a version every build of it. */
export function matchingEntries(entries: readonly DenylistEntry[], versionOrPayload: string): DenylistEntry[] {
  return entries.filter((e) => e.payload === versionOrPayload || e.version === versionOrPayload);
}
