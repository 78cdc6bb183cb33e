import { readFile } from "node:fs/promises";
import { AgentError, errnoCode } from "../errors.js";

/** A host file the identity is read from (`etc/machine-id`, `proc/cmdline`); IDENTITY_INVALID naming it when unreadable. */
export async function readHostFile(file: string, what: string, hint: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    throw new AgentError("IDENTITY_INVALID", `cannot read ${what} (${errnoCode(e) ?? String(e)})`, { where: file, hint, cause: e });
  }
}
