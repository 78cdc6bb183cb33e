/**
 * Runs every executable in a list of directories, one after the other: health checks (required.d, wanted.d),
 * green.d/red.d and the reboot hooks all use this. Files run in lexical (byte) order per directory, directories
 * in the order given, and every directory is run: a file name that appears in two directories runs twice
 * (greenboot runs both /usr/lib/greenboot and /etc/greenboot the same way; there is no override).
 *
 * Each part runs without a shell (argv = [path]), in its own process group, with its own environment and a
 * timeout; its output is streamed line by line and the last lines are kept for status.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { lstat, readdir, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { errnoCode } from "../errors.js";
import { childEnv } from "./notify.js";

export type OutputStream = "stdout" | "stderr";

/** A directory of parts, with the rules that apply to it. */
export interface PartsDir {
  path: string;
  /**
   * Use greenboot's rules here: `*.sh` files run with /bin/bash whether or not they are executable (greenboot
   * has always run them as `bash script.sh`, so many are shipped without the exec bit); other files run only
   * when executable.
   */
  greenboot?: boolean;
  /** File names not to run in this directory, and where that was configured (shown as the skip reason). */
  disabled?: { names: readonly string[]; source: string };
}

export interface RunPartsOptions {
  /** Directories in order; a plain string is a directory with the default (non-greenboot) rules. */
  dirs: ReadonlyArray<string | PartsDir>;
  /** Per part. On expiry the part's process group gets SIGTERM, then SIGKILL after `killGraceMs`. */
  timeoutMs: number;
  /** The part's whole environment (plus PATH when missing); NOTIFY_SOCKET and WATCHDOG_* are never passed. */
  env: Record<string, string>;
  /** Working directory of every part; `/` by default, like a systemd service. */
  cwd?: string;
  /** Every output line as it arrives, tagged with the part's file name (for the journal). */
  onLine?: (name: string, stream: OutputStream, line: string) => void;
  /** Aborting kills the running part and rejects with the signal's reason: a half-run set has no meaning. */
  signal?: AbortSignal;
  /** Do not start further parts once one has failed (they are reported as skipped, with the reason). */
  stopOnFailure?: boolean;
  /** How many of the last output lines (both streams, in arrival order) each result keeps. Default 20. */
  tailLines?: number;
  /** Time between SIGTERM and SIGKILL. Default 5000 ms. */
  killGraceMs?: number;
}

export interface PartResult {
  /** File name, as shown in logs and status. */
  name: string;
  path: string;
  /** Why this file was not run (not executable, editor backup, ...); null when it ran. */
  skipped: string | null;
  /** Why it could not be started or read (ENOENT interpreter, EACCES, unreadable directory); null otherwise. */
  error: string | null;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  /** The last `tailLines` output lines, stdout and stderr interleaved as they arrived. */
  outputTail: string;
  /** Ran and exited 0 in time; also true for skipped files, which did not fail. */
  ok: boolean;
}

/** What to do with one directory entry: run it with this argv, or skip it and say why. */
export type PartPlan = { name: string; path: string; argv: string[] } | { name: string; path: string; skip: string };

export interface EntryFacts {
  kind: "file" | "directory" | "other" | "broken-symlink";
  /** Permission bits (st_mode & 0o7777). */
  mode: number;
}

export const BASH = "/bin/bash";
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const DEFAULT_TAIL_LINES = 20;
const DEFAULT_KILL_GRACE_MS = 5000;
/** Longer lines are cut: one runaway line must not grow memory or flood the journal. */
export const MAX_LINE_CHARS = 4096;
const TRUNCATED_MARK = " [line truncated]";

const BACKUP_SUFFIXES = ["~", ".rpmsave", ".rpmnew", ".rpmorig", ".bak", ".orig", ".swp"];

