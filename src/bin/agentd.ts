/**
 * Entry point of the packaged daemon: packaging/build.mjs bundles it into
 * /usr/lib/update-agent/agentd.cjs, which /usr/libexec/update-agent/agentd runs (ExecStart=).
 * No top-level await: the bundle is CommonJS.
 */
import { main } from "../agent/daemon.js";

main(process.argv.slice(2)).then(
  // Exit explicitly: after an orderly stop, a library's idle socket must not keep a stopped daemon alive.
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`agentd: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
