/**
 * Which boot is this? The kernel's boot_id, plus a token kept in `/run` (a tmpfs, emptied by every reboot).
 * The token makes the answer right where the kernel's id is not visible or not per-boot: a sandboxed unit whose
 * `ProtectKernelTunables=` remount hides a container's own boot_id, or a box that shares its host's kernel.
 */
import { randomUUID } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

export const BOOT_TOKEN_PATH = "run/update-agent/boot-id";

async function kernelBootId(root: string): Promise<string | undefined> {
  try {
    return (await readFile(join(root, "proc/sys/kernel/random/boot_id"), "utf8")).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Stable for the whole boot (agent restarts included), different after any reboot; undefined if /run is unusable. */
export async function currentBootId(root: string): Promise<string | undefined> {
  const path = join(root, BOOT_TOKEN_PATH);
  try {
    const existing = (await readFile(path, "utf8")).trim();
    if (existing) return existing;
  } catch {
    // first start in this boot
  }
  const token = `${(await kernelBootId(root)) ?? "unknown"}/${randomUUID()}`;
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, `${token}\n`, { flag: "wx", mode: 0o644 });
    return token;
  } catch {
    // Lost a race with another start, or /run is not writable: read what is there, else fall back to the kernel's.
    try {
      return (await readFile(path, "utf8")).trim() || (await kernelBootId(root));
    } catch {
      return kernelBootId(root);
    }
  }
}
