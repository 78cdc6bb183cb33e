/**
 * Which fragment files apply, in which order: the imperative shell around `selectFragments`. It only reads
 * directories, links and files, so calling it again (on SIGHUP) has no side effects.
 */
import { lstat, readdir, readFile, readlink, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, normalize, resolve } from "node:path";
import { AgentError, errnoCode } from "../errors.js";
import { fragmentFormat, type FragmentFormat } from "./parse.js";

/** Root-relative, lowest priority first: a file in /etc replaces a same-named one in /run or /usr/lib (systemd's rule). */
export const CONFIG_DIRS: readonly string[] = Object.freeze([
  "usr/lib/update-agent/config.d",
  "run/update-agent/config.d",
  "etc/update-agent/config.d",
]);

/** Far beyond any real fragment; keeps a runaway file (or a link to a device) from being read into memory. */
const MAX_FRAGMENT_BYTES = 1024 * 1024;
const MAX_LINK_HOPS = 40;

interface FragmentCandidate {
  name: string;
  /** The path shown to the admin and recorded as the source of its values. */
  file: string;
  /** Higher wins when two candidates share a name. */
  rank: number;
}

export interface FragmentText {
  file: string;
  format: FragmentFormat;
  text: string;
}

export interface Discovery {
  fragments: FragmentText[];
  problems: AgentError[];
  warnings: AgentError[];
}

/** Same name: the highest rank wins; then the winners apply in file-name order (byte order, like systemd). */
function selectFragments(candidates: readonly FragmentCandidate[]): FragmentCandidate[] {
  const winners = new Map<string, FragmentCandidate>();
  for (const candidate of candidates) {
    const current = winners.get(candidate.name);
    if (current === undefined || candidate.rank >= current.rank) winners.set(candidate.name, candidate);
  }
  return [...winners.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Reads the fragments of the root's three directories. */
export async function discoverFragments(root: string): Promise<Discovery> {
  const problems: AgentError[] = [];
  const warnings: AgentError[] = [];
  const candidates: FragmentCandidate[] = [];
  for (const [rank, dir] of CONFIG_DIRS.entries()) {
    const hostDir = join(root, dir);
    let entries;
    try {
      entries = await readdir(hostDir, { withFileTypes: true });
    } catch (e) {
      const code = errnoCode(e);
      if (code !== "ENOENT" && code !== "ENOTDIR") problems.push(unreadable(hostDir, e));
      continue;
    }
    for (const entry of entries) {
      if (entry.name.startsWith(".") || entry.isDirectory()) continue;
      const file = join(hostDir, entry.name);
      if (fragmentFormat(entry.name) === undefined) {
        warnings.push(
          new AgentError("CONFIG_IGNORED_FILE", "ignored: only *.toml and *.json fragments are read", { where: file }),
        );
        continue;
      }
      candidates.push({ name: entry.name, file, rank });
    }
  }
  const read = await readFragments(root, selectFragments(candidates));
  return { fragments: read.fragments, problems: [...problems, ...read.problems], warnings: [...warnings, ...read.warnings] };
}

/**
 * Reads the given files as one set, applying the same rules: a file inside one of the root's directories ranks
 * as that directory; any other file outranks them all, a later argument outranking an earlier one.
 */
export async function explicitFragments(root: string, files: readonly string[]): Promise<Discovery> {
  const problems: AgentError[] = [];
  const dirs = CONFIG_DIRS.map((dir) => resolve(root, dir));
  const candidates: FragmentCandidate[] = [];
  for (const [index, file] of files.entries()) {
    const name = basename(file);
    if (name.startsWith(".") || fragmentFormat(name) === undefined) {
      problems.push(
        new AgentError("CONFIG_UNREADABLE", "not a fragment: the agent only reads *.toml and *.json files not starting with \".\"", {
          where: file,
        }),
      );
      continue;
    }
    const dirRank = dirs.indexOf(dirname(resolve(file)));
    candidates.push({ name, file, rank: dirRank !== -1 ? dirRank : dirs.length + index });
  }
  const read = await readFragments(root, selectFragments(candidates));
  return { fragments: read.fragments, problems: [...problems, ...read.problems], warnings: read.warnings };
}

async function readFragments(root: string, selected: readonly FragmentCandidate[]): Promise<Discovery> {
  const discovery: Discovery = { fragments: [], problems: [], warnings: [] };
  for (const { file, name } of selected) {
    const target = await followLinks(root, file);
    if (target.kind === "masked") continue;
    if (target.kind === "error") {
      discovery.problems.push(unreadable(file, target.error));
      continue;
    }
    if (target.kind === "not-a-file") {
      const warning = new AgentError("CONFIG_IGNORED_FILE", "ignored: not a regular file", { where: file });
      discovery.warnings.push(warning);
      continue;
    }
    try {
      const { size } = await stat(target.path);
      if (size > MAX_FRAGMENT_BYTES) {
        const message = `is ${size} bytes; fragments are limited to ${MAX_FRAGMENT_BYTES} bytes`;
        discovery.problems.push(new AgentError("CONFIG_UNREADABLE", message, { where: file }));
        continue;
      }
      const text = await readFile(target.path, "utf8");
      discovery.fragments.push({ file, format: fragmentFormat(name)!, text });
    } catch (e) {
      discovery.problems.push(unreadable(file, e));
    }
  }
  return discovery;
}

type LinkTarget =
  | { kind: "file"; path: string }
  | { kind: "masked" }
  | { kind: "not-a-file" }
  | { kind: "error"; error: unknown };

/**
 * Follows symlinks as the node would see them: an absolute target is looked up under the root prefix, and a
 * link to /dev/null masks the fragment (systemd's rule). Zincati ignores links to real files; we follow them.
 */
async function followLinks(root: string, file: string): Promise<LinkTarget> {
  const devNull = resolve(root, "dev/null");
  let current = file;
  let target: string | undefined;
  try {
    for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
      const info = await lstat(current);
      if (!info.isSymbolicLink()) return info.isFile() ? { kind: "file", path: current } : { kind: "not-a-file" };
      target = await readlink(current);
      if (isAbsolute(target) && normalize(target) === "/dev/null") return { kind: "masked" };
      current = isAbsolute(target) ? join(root, target) : resolve(dirname(current), target);
      if (current === devNull || current === "/dev/null") return { kind: "masked" };
    }
    return { kind: "error", error: Object.assign(new Error("too many levels of symbolic links"), { code: "ELOOP" }) };
  } catch (e) {
    if (target !== undefined && errnoCode(e) === "ENOENT") {
      return { kind: "error", error: new Error(`dangling link: ${target} (looked up as ${current}) does not exist`) };
    }
    return { kind: "error", error: e };
  }
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EPERM: "permission denied",
  ELOOP: "too many levels of symbolic links",
  EISDIR: "is a directory",
};

function unreadable(where: string, e: unknown): AgentError {
  const code = errnoCode(e);
  const reason = (code && ERRNO_TEXT[code]) ?? (e instanceof Error ? e.message : String(e));
  return new AgentError("CONFIG_UNREADABLE", `cannot read: ${reason}`, {
    where,
    cause: e,
    hint: code === "EACCES" || code === "EPERM" ? "the agent's user needs read access to its config.d directories" : undefined,
  });
}
