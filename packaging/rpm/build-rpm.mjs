/**
 * The .rpm: rpmbuild -bb on packaging/rpm/update-agent.spec, with the staged tree as its only source.
 * Works with Debian's `rpm` package as well as on Fedora.
 */
import { copyFile, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { combinedLicense } from "../stage.mjs";
import { requireTool, run } from "../tools.mjs";

const SPEC = new URL("update-agent.spec", import.meta.url).pathname;

/** Builds `<outDir>/update-agent-<version>-1.noarch.rpm` from the tree at `root`; resolves to its path. */
export async function buildRpm(root, outDir, info) {
  requireTool("rpmbuild", "apt-get install rpm, or dnf install rpm-build");
  const top = join(outDir, "rpm-build");
  await rm(top, { recursive: true, force: true });
  await mkdir(top, { recursive: true });

  const preamble = [
    `License:        ${combinedLicense(info.license, info.bundled)}`,
    ...info.bundled.map((p) => `Provides:       bundled(npm(${p.name})) = ${p.version}`),
    "",
  ].join("\n");
  const inc = join(top, "bundled.inc");
  await writeFile(inc, preamble);

  run("rpmbuild", [
    "-bb",
    "--quiet",
    "--define", `_topdir ${top}`,
    "--define", `stagedir ${root}`,
    "--define", `pkg_version ${info.version}`,
    "--define", `bundled_inc ${inc}`,
    SPEC,
  ]);

  const built = join(top, "RPMS", "noarch");
  const [name] = (await readdir(built)).filter((n) => n.endsWith(".rpm"));
  if (!name) throw new Error(`rpmbuild produced no package in ${built}`);
  const rpm = join(outDir, name);
  await copyFile(join(built, name), rpm);
  await rm(top, { recursive: true, force: true });
  return rpm;
}
