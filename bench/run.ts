/**
 * Runs every bench/*.bench.ts (except fleet.bench.ts, which has its own npm script) in its own Node
 * process, one after the other so they do not compete for the CPU, and fails if any of them fails.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const EXCLUDED = new Set(["fleet.bench.ts"]);
const dir = fileURLToPath(new URL(".", import.meta.url));
const benches = readdirSync(dir)
  .filter((name) => name.endsWith(".bench.ts") && !EXCLUDED.has(name))
  .sort();

if (benches.length === 0) {
  console.error(`no benchmarks in ${dir}`);
  process.exit(1);
}

const failed: string[] = [];
for (const name of benches) {
  console.log(`== ${name}`);
  const result = spawnSync(process.execPath, ["--import", "tsx", join(dir, name)], { stdio: "inherit" });
  if (result.status !== 0) failed.push(`${name} (${result.signal ?? `exit ${result.status}`})`);
}
if (failed.length > 0) {
  console.error(`failed: ${failed.join(", ")}`);
  process.exit(1);
}
console.log(`all ${benches.length} benchmarks passed`);
