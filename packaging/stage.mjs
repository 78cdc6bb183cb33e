/**
 * Builds the install tree every package is made from: the two CommonJS bundles, their launchers, the
 * systemd/D-Bus/polkit files, vendor config and docs, laid out as on the node (docs/packaging.md).
 */
import { build } from "esbuild";
import { chmod, copyFile, mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";

export const NODE = "/usr/bin/node";
export const LIB_DIR = "usr/lib/update-agent";
export const DOC_DIR = "usr/share/doc/update-agent";

/** Source file in the repository → path in the install tree (all 0644). */
const DATA_FILES = [
  ["units/update-agent.service", "usr/lib/systemd/system/update-agent.service"],
  ["units/update-agent.sysusers", "usr/lib/sysusers.d/update-agent.conf"],
  ["units/update-agent.tmpfiles", "usr/lib/tmpfiles.d/update-agent.conf"],
  ["units/org.updateagent.Agent.conf", "usr/share/dbus-1/system.d/org.updateagent.Agent.conf"],
  ["units/update-agent.polkit.rules", "usr/share/polkit-1/rules.d/update-agent.rules"],
  ["README.md", `${DOC_DIR}/README.md`],
  ["LICENSE", `${DOC_DIR}/LICENSE`],
];

/**
 * V8's lite mode for the daemon: no optimizing compilers and no type feedback until a function is hot. agentd
 * sleeps for minutes between checks of a few milliseconds, so speed is worth nothing and memory is worth keeping:
 * about 5 MiB less resident when idle (bench/agentd.bench.ts, which runs the bundle with these same flags).
 */
export const AGENTD_NODE_FLAGS = ["--lite-mode"];

/** The launchers: `exec` keeps the pid, so systemd's MAINPID is node itself (Type=notify, watchdog). */
export const LAUNCHERS = [
  { path: "usr/libexec/update-agent/agentd", bundle: `/${LIB_DIR}/agentd.cjs`, nodeFlags: AGENTD_NODE_FLAGS },
  { path: "usr/bin/agentctl", bundle: `/${LIB_DIR}/agentctl.cjs`, nodeFlags: [] },
];

function launcherText({ bundle, nodeFlags }) {
  const command = [NODE, ...nodeFlags, bundle].join(" ");
  return `#!/bin/sh\n# Installed by update-agent: runs the bundled JavaScript with the system's Node.js (>= 20.19).\nexec ${command} "$@"\n`;
}

/**
 * One luxon in each bundle. Our code imports luxon's ES module build and cron-parser requires its CommonJS build, so
 * both would be bundled: two copies of its code and caches, and two DateTime classes (`instanceof` fails across them).
 * Resolving every `require("luxon")` as an import leaves only the ES module build, the one our code is tested with.
 */
const oneLuxon = {
  name: "one-luxon",
  setup(build) {
    build.onResolve({ filter: /^luxon$/ }, (args) =>
      args.kind === "require-call"
        ? build.resolve(args.path, { kind: "import-statement", importer: args.importer, resolveDir: args.resolveDir })
        : undefined,
    );
  },
};

/**
 * Builds the tree under `root` (emptied first) from the repository at `repo`. Resolves to what the
 * package builders need: the version and the bundled npm packages with their licences.
 */
export async function stage(repo, root) {
  const pkg = JSON.parse(await readFile(join(repo, "package.json"), "utf8"));
  await rm(root, { recursive: true, force: true });
  await mkdir(join(root, LIB_DIR), { recursive: true });

  const result = await build({
    absWorkingDir: repo,
    entryPoints: { agentd: "src/bin/agentd.ts", agentctl: "src/bin/agentctl.ts" },
    outdir: join(root, LIB_DIR),
    outExtension: { ".js": ".cjs" },
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    // Licence comments go to <bundle>.LEGAL.txt, installed next to the docs.
    legalComments: "external",
    // One non-ASCII character makes V8 keep the whole 2 MB source as a two-byte string; escaping them, and
    // dropping whitespace (names are kept, so stack traces still read), saves a few MB of resident memory.
    charset: "ascii",
    minifyWhitespace: true,
    keepNames: true,
    metafile: true,
    logLevel: "warning",
    plugins: [oneLuxon],
  });

  for (const [from, to] of DATA_FILES) await install(join(repo, from), join(root, to), 0o644);
  for (const name of (await readdir(join(repo, "config.d"))).filter((n) => n.endsWith(".toml")).sort()) {
    await install(join(repo, "config.d", name), join(root, LIB_DIR, "config.d", name), 0o644);
  }
  for (const name of (await readdir(join(repo, "docs"))).filter((n) => n.endsWith(".md")).sort()) {
    await install(join(repo, "docs", name), join(root, DOC_DIR, "docs", name), 0o644);
  }
  for (const launcher of LAUNCHERS) {
    await mkdir(dirname(join(root, launcher.path)), { recursive: true });
    await writeFile(join(root, launcher.path), launcherText(launcher));
    await chmod(join(root, launcher.path), 0o755);
  }
  for (const name of ["agentd.cjs.LEGAL.txt", "agentctl.cjs.LEGAL.txt"]) {
    const from = join(root, LIB_DIR, name);
    await install(from, join(root, DOC_DIR, name), 0o644).catch(() => {});
    await rm(from, { force: true });
  }

  const bundled = await bundledPackages(repo, result.metafile);
  await writeFile(join(root, DOC_DIR, "bundled-licenses.txt"), licencesText(pkg, bundled));
  await normalizeModes(root);
  return { version: pkg.version, license: pkg.license, description: pkg.description, bundled };
}

async function install(from, to, mode) {
  await mkdir(dirname(to), { recursive: true });
  await copyFile(from, to);
  await chmod(to, mode);
}

/** Every directory 0755 and every file 0644, except the executables (whatever the umask was). */
async function normalizeModes(dir) {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await normalizeModes(path);
    else if (entry.isFile()) {
      const executable = LAUNCHERS.some((l) => path.endsWith(sep + l.path.split("/").join(sep)));
      await chmod(path, executable ? 0o755 : 0o644);
    }
  }
}

