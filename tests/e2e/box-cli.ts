/**
 * The e2e box by hand (scripts/box.sh runs this): `build` prints the cached root file system, `up` boots
 * a box and stays in the foreground through its reboots until it powers off (Ctrl-C destroys it).
 * While it is up, <cache>/manual-box.json names it, and `scripts/box.sh shell` enters it.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { at, bootedFrom, OCI_RELEASES } from "../sim/sample-releases.js";
import { Box } from "./box.js";
import { buildRootfs, defaultCacheDir } from "./rootfs.js";
import { installSimulator } from "./sim-in-box.js";

const USAGE = `usage: box-cli.ts build
       box-cli.ts up [--sim] [--keep]`;

async function main(argv: string[]): Promise<number> {
  const [command, ...flags] = argv;
  const cacheDir = defaultCacheDir();
  if (command === "build") {
    const started = Date.now();
    const rootfs = await buildRootfs({ cacheDir, log: (text) => process.stderr.write(text) });
    process.stderr.write(`root file system ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    console.log(rootfs);
    return 0;
  }
  if (command !== "up") {
    console.error(USAGE);
    return 2;
  }
  const unknown = flags.filter((f) => f !== "--sim" && f !== "--keep");
  if (unknown.length > 0) {
    console.error(`unknown option ${unknown[0]}\n${USAGE}`);
    return 2;
  }
  const stateFile = join(cacheDir, "manual-box.json");
  const rootfs = await buildRootfs({ cacheDir, log: (text) => process.stderr.write(text) });
  const started = Date.now();
  const box = await Box.boot({ rootfs, cacheDir, keep: flags.includes("--keep") });
  const announce = () => {
    writeFileSync(stateFile, JSON.stringify({ name: box.name, pid: box.pid, root: box.root, runDir: box.runDir, owner: process.pid }, null, 1));
    console.log(`box ${box.name} is up (boot ${box.boots}, PID 1 is host pid ${box.pid}); scripts/box.sh shell enters it`);
  };
  try {
    console.log(`booted in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (flags.includes("--sim")) {
      await installSimulator(box, { booted: bootedFrom(at(OCI_RELEASES, 0), "oci"), available: OCI_RELEASES });
      console.log("rpm-ostreed.service (the simulator) is installed; the first D-Bus call starts it");
    }
    announce();
    const status = await box.runUntilPoweroff({
      onReboot: (boot) => console.log(`boot ${boot} ended with a reboot (129); booting again`),
      onBoot: () => {
        if (box.running) announce();
      },
      maxBoots: Number.MAX_SAFE_INTEGER,
    });
    console.log(`PID 1 exited with ${status}${status === 130 ? " (power-off)" : ""}`);
    return 0;
  } finally {
    rmSync(stateFile, { force: true });
    await box.destroy();
    if (flags.includes("--keep")) console.log(`kept ${box.runDir} (its disk is ${box.runDir}/upper)`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(error.message);
    process.exit(1);
  },
);