/** Pure: decides whether a directory entry runs, and how. */
export function planEntry(dir: PartsDir, name: string, facts: EntryFacts): PartPlan {
  const path = join(dir.path, name);
  const skip = (reason: string): PartPlan => ({ name, path, skip: reason });
  if (name.startsWith(".")) return skip("hidden file (name starts with a dot)");
  if (BACKUP_SUFFIXES.some((s) => name.endsWith(s)) || /\.dpkg-[a-z]+$/.test(name) || /^#.*#$/.test(name)) {
    return skip("editor or package-manager backup file");
  }
  if (dir.disabled?.names.includes(name)) return skip(`disabled in ${dir.disabled.source}`);
  if (facts.kind === "directory") return skip("a directory (subdirectories are not searched)");
  if (facts.kind === "broken-symlink") return skip("broken symbolic link");
  if (facts.kind === "other") return skip("not a regular file");
  const executable = (facts.mode & 0o111) !== 0;
  if (dir.greenboot && name.endsWith(".sh")) return { name, path, argv: [BASH, path] };
  if (executable) return { name, path, argv: [path] };
  return skip(
    dir.greenboot
      ? "not executable and not a *.sh script (chmod +x to run it)"
      : "not executable (chmod +x to run it)",
  );
}

/** Pure: the environment a part gets. Sockets and watchdog settings meant for the agent itself never leak. */
export function partEnvironment(env: Record<string, string>, inheritedPath: string | undefined): Record<string, string> {
  const out = childEnv(env);
  out.PATH ??= inheritedPath ?? DEFAULT_PATH;
  return out;
}

export async function runParts(opts: RunPartsOptions): Promise<PartResult[]> {
  opts.signal?.throwIfAborted();
  const env = partEnvironment(opts.env, process.env.PATH);
  const results: PartResult[] = [];
  let firstFailure: string | undefined;
  for (const entry of opts.dirs) {
    const dir: PartsDir = typeof entry === "string" ? { path: entry } : entry;
    const listed = await listDir(dir);
    if ("error" in listed) {
      results.push(failedToStart(basename(dir.path), dir.path, listed.error));
      firstFailure ??= basename(dir.path);
      continue;
    }
    for (const plan of listed.plans) {
      if ("skip" in plan) {
        results.push(skipped(plan.name, plan.path, plan.skip));
      } else if (opts.stopOnFailure && firstFailure !== undefined) {
        results.push(skipped(plan.name, plan.path, `not run because ${firstFailure} failed before it`));
      } else {
        opts.signal?.throwIfAborted();
        const result = await runPart(plan, env, opts);
        opts.signal?.throwIfAborted();
        results.push(result);
        if (!result.ok) firstFailure ??= plan.name;
      }
    }
  }
  return results;
}

async function listDir(dir: PartsDir): Promise<{ plans: PartPlan[] } | { error: string }> {
  let names: string[];
  try {
    names = await readdir(dir.path);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return { plans: [] };
    return { error: `cannot read directory: ${describeError(e)}` };
  }
  // Byte order, not locale order, so the run order is the same on every node (greenboot sorts with LC_ALL=C).
  names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const plans: PartPlan[] = [];
  for (const name of names) plans.push(planEntry(dir, name, await entryFacts(join(dir.path, name))));
  return { plans };
}

async function entryFacts(path: string): Promise<EntryFacts> {
  try {
    const st = await stat(path);
    const kind = st.isFile() ? "file" : st.isDirectory() ? "directory" : "other";
    return { kind, mode: st.mode & 0o7777 };
  } catch {
    const isLink = await lstat(path).then((l) => l.isSymbolicLink(), () => false);
    return { kind: isLink ? "broken-symlink" : "other", mode: 0 };
  }
}

function skipped(name: string, path: string, reason: string): PartResult {
  return { name, path, skipped: reason, error: null, exitCode: null, signal: null, timedOut: false, durationMs: 0, outputTail: "", ok: true };
}

function failedToStart(name: string, path: string, error: string, durationMs = 0, outputTail = ""): PartResult {
  return { name, path, skipped: null, error, exitCode: null, signal: null, timedOut: false, durationMs, outputTail, ok: false };
}

