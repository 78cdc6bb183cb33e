/** Shared by the config tests: fragments from strings (pure path) and throwaway roots on disk (shell path). */
import { after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { assembleConfig, type LoadedConfig } from "../../src/config/index.js";
import { fragmentFormat } from "../../src/config/parse.js";
import { AgentError } from "../../src/errors.js";

/** Fragments as `[path, text]` pairs, already in application order. */
export function assemble(fragments: [string, string][]): LoadedConfig {
  return assembleConfig({
    fragments: fragments.map(([file, text]) => ({ file, text, format: fragmentFormat(file) ?? "toml" })),
    problems: [],
    warnings: [],
  });
}

/** The AgentError a configuration is rejected with; fails the test when it is accepted. */
export function rejectionOf(run: () => unknown): AgentError {
  try {
    run();
  } catch (e) {
    assert.ok(e instanceof AgentError, `expected an AgentError, got ${String(e)}`);
    return e;
  }
  assert.fail("expected the configuration to be rejected");
}

/** The problems a configuration error lists, as the `WHERE: MESSAGE` lines `config validate` prints. */
export function problemsOf(run: () => unknown): string[] {
  return problemLines(rejectionOf(run));
}

export function problemLines(e: unknown): string[] {
  assert.ok(e instanceof AgentError, `expected an AgentError, got ${String(e)}`);
  const problems = e.details?.["problems"];
  assert.ok(Array.isArray(problems));
  return problems.map((p: AgentError) => `${p.where}: ${p.message}`);
}

export const warningLines = (config: LoadedConfig) => config.warnings.map((w) => `${w.where}: ${w.message}`);

const roots: string[] = [];
after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

export type Entry = string | { link: string } | { dir: true };

/** A temporary root prefix holding the given files, links and directories (paths relative to the root). */
export function makeRoot(entries: Record<string, Entry>): string {
  const root = mkdtempSync(join(tmpdir(), "config-test-"));
  roots.push(root);
  for (const [path, entry] of Object.entries(entries)) {
    const full = join(root, path);
    mkdirSync(typeof entry === "object" && "dir" in entry ? full : dirname(full), { recursive: true });
    if (typeof entry === "string") writeFileSync(full, entry);
    else if ("link" in entry) symlinkSync(entry.link, full);
  }
  return root;
}

export const USR = "usr/lib/update-agent/config.d";
export const RUN = "run/update-agent/config.d";
export const ETC = "etc/update-agent/config.d";
