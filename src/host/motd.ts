/**
 * MOTD fragments in `<root>/run/motd.d/`, shown by pam_motd at login. Each write is atomic (a temp
 * file in the same directory, then rename), so a login never shows half a message, and idempotent,
 * so callers can re-assert the fragment every tick without touching the file.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, rm, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AgentError, errnoCode } from "../errors.js";

export const MOTD_DIR = "run/motd.d";
export const DEADEND_MOTD_NAME = "85-update-agent-deadend.motd";
export const BOOT_STATUS_MOTD_NAME = "86-update-agent-boot-status.motd";

/** The dead-end notice; an empty reason reads `(unknown reason)`, as Zincati's does. */
export function deadEndMotdText(reason: string): string {
  const shown = reason.trim() === "" ? "(unknown reason)" : reason.trim();
  return `This release is a dead-end and will not further auto-update: ${shown}`;
}

export function motdPath(root: string, name: string): string {
  if (name === "" || name.includes("/") || name.startsWith(".")) {
    throw new AgentError("INTERNAL", `invalid MOTD fragment name ${JSON.stringify(name)}`);
  }
  return join(root, MOTD_DIR, name);
}

/** Writes the fragment (ending in a newline). Resolves to whether the file changed. */
export async function writeMotd(root: string, name: string, text: string): Promise<boolean> {
  const path = motdPath(root, name);
  const content = text.endsWith("\n") ? text : `${text}\n`;
  if ((await readIfExists(path)) === content) return false;
  const dir = join(root, MOTD_DIR);
  const temp = join(dir, `.${name}.${randomBytes(6).toString("hex")}.partial`);
  try {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    await writeFile(temp, content, { mode: 0o644 });
    // The umask may have narrowed the mode; everyone who logs in must be able to read it.
    await chmod(temp, 0o644);
    await rename(temp, path);
    return true;
  } catch (e) {
    await rm(temp, { force: true }).catch(() => {});
    throw motdError(`cannot write MOTD fragment: ${errorText(e)}`, path, e);
  }
}

/** Removes the fragment if present. Resolves to whether a file was removed. */
export async function removeMotd(root: string, name: string): Promise<boolean> {
  const path = motdPath(root, name);
  try {
    await unlink(path);
    return true;
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return false;
    throw motdError(`cannot remove MOTD fragment: ${errorText(e)}`, path, e);
  }
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return undefined;
  }
}

function motdError(message: string, path: string, cause: unknown): AgentError {
  return new AgentError("HOST_IO", message, {
    where: path,
    hint: "the agent needs write access to /run/motd.d (it runs as root or with ReadWritePaths=/run/motd.d)",
    cause,
  });
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
