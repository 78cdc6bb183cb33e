#!/usr/bin/env node
// Bundles update-agent and stages its install tree; with --deb and/or --rpm, also builds the packages.
// Usage: node packaging/build.mjs [--deb] [--rpm] [--out DIR]      (DIR defaults to dist/)
// Output: DIR/root/ (the tree as installed), DIR/update-agent_<v>-1_all.deb, DIR/update-agent-<v>-1.noarch.rpm.
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { buildDeb } from "./deb/build-deb.mjs";
import { buildRpm } from "./rpm/build-rpm.mjs";
import { stage } from "./stage.mjs";

const REPO = new URL("..", import.meta.url).pathname;
const USAGE = "usage: node packaging/build.mjs [--deb] [--rpm] [--out DIR]";

function parseArgs(argv) {
  const opts = { deb: false, rpm: false, out: resolve(REPO, "dist") };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--deb") opts.deb = true;
    else if (a === "--rpm") opts.rpm = true;
    else if (a === "--out" && argv[i + 1] !== undefined) opts.out = resolve(argv[++i]);
    else if (a.startsWith("--out=")) opts.out = resolve(a.slice("--out=".length));
    else if (a === "--help" || a === "-h") {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new Error(`unknown argument '${a}'\n${USAGE}`);
  }
  return opts;
}

try {
  const opts = parseArgs(process.argv.slice(2));
  await mkdir(opts.out, { recursive: true });
  const root = resolve(opts.out, "root");
  const info = await stage(REPO, root);
  process.stdout.write(`staged ${root} (update-agent ${info.version}, ${info.bundled.length} bundled npm packages)\n`);
  if (opts.deb) process.stdout.write(`built ${await buildDeb(root, opts.out, info)}\n`);
  if (opts.rpm) process.stdout.write(`built ${await buildRpm(root, opts.out, info)}\n`);
} catch (e) {
  process.stderr.write(`packaging/build.mjs: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
