/**
 * Entry point of the packaged `agentctl`: packaging/build.mjs bundles it into
 * /usr/lib/update-agent/agentctl.cjs (bin/agentctl.js is the development launcher).
 * No top-level await: the bundle is CommonJS.
 */
import { main } from "../cli/main.js";

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`agentctl: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