function runPart(plan: { name: string; path: string; argv: string[] }, env: Record<string, string>, opts: RunPartsOptions): Promise<PartResult> {
  const tail = new OutputTail(opts.tailLines ?? DEFAULT_TAIL_LINES);
  const graceMs = opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const started = process.hrtime.bigint(); // monotonic, without loading perf_hooks into the daemon
  const [file, ...args] = plan.argv as [string, ...string[]];

  return new Promise<PartResult>((resolve) => {
    let child: ChildProcess;
    try {
      // detached: the part leads its own process group, so a timeout can kill everything it started.
      child = spawn(file, args, { cwd: opts.cwd ?? "/", env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    } catch (e) {
      resolve(failedToStart(plan.name, plan.path, `cannot start: ${describeError(e)}`));
      return;
    }

    let timedOut = false;
    let exit: { code: number | null; signal: string | null } | undefined;
    let startError: string | undefined;
    let settled = false;
    const timers: NodeJS.Timeout[] = [];

    const killGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // ESRCH: the whole group is already gone.
      }
    };
    // SIGTERM now; SIGKILL and stop waiting for the pipes after the grace period, because a grandchild that
    // left the process group could hold them open forever.
    const terminate = () => {
      killGroup("SIGTERM");
      timers.push(setTimeout(() => {
        killGroup("SIGKILL");
        timers.push(setTimeout(finish, Math.min(graceMs, 1000)));
      }, graceMs));
    };
    const onAbort = () => terminate();

    const finish = () => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      opts.signal?.removeEventListener("abort", onAbort);
      child.stdout?.destroy();
      child.stderr?.destroy();
      out.end();
      err.end();
      const durationMs = Number((process.hrtime.bigint() - started) / 1_000_000n);
      if (startError !== undefined) {
        resolve(failedToStart(plan.name, plan.path, startError, durationMs, tail.text()));
        return;
      }
      const exitCode = exit?.code ?? null;
      const signal = exit?.signal ?? null;
      resolve({
        name: plan.name,
        path: plan.path,
        skipped: null,
        error: null,
        exitCode,
        signal,
        timedOut,
        durationMs,
        outputTail: tail.text(),
        ok: !timedOut && exitCode === 0,
      });
    };

    const emit = (stream: OutputStream) => (line: string) => {
      tail.push(line);
      try {
        opts.onLine?.(plan.name, stream, line);
      } catch {
        // A logging callback that throws must not take the agent down in the middle of a health check.
      }
    };
    const out = new LineSplitter(emit("stdout"));
    const err = new LineSplitter(emit("stderr"));
    child.stdout?.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr?.on("data", (chunk: Buffer) => err.push(chunk));

    timers.push(setTimeout(() => {
      timedOut = true;
      terminate();
    }, opts.timeoutMs));
    opts.signal?.addEventListener("abort", onAbort, { once: true });

    child.on("error", (e) => {
      // Only reachable before the process started (ENOENT interpreter, EACCES, noexec mount).
      startError = `cannot start: ${describeError(e)}`;
      finish();
    });
    child.on("exit", (code, signal) => {
      exit = { code, signal };
      // The part is done when its main process exits; whatever it left running in its group is stopped,
      // as systemd does for a oneshot service.
      if (!timedOut) terminate();
    });
    child.on("close", finish);
  });
}

/** Keeps the last N lines. */
class OutputTail {
  private readonly lines: string[] = [];
  constructor(private readonly max: number) {}
  push(line: string): void {
    if (this.max <= 0) return;
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.shift();
  }
  text(): string {
    return this.lines.join("\n");
  }
}

/** Splits a byte stream into UTF-8 lines, cutting any line longer than MAX_LINE_CHARS. */
class LineSplitter {
  private readonly decoder = new StringDecoder("utf8");
  private pending = "";
  private dropping = false;
  constructor(private readonly emit: (line: string) => void) {}

  push(chunk: Buffer): void {
    this.consume(this.decoder.write(chunk));
  }

  end(): void {
    this.consume(this.decoder.end());
    if (this.pending !== "" && !this.dropping) this.emit(this.pending.replace(/\r$/, ""));
    this.pending = "";
    this.dropping = false;
  }

  private consume(text: string): void {
    let start = 0;
    while (true) {
      const nl = text.indexOf("\n", start);
      if (!this.dropping) {
        this.pending += nl === -1 ? text.slice(start) : text.slice(start, nl);
        if (this.pending.length > MAX_LINE_CHARS) {
          this.emit(this.pending.slice(0, MAX_LINE_CHARS) + TRUNCATED_MARK);
          this.pending = "";
          this.dropping = true;
        }
      }
      if (nl === -1) return;
      if (!this.dropping) this.emit(this.pending.replace(/\r$/, ""));
      this.pending = "";
      this.dropping = false;
      start = nl + 1;
    }
  }
}

function describeError(e: unknown): string {
  const code = errnoCode(e);
  const message = e instanceof Error ? e.message : String(e);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
