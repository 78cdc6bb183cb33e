#!/usr/bin/env node
// Development launcher: runs the TypeScript sources through tsx. Packages ship the esbuild bundle instead.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/agent/daemon.ts");
// Exit explicitly: after an orderly stop, a library's idle socket must not keep a stopped daemon alive.
process.exit(await main(process.argv.slice(2)));
