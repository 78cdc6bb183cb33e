#!/usr/bin/env node
// Runs every tests/**/*.test.ts under node's own test runner (Node 20 has no --test globs).
// Usage: node scripts/run-tests.mjs [DIR_OR_FILE ...]   (default: tests/, without tests/e2e)
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { spawnSync } from "node:child_process";

const root = new URL("..", import.meta.url).pathname;
const args = process.argv.slice(2);
const targets = args.length > 0 ? args : ["tests"];
const includeE2e = args.some((a) => a.includes("e2e"));

function collect(path, out) {
  const st = statSync(path);
  if (st.isFile()) {
    if (path.endsWith(".test.ts")) out.push(path);
    return;
  }
  for (const name of readdirSync(path).sort()) {
    if (name === "fixtures" || name === "node_modules") continue;
    if (name === "e2e" && !includeE2e) continue;
    collect(join(path, name), out);
  }
}

const files = [];
for (const t of targets) collect(join(root, t), files);
if (files.length === 0) {
  console.error(`no test files under ${targets.join(" ")}`);
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-reporter=spec", "--test-concurrency=2", ...files.map((f) => relative(root, f))],
  { cwd: root, stdio: "inherit" },
);
process.exit(result.status ?? 1);
