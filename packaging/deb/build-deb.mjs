/**
 * The .deb: the staged tree plus DEBIAN/ (control, md5sums, maintainer scripts), packed by dpkg-deb with
 * root ownership whoever builds it.
 */
import { createHash } from "node:crypto";
import { chmod, copyFile, cp, mkdir, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { requireTool, run } from "../tools.mjs";

const HERE = new URL(".", import.meta.url).pathname;
const SCRIPTS = ["postinst", "prerm", "postrm"];

/** Builds `<outDir>/update-agent_<version>-1_all.deb` from the tree at `root`; resolves to its path. */
export async function buildDeb(root, outDir, info) {
  requireTool("dpkg-deb", "apt-get install dpkg (dpkg-deb)");
  const version = `${info.version}-1`;
  const work = join(outDir, "deb-build");
  await rm(work, { recursive: true, force: true });
  await cp(root, work, { recursive: true, preserveTimestamps: true });

  const files = await listFiles(work);
  let bytes = 0;
  const sums = [];
  for (const rel of files) {
    const data = await readFile(join(work, rel));
    bytes += data.length;
    sums.push(`${createHash("md5").update(data).digest("hex")}  ${rel}`);
  }

  const debian = join(work, "DEBIAN");
  await mkdir(debian, { mode: 0o755 });
  const control = (await readFile(join(HERE, "control.in"), "utf8"))
    .replace("@VERSION@", version)
    .replace("@INSTALLED_SIZE@", String(Math.ceil(bytes / 1024)));
  await writeFile(join(debian, "control"), control);
  await writeFile(join(debian, "md5sums"), sums.join("\n") + "\n");
  await chmod(join(debian, "control"), 0o644);
  await chmod(join(debian, "md5sums"), 0o644);
  for (const name of SCRIPTS) {
    await copyFile(join(HERE, name), join(debian, name));
    await chmod(join(debian, name), 0o755);
  }

  const deb = join(outDir, `update-agent_${version}_all.deb`);
  run("dpkg-deb", ["--root-owner-group", "-Zxz", "--build", work, deb]);
  await rm(work, { recursive: true, force: true });
  return deb;
}

async function listFiles(dir, prefix = "") {
  const out = [];
  for (const entry of (await readdir(join(dir, prefix), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else if ((await stat(join(dir, rel))).isFile()) out.push(rel);
  }
  return out;
}
