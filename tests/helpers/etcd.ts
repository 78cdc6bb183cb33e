/**
 * A real etcd (Debian's etcd-server 3.4) for tests: free loopback ports, a temp data dir (on
 * /dev/shm when there is one, so fsync does not dominate on a shared machine), `/health` awaited.
 * `kill()`/`stop()` then `start()` keep the data dir, as a crashed and restarted member would.
 * Variants: TLS with client certificates (made with openssl), and user/password auth.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface EtcdTlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
  ca: string;
  cert: string;
  key: string;
}

export interface EtcdOptions {
  /** Serve https with a throw-away CA and require client certificates. */
  tls?: boolean;
  /** Enable auth with a root user and `username`, allowed READWRITE under `prefix` only. */
  auth?: { username: string; password: string; prefix: string };
  /** Extra etcd flags (e.g. `--auth-token-ttl=1`). */
  flags?: string[];
}

export interface TestEtcd {
  /** `http(s)://127.0.0.1:<client port>` */
  endpoint: string;
  dataDir: string;
  /** Client TLS material, for the tls variant. */
  tls: EtcdTlsFiles | undefined;
  readonly running: boolean;
  /** etcdctl against this member (as root when auth is on); resolves to stdout. */
  etcdctl(...args: string[]): Promise<string>;
  /** SIGKILL, as a crash would; the data dir stays. */
  kill(): Promise<void>;
  /** SIGTERM; the data dir stays. */
  stop(): Promise<void>;
  /** Starts again on the same ports and data dir; resolves once healthy. */
  start(): Promise<void>;
  /** Stops and deletes the data dir. Safe to call twice. */
  destroy(): Promise<void>;
}

export const ETCD_BINARY = "/usr/bin/etcd";
export const ROOT_PASSWORD = "root-secret";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A port nothing listens on (for "first endpoint is dead" tests). */
export async function deadEndpoint(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`;
}

/** Ports are picked free but bound only later: when something else took one meanwhile, pick again. */
export async function startEtcd(options: EtcdOptions = {}): Promise<TestEtcd> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEtcdOnce(options);
    } catch (e) {
      if (attempt >= 3 || !/address already in use/.test(String(e))) throw e;
    }
  }
}

async function startEtcdOnce(options: EtcdOptions): Promise<TestEtcd> {
  if (!existsSync(ETCD_BINARY)) throw new Error("etcd is not installed (apt-get install etcd-server); the etcd tests need it");
  const base = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
  const dir = mkdtempSync(join(base, "ua-etcd-"));
  const dataDir = join(dir, "data");
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const tls = options.tls ? makeCertificates(dir) : undefined;
  const scheme = tls ? "https" : "http";
  const endpoint = `${scheme}://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const args = [
    "--name", "default", "--data-dir", dataDir,
    "--listen-client-urls", endpoint, "--advertise-client-urls", endpoint,
    "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
    "--initial-cluster", `default=${peer}`, "--initial-cluster-state", "new",
    "--logger", "zap", "--log-level", "error",
    ...(tls ? ["--cert-file", join(dir, "server.crt"), "--key-file", join(dir, "server.key"), "--trusted-ca-file", tls.caFile, "--client-cert-auth"] : []),
    ...(options.flags ?? []),
  ];
  let child: ChildProcess | undefined;
  let output = "";

  const ctlFlags = (asRoot: boolean) => [
    `--endpoints=${endpoint}`,
    ...(tls ? [`--cacert=${tls.caFile}`, `--cert=${tls.certFile}`, `--key=${tls.keyFile}`] : []),
    ...(asRoot && options.auth ? [`--user=root:${ROOT_PASSWORD}`] : []),
  ];
  let authEnabled = false;
  const etcdctl = async (...ctlArgs: string[]) =>
    (await run("/usr/bin/etcdctl", [...ctlFlags(authEnabled), ...ctlArgs], { env: { ...process.env, ETCDCTL_API: "3" } })).stdout;

  const start = async () => {
    output = "";
    const proc = spawn(ETCD_BINARY, args, { stdio: ["ignore", "ignore", "pipe"] });
    child = proc;
    proc.stderr!.on("data", (d: Buffer) => {
      output = (output + d.toString()).slice(-4000);
    });
    const deadline = Date.now() + 30_000;
    while (!(await healthy(endpoint, tls))) {
      if (proc.exitCode !== null) throw new Error(`etcd exited with ${proc.exitCode}: ${output}`);
      if (Date.now() > deadline) throw new Error(`etcd did not become healthy in 30 s: ${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const halt = async (signal: NodeJS.Signals) => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill(signal);
    await exited;
  };

  const server: TestEtcd = {
    endpoint,
    dataDir,
    tls,
    get running() {
      return child !== undefined;
    },
    etcdctl,
    kill: () => halt("SIGKILL"),
    stop: () => halt("SIGTERM"),
    start,
    async destroy() {
      await halt("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await start();
    if (options.auth) {
      const { username, password, prefix } = options.auth;
      await etcdctl("user", "add", `root:${ROOT_PASSWORD}`, "--interactive=false");
      await etcdctl("user", "add", `${username}:${password}`, "--interactive=false");
      await etcdctl("role", "add", "reboot");
      await etcdctl("role", "grant-permission", "reboot", "--prefix=true", "readwrite", prefix);
      await etcdctl("user", "grant-role", username, "reboot");
      await etcdctl("auth", "enable");
      authEnabled = true;
    }
  } catch (e) {
    await server.destroy();
    throw e;
  }
  return server;
}

function healthy(endpoint: string, tls: EtcdTlsFiles | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const request = (tls ? httpsRequest : httpRequest)(
      `${endpoint}/health`,
      { timeout: 2_000, ...(tls ? { ca: tls.ca, cert: tls.cert, key: tls.key } : {}) },
      (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => resolve(res.statusCode === 200 && body.includes("true")));
        res.on("error", () => resolve(false));
      },
    );
    request.on("error", () => resolve(false));
    request.on("timeout", () => request.destroy());
    request.end();
  });
}

/**
 * A CA, a server certificate for 127.0.0.1 and a client certificate. Neither has a Common Name:
 * with auth on, etcd would take a client certificate's CN as the user name, and the gateway
 * (which dials etcd with the server certificate) would then be refused.
 */
function makeCertificates(dir: string): EtcdTlsFiles {
  const ssl = (...args: string[]) => execFileSyncQuiet("openssl", args);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const caFile = join(dir, "ca.crt");
  ssl("req", "-x509", ...ec, "-keyout", join(dir, "ca.key"), "-out", caFile, "-days", "2", "-subj", "/O=update-agent test CA");
  const sign = (name: string, ext: string) => {
    ssl("req", ...ec, "-keyout", join(dir, `${name}.key`), "-out", join(dir, `${name}.csr`), "-subj", `/O=update-agent test ${name}`);
    writeFileSync(join(dir, `${name}.ext`), ext);
    ssl("x509", "-req", "-in", join(dir, `${name}.csr`), "-CA", caFile, "-CAkey", join(dir, "ca.key"), "-CAcreateserial",
      "-out", join(dir, `${name}.crt`), "-days", "2", "-extfile", join(dir, `${name}.ext`));
  };
  sign("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n");
  sign("client", "extendedKeyUsage=clientAuth\n");
  const certFile = join(dir, "client.crt");
  const keyFile = join(dir, "client.key");
  return { caFile, certFile, keyFile, ca: readFileSync(caFile, "utf8"), cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") };
}

function execFileSyncQuiet(command: string, args: string[]): void {
  execFileSync(command, args, { stdio: "ignore" });
}
