/** Running the packaging tools: fail with the tool's own output, and say how to install a missing one. */
import { spawnSync } from "node:child_process";

export function hasTool(name) {
  return spawnSync("sh", ["-c", 'command -v "$1"', "sh", name]).status === 0;
}

export function requireTool(name, hint) {
  if (!hasTool(name)) throw new Error(`${name} is not installed (${hint})`);
}

export function run(command, args, options = {}) {
  const r = spawnSync(command, args, { encoding: "utf8", ...options });
  if (r.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout ?? ""}${r.stderr ?? ""}`);
  }
  return r.stdout;
}
