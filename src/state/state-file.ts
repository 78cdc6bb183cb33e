/**
 * A small JSON document that must survive crashes and power loss: `{"schema_version": N, "state": {...}}`.
 * Writes go to a temp file in the same directory, are fsynced, renamed over the old file and the
 * directory is fsynced, so a reader sees either the old or the new document, never a torn one.
 * A file we cannot make sense of is moved aside (kept for the admin) and the initial state is used:
 * losing remembered state is recoverable, refusing to start is not.
 */
import { chmod, mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { safeParse, type core } from "zod/mini";
import { en } from "zod/locales";
import { AgentError, errnoCode } from "../errors.js";

export type StateLogLevel = "warn" | "info";

export interface StateFileOptions<T> {
  path: string;
  /** Written on every save. Older files go through `migrate`; newer ones are moved aside. */
  schemaVersion: number;
  schema: core.$ZodType<T>;
  initial: () => T;
  /** Turns the `state` of an older file (`fromVersion` < `schemaVersion`) into the current shape. */
  migrate?: (fromVersion: number, raw: unknown) => unknown;
  log?: (level: StateLogLevel, msg: string) => void;
  /** Clock for the `.corrupt-<timestamp>` suffix. */
  now?: () => Date;
}

export interface LoadedState<T> {
  state: T;
  warnings: AgentError[];
}

const FILE_MODE = 0o644;
const DIR_MODE = 0o755;

/** Why a file's content cannot be used; becomes the STATE_CORRUPT message. */
class Unusable extends Error {}

/** zod/mini has no messages of its own: issues get the English ones `zod` would give ("Invalid input: expected …"). */
const PARSE_OPTIONS = { error: en().localeError };

function describeIssues(error: core.$ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(root)"}: ${issue.message}`)
    .join("; ");
}

/** `2025-01-31T12:00:00.123Z` → `20250131T120000123Z`: sortable and free of characters shells dislike. */
function compactTimestamp(date: Date): string {
  return date.toISOString().replace(/[-:.]/g, "");
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } catch (e) {
    // Some filesystems cannot fsync a directory; the rename is then as durable as they allow.
    if (errnoCode(e) !== "EINVAL" && errnoCode(e) !== "ENOTSUP") throw e;
  } finally {
    await handle.close();
  }
}

/** `mkdir -p` that gives every directory it creates mode 0755 whatever the umask. */
async function ensureDirectory(dir: string): Promise<void> {
  const firstCreated = await mkdir(dir, { recursive: true, mode: DIR_MODE });
  if (firstCreated === undefined) return;
  for (let current = dir; current.length >= firstCreated.length; current = dirname(current)) {
    await chmod(current, DIR_MODE);
    if (current === firstCreated) break;
  }
}

export class StateFile<T> {
  private readonly opts: StateFileOptions<T>;
  /** Saves run one after another, in call order, so the last call's state is what stays on disk. */
  private saveQueue: Promise<void> = Promise.resolve();

  constructor(opts: StateFileOptions<T>) {
    if (!Number.isInteger(opts.schemaVersion) || opts.schemaVersion < 1) {
      throw new AgentError("INTERNAL", `schema version must be a positive integer, got ${opts.schemaVersion}`);
    }
    this.opts = opts;
  }

  get path(): string {
    return this.opts.path;
  }

  /** Never throws: problems come back as warnings next to the state to use. */
  async load(): Promise<LoadedState<T>> {
    return this.read(true);
  }

  /**
   * Like `load`, but never changes anything on disk: an unusable file stays where it is (for readers such
   * as `agentctl status`, which must not move a file a running daemon owns).
   */
  async peek(): Promise<LoadedState<T>> {
    return this.read(false);
  }

