/**
 * The processes behind an e2e box: the launcher that becomes its PID 1, and commands run inside it
 * through nsenter. Box (box.ts) holds the state; docs/e2e.md explains the why.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const INIT_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "box-init.sh");
const HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** Runs "$@" in its own process group (setsid made it the leader), reporting its pid and status on fd 3. */
const EXEC_SHIM = 'echo "pid $$" >&3; "$@" 3>&-; echo "exit $?" >&3';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface LaunchOptions {
  cgroup: string;
  root: string;
  bootIdFile: string;
  binds: { source: string; target: string; readOnly?: boolean }[];
  consoleLog: string;
  banner: string;
}

/**
 * Starts one boot of the box. The shell puts itself in the box's cgroup, then becomes unshare: the new
 * cgroup namespace is rooted there, and everything the box starts stays below it. unshare's child is
 * PID 1 of the new PID namespace: box-init.sh, which execs systemd. The returned process is unshare;
 * it exits as PID 1 does (killed by SIGHUP after a reboot, SIGINT after a power-off).
 */
export function launchBox(options: LaunchOptions): ChildProcess {
  const consoleFd = openSync(options.consoleLog, "a");
  try {
    writeFileSync(consoleFd, options.banner);
    return spawn(
      "/bin/sh",
      [
        "-c",
        'echo $$ > "$1/cgroup.procs" && exec unshare --cgroup --uts --ipc --pid --mount --fork --mount-proc="$2/proc" /bin/sh "$3"',
        "box-launch",
        options.cgroup,
        options.root,
        INIT_SCRIPT,
      ],
      {
        stdio: ["ignore", consoleFd, consoleFd],
        detached: true, // a Ctrl-C meant for the test runner must not reach the box; destroy() ends it
        env: {
          PATH: HOST_PATH,
          BOX_ROOT: options.root,
          BOX_NODE: process.execPath,
          BOX_BOOT_ID: options.bootIdFile,
          BOX_BINDS: options.binds.map((b) => `${b.readOnly ? "ro" : "rw"}\t${b.source}\t${b.target}`).join("\n"),
        },
      },
    );
  } finally {
    closeSync(consoleFd);
  }
}

/**
 * Runs `command` (already wrapped in `env -i …`) in every namespace and the root of the box whose PID 1
 * is host pid `pid1`. `setsid -f` forks and its parent exits at once, so the command's shell is orphaned
 * inside the box and adopted by PID 1. That matters at shutdown: systemd-shutdown kills every process,
 * then waits for SIGCHLD to notice they are gone; a child of nsenter (outside the box) sends it none,
 * and the shutdown would sit out its whole timeout. (It also keeps nsenter from stopping itself when
 * systemd-shutdown SIGSTOPs its child.) `code` is 137 when the box went down under the command.
 */
export function execInBox(
  pid1: number,
  command: string[],
  options: { input?: string | Buffer; timeoutMs: number; kill: (pgidInBox: string) => Promise<void> },
): Promise<ExecResult> {
  const args = ["-t", String(pid1), "-m", "-u", "-i", "-p", "-r", "-w", "--", "/usr/bin/setsid", "-f", "/bin/sh", "-c", EXEC_SHIM, "box-exec", ...command];
  // The input comes from a file, not a pipe: nsenter exits as soon as `setsid -f` has forked, and Node then
  // destroys the stdin pipe of the exited child, cutting off whatever it had not written yet.
  const inputFd = options.input === undefined ? undefined : inputFile(options.input);
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn("nsenter", args, { stdio: [inputFd ?? "ignore", "pipe", "pipe", "pipe"], env: { PATH: HOST_PATH } });
    } finally {
      if (inputFd !== undefined) closeSync(inputFd);
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let report = "";
    let nsenterStatus = 0;
    child.stdout!.on("data", (d: Buffer) => out.push(d));
    child.stderr!.on("data", (d: Buffer) => err.push(d));
    (child.stdio[3] as NodeJS.ReadableStream).on("data", (d: Buffer) => (report += d.toString()));
    child.once("exit", (code, signal) => (nsenterStatus = exitCodeOf(code, signal)));
    const timer = setTimeout(() => {
      const pgid = /^pid (\d+)$/m.exec(report)?.[1];
      if (pgid !== undefined) options.kill(pgid).catch(() => {});
      child.kill("SIGKILL");
    }, options.timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot run nsenter: ${error.message}`));
    });
    child.once("close", () => {
      clearTimeout(timer);
      const status = /^exit (\d+)$/m.exec(report)?.[1];
      const code = status !== undefined ? Number(status) : nsenterStatus !== 0 ? nsenterStatus : 137;
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

/** An open read-only descriptor of a file holding `data` (already unlinked: the descriptor keeps it). */
function inputFile(data: string | Buffer): number {
  const dir = mkdtempSync(join(tmpdir(), "ua-box-input-"));
  try {
    const path = join(dir, "stdin");
    writeFileSync(path, data, { mode: 0o600 });
    return openSync(path, "r");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits for `promise`, but no longer than `ms` (and leaves no timer behind to hold the process up). */
export async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(" ").filter((p) => p.trim() !== "").map(Number);
  } catch {
    return [];
  }
}

export function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}