/** The npm packages whose code ended up in a bundle, from esbuild's metafile. */
async function bundledPackages(repo, metafile) {
  const roots = new Set();
  for (const input of Object.keys(metafile.inputs)) {
    const at = input.lastIndexOf("node_modules/");
    if (at < 0) continue;
    const parts = input.slice(at + "node_modules/".length).split("/");
    const name = parts[0].startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
    roots.add(input.slice(0, at) + "node_modules/" + name);
  }
  const packages = [];
  for (const dir of [...roots].sort()) {
    const abs = join(repo, dir);
    const meta = JSON.parse(await readFile(join(abs, "package.json"), "utf8"));
    const files = (await readdir(abs)).filter((n) => /^(licen[cs]e|copying|notice)([._-].*)?$/i.test(n)).sort();
    const texts = [];
    for (const file of files) texts.push({ file, text: await readFile(join(abs, file), "utf8") });
    packages.push({ name: meta.name, version: meta.version, license: licenceOf(meta), path: relative(repo, abs), texts });
  }
  return packages.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function licenceOf(meta) {
  if (typeof meta.license === "string") return meta.license;
  if (meta.license && typeof meta.license.type === "string") return meta.license.type;
  if (Array.isArray(meta.licenses)) return meta.licenses.map((l) => l.type ?? String(l)).join(" OR ");
  return "UNKNOWN";
}

function licencesText(pkg, bundled) {
  const width = Math.max(...bundled.map((p) => `${p.name} ${p.version}`.length));
  const lines = [
    `${pkg.name} ${pkg.version} (${pkg.license}) bundles the npm packages below into`,
    `/${LIB_DIR}/agentd.cjs and /${LIB_DIR}/agentctl.cjs.`,
    "",
    ...bundled.map((p) => `  ${`${p.name} ${p.version}`.padEnd(width)}  ${p.license}`),
    "",
  ];
  for (const p of bundled) {
    lines.push("=".repeat(78), `${p.name} ${p.version}: ${p.license}`, "=".repeat(78));
    if (p.texts.length === 0) lines.push(`(the package ships no licence file; its package.json says "${p.license}")`, "");
    for (const t of p.texts) lines.push(`--- ${t.file}`, t.text.trimEnd(), "");
  }
  return lines.join("\n") + "\n";
}

/** The SPDX expression for the whole package: ours AND every bundled package's. */
export function combinedLicense(own, bundled) {
  const all = new Set([own]);
  for (const p of bundled) all.add(/\s/.test(p.license) ? `(${p.license.replace(/^\((.*)\)$/, "$1")})` : p.license);
  return [...all].join(" AND ");
}