  private async read(moveAsideWhenUnusable: boolean): Promise<LoadedState<T>> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return { state: this.opts.initial(), warnings: [] };
      const warning = new AgentError("STATE_IO", `cannot read the state file (${errnoCode(e) ?? String(e)}); starting from the initial state`, {
        where: this.path,
        hint: "check that it is a regular file the agent can read",
        cause: e,
      });
      this.opts.log?.("warn", warning.describe());
      return { state: this.opts.initial(), warnings: [warning] };
    }

    try {
      return { state: this.decode(text), warnings: [] };
    } catch (e) {
      // Anything else (a throwing refinement, say) is still no reason to refuse to start.
      const reason = e instanceof Unusable ? e.message : `cannot be decoded (${(e as Error).message})`;
      const warning = moveAsideWhenUnusable
        ? await this.moveAside(reason)
        : new AgentError("STATE_CORRUPT", `unusable state file: ${reason}`, {
            where: this.path,
            hint: "agentd keeps it as state.json.corrupt-<time> and starts from the initial state when it next starts",
          });
      return { state: this.opts.initial(), warnings: [warning] };
    }
  }

  /** Resolves once this state (or a later one) is durable on disk. Throws STATE_IO on failure. */
  save(state: T): Promise<void> {
    const parsed = safeParse(this.opts.schema, state, PARSE_OPTIONS);
    if (!parsed.success) {
      return Promise.reject(
        new AgentError("INTERNAL", `refusing to save a state that does not match its schema: ${describeIssues(parsed.error)}`, {
          where: this.path,
        }),
      );
    }
    // Serialize now: later mutations of the caller's object must not change what this call writes.
    const text = `${JSON.stringify({ schema_version: this.opts.schemaVersion, state: parsed.data }, null, 2)}\n`;
    const run = this.saveQueue.then(() => this.writeAtomically(text));
    this.saveQueue = run.catch(() => undefined);
    return run;
  }

  private decode(text: string): T {
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch (e) {
      throw new Unusable(`not valid JSON (${(e as Error).message})`);
    }
    if (document === null || typeof document !== "object" || Array.isArray(document)) {
      throw new Unusable("not a JSON object");
    }
    const envelope = document as Record<string, unknown>;
    const version = envelope.schema_version;
    if (typeof version !== "number" || !Number.isInteger(version) || version < 1) {
      throw new Unusable('"schema_version" is missing or not a positive integer');
    }
    if (!("state" in envelope)) throw new Unusable('"state" is missing');
    // A newer agent wrote this (downgrade or rollback): we cannot know what its fields mean.
    if (version > this.opts.schemaVersion) {
      throw new Unusable(`schema version ${version} is newer than this agent understands (${this.opts.schemaVersion})`);
    }

    let raw = envelope.state;
    if (version < this.opts.schemaVersion && this.opts.migrate) {
      try {
        raw = this.opts.migrate(version, raw);
      } catch (e) {
        throw new Unusable(`migration from schema version ${version} failed (${(e as Error).message})`);
      }
      this.opts.log?.("info", `${this.path}: migrated state from schema version ${version} to ${this.opts.schemaVersion}`);
    }
    const parsed = safeParse(this.opts.schema, raw, PARSE_OPTIONS);
    if (!parsed.success) {
      throw new Unusable(`state does not match schema version ${this.opts.schemaVersion}: ${describeIssues(parsed.error)}`);
    }
    return parsed.data;
  }

  private async moveAside(reason: string): Promise<AgentError> {
    const stamp = compactTimestamp((this.opts.now ?? (() => new Date()))());
    let target = `${this.path}.corrupt-${stamp}`;
    for (let n = 1; await exists(target); n++) target = `${this.path}.corrupt-${stamp}-${n}`;

    let movedTo: string | undefined;
    try {
      await rename(this.path, target);
      movedTo = target;
    } catch {
      // Keep going with the initial state; the next save replaces the unusable file.
    }
    const warning = new AgentError("STATE_CORRUPT", `unusable state file: ${reason}; starting from the initial state`, {
      where: this.path,
      hint: movedTo ? `the old file was kept as ${movedTo}` : "the old file could not be moved aside and will be overwritten",
      details: { reason, ...(movedTo ? { movedTo } : {}) },
    });
    this.opts.log?.("warn", warning.describe());
    return warning;
  }

  private async writeAtomically(text: string): Promise<void> {
    const dir = dirname(this.path);
    // One fixed temp name: saves are serialized, and a temp file left by a crash is simply replaced.
    const temp = join(dir, `.${basename(this.path)}.tmp`);
    try {
      await ensureDirectory(dir);
      await rm(temp, { force: true });
      const handle = await open(temp, "wx", FILE_MODE);
      try {
        await handle.writeFile(text, "utf8");
        await handle.chmod(FILE_MODE);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.path);
      await fsyncDirectory(dir);
    } catch (e) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw new AgentError("STATE_IO", `cannot save the state file (${errnoCode(e) ?? (e as Error).message})`, {
        where: this.path,
        hint: `check that ${dir} is writable and the disk is not full`,
        cause: e,
      });
    }
  }
}
