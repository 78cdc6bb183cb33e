/**
 * A real NOTIFY_SOCKET for tests: an AF_UNIX/SOCK_DGRAM listener (Node cannot bind datagram unix
 * sockets, so a small python3 process does) that records every datagram with the sender pid from
 * SCM_CREDENTIALS. It closes every fd received through SCM_RIGHTS at once, which is what completes
 * `systemd-notify`'s barrier; without that the blocking form would wait 5 s and fail.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { stopChild } from "./process.js";

export interface NotifyDatagram {
  /** The datagram as sent, e.g. `READY=1` or `STATUS=update staged: 40.2`. */
  text: string;
  /** The pid the kernel credited the datagram to (what systemd uses to match it to a unit). */
  pid: number | null;
  /** How many fds came with it (1 for a barrier). */
  fds: number;
}

export interface NotifyListener {
  socketPath: string;
  /** Every datagram received so far, in arrival order. */
  datagrams: NotifyDatagram[];
  /** Each `KEY=VALUE` assignment received so far, across datagrams, in order. */
  assignments(): string[];
  /** Resolves with the first datagram (already received or future) that matches. */
  waitFor(match: (d: NotifyDatagram) => boolean, timeoutMs?: number): Promise<NotifyDatagram>;
  stop(): Promise<void>;
}

const LISTENER = `
import array, json, os, socket, struct, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
sock.bind(sys.argv[1])
print(json.dumps({"listening": True}), flush=True)
while True:
    data, ancillary, _flags, _addr = sock.recvmsg(65536, socket.CMSG_SPACE(64 * 4) + socket.CMSG_SPACE(12))
    pid = None
    fds = []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            received = array.array("i")
            received.frombytes(payload[: len(payload) - len(payload) % 4])
            fds.extend(received)
        elif level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", payload[:12])[0]
    for fd in fds:
        os.close(fd)
    print(json.dumps({"text": data.decode("utf-8", "replace"), "pid": pid, "fds": len(fds)}), flush=True)
`;

export async function startNotifyListener(): Promise<NotifyListener> {
  const dir = mkdtempSync(join(tmpdir(), "ua-notify-"));
  const socketPath = join(dir, "notify.sock");
  const child: ChildProcess = spawn("/usr/bin/python3", ["-c", LISTENER, socketPath], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));

  const datagrams: NotifyDatagram[] = [];
  const waiters = new Set<() => void>();
  let listening!: () => void;
  const ready = new Promise<void>((resolve, reject) => {
    listening = resolve;
    child.once("exit", (code) => reject(new Error(`notify listener exited with ${code}: ${stderr}`)));
    setTimeout(() => reject(new Error(`notify listener did not start in 10 s: ${stderr}`)), 10_000).unref();
  });
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const parsed = JSON.parse(line) as Partial<NotifyDatagram> & { listening?: boolean };
    if (parsed.listening) return listening();
    datagrams.push({ text: parsed.text ?? "", pid: parsed.pid ?? null, fds: parsed.fds ?? 0 });
    for (const wake of waiters) wake();
  });
  await ready;

  return {
    socketPath,
    datagrams,
    assignments: () => datagrams.flatMap((d) => d.text.split("\n").filter((l) => l !== "")),
    waitFor(match, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = datagrams.find(match);
          if (!found) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching datagram in ${timeoutMs} ms; got ${JSON.stringify(datagrams)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
