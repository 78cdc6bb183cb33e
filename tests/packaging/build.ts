/** Shared by the packaging tests: running packaging/build.mjs into a scratch directory, and what it must produce. */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const REPO = join(import.meta.dirname, "..", "..");

export interface Built {
  out: string;
  root: string;
  stdout: string;
}

/** `node packaging/build.mjs --out <out> ...flags`; throws with the build's output when it fails. */
export function build(out: string, flags: string[] = []): Built {
  const r = spawnSync(process.execPath, [join(REPO, "packaging/build.mjs"), "--out", out, ...flags], {
    cwd: REPO,
    encoding: "utf8",
    timeout: 300_000,
  });
  if (r.status !== 0) throw new Error(`packaging/build.mjs ${flags.join(" ")} failed (${r.status}):\n${r.stdout}${r.stderr}`);
  return { out, root: join(out, "root"), stdout: r.stdout };
}

/** Every file the packages install, with its mode: the layout in docs/packaging.md. */
export function expectedFiles(): Map<string, number> {
  const files = new Map<string, number>([
    ["usr/bin/agentctl", 0o755],
    ["usr/libexec/update-agent/agentd", 0o755],
    ["usr/lib/update-agent/agentd.cjs", 0o644],
    ["usr/lib/update-agent/agentctl.cjs", 0o644],
    ["usr/lib/systemd/system/update-agent.service", 0o644],
    ["usr/lib/sysusers.d/update-agent.conf", 0o644],
    ["usr/lib/tmpfiles.d/update-agent.conf", 0o644],
    ["usr/share/dbus-1/system.d/org.updateagent.Agent.conf", 0o644],
    ["usr/share/polkit-1/rules.d/update-agent.rules", 0o644],
    ["usr/share/doc/update-agent/README.md", 0o644],
    ["usr/share/doc/update-agent/LICENSE", 0o644],
    ["usr/share/doc/update-agent/bundled-licenses.txt", 0o644],
    ["usr/share/doc/update-agent/agentd.cjs.LEGAL.txt", 0o644],
    ["usr/share/doc/update-agent/agentctl.cjs.LEGAL.txt", 0o644],
  ]);
  for (const name of readdirSync(join(REPO, "config.d")).filter((n) => n.endsWith(".toml"))) {
    files.set(`usr/lib/update-agent/config.d/${name}`, 0o644);
  }
  for (const name of readdirSync(join(REPO, "docs")).filter((n) => n.endsWith(".md"))) {
    files.set(`usr/share/doc/update-agent/docs/${name}`, 0o644);
  }
  return files;
}

/** Where each installed file comes from in the repository (the rest are generated). */
export const SOURCES: Record<string, string> = {
  "usr/share/doc/update-agent/LICENSE": "LICENSE",
  "usr/lib/systemd/system/update-agent.service": "units/update-agent.service",
  "usr/lib/sysusers.d/update-agent.conf": "units/update-agent.sysusers",
  "usr/lib/tmpfiles.d/update-agent.conf": "units/update-agent.tmpfiles",
  "usr/share/dbus-1/system.d/org.updateagent.Agent.conf": "units/org.updateagent.Agent.conf",
  "usr/share/polkit-1/rules.d/update-agent.rules": "units/update-agent.polkit.rules",
  "usr/share/doc/update-agent/README.md": "README.md",
};

/**
 * A PATH directory whose systemd-sysusers, systemd-tmpfiles, systemctl and busctl only append their argv to
 * `<dir>/calls`, so maintainer scripts can run here without touching the machine.
 */
export function stubTools(dir: string): { path: string; calls: string } {
  const bin = join(dir, "stub-bin");
  mkdirSync(bin, { recursive: true });
  const calls = join(dir, "calls");
  for (const tool of ["systemd-sysusers", "systemd-tmpfiles", "systemctl", "busctl"]) {
    writeFileSync(join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> "${calls}"\n`);
    chmodSync(join(bin, tool), 0o755);
  }
  return { path: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, calls };
}
