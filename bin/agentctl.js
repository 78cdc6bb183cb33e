#!/usr/bin/env node
// Development launcher: runs the TypeScript sources through tsx. Packages ship the esbuild bundle instead.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
