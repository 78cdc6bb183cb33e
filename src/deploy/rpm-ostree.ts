/**
 * The DeploymentManager for rpm-ostree, over D-Bus (reference: rpm-ostree-dbus.md).
 *
 * Method calls go to `org.projectatomic.rpmostree1` on the system bus; every mutating method returns
 * a private transaction address that `runTransaction` drives to its end. Mutations are serialized
 * here (rpm-ostree runs one transaction at a time), and another client's transaction is waited out
 * with a bounded backoff rather than fought. Every call and transaction has a deadline.
 */
import { DBusError, Message, Variant, type MessageBus } from "@jellybrick/dbus-next";
import { AgentError } from "../errors.js";
import type { Release } from "../graph/release.js";
import { connectSystemBus, plain } from "../host/dbus.js";
import type { Deployment, DeploymentStatus } from "./deployment.js";
import { fromDBusError, isBusyError, isNoReplyError } from "./dbus-errors.js";
import { rawConnectionClass } from "./peer-connection.js";
import type { DeploymentManager, RollbackOptions, StageOptions, StageProgress } from "./port.js";
import { planStage, stagedMismatch } from "./stage-plan.js";
import { parseActiveTransaction, parseDeployment, statusFromDeployments } from "./status.js";
import { backoffDelays, cancelledError, sleep, withTimeout, type Backoff } from "./timing.js";
import { runTransaction, type TransactionOutcome } from "./transaction.js";

const RPMOSTREE_BUS_NAME = "org.projectatomic.rpmostree1";
const SYSROOT_PATH = "/org/projectatomic/rpmostree1/Sysroot";
const SYSROOT = "org.projectatomic.rpmostree1.Sysroot";
const OS = "org.projectatomic.rpmostree1.OS";

export interface RpmOstreeOptions {
  /** Where DBUS_SYSTEM_BUS_ADDRESS is read from (tests, the demo and the e2e box point it at their bus). */
  env?: NodeJS.ProcessEnv;
  /** Deadline of one method call (not of a transaction). Default 60 s. */
  callTimeoutMs?: number;
  /** Deadline to connect to a transaction and get the reply to Start. Default 30 s. */
  transactionStartTimeoutMs?: number;
  /** Deadline from Start to Finished; a slow image pull must fit. Default 2 h. */
  transactionTimeoutMs?: number;
  /** How another client's transaction is waited out. Default 2 s doubling to 30 s, 15 min in all. */
  busyWait?: Partial<Backoff>;
  /** RegisterClient is retried on NoReply (daemon caught in its idle exit). Default 3 attempts, 1 s apart. */
  noReplyAttempts?: number;
  noReplyDelayMs?: number;
}

const DEFAULTS = {
  callTimeoutMs: 60_000,
  transactionStartTimeoutMs: 30_000,
  transactionTimeoutMs: 2 * 60 * 60_000,
  busyWait: { initialMs: 2_000, maxMs: 30_000, totalMs: 15 * 60_000 },
  noReplyAttempts: 3,
  noReplyDelayMs: 1_000,
};

interface TransactOptions {
  onProgress?: ((progress: StageProgress) => void) | undefined;
  signal?: AbortSignal | undefined;
}

class RpmOstreeManager implements DeploymentManager {
  private readonly env: NodeJS.ProcessEnv;
  private readonly settings: typeof DEFAULTS;
  private bus: MessageBus;
  /** Set when the bus connection failed; the next call opens a fresh one instead of failing forever. */
  private busFailed = false;
  private osPath: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(options: RpmOstreeOptions) {
    this.settings = {
      callTimeoutMs: options.callTimeoutMs ?? DEFAULTS.callTimeoutMs,
      transactionStartTimeoutMs: options.transactionStartTimeoutMs ?? DEFAULTS.transactionStartTimeoutMs,
      transactionTimeoutMs: options.transactionTimeoutMs ?? DEFAULTS.transactionTimeoutMs,
      busyWait: { ...DEFAULTS.busyWait, ...options.busyWait },
      noReplyAttempts: Math.max(1, options.noReplyAttempts ?? DEFAULTS.noReplyAttempts),
      noReplyDelayMs: options.noReplyDelayMs ?? DEFAULTS.noReplyDelayMs,
    };
    this.env = options.env ?? process.env;
    this.bus = this.openBus();
  }

  private openBus(): MessageBus {
    // The calls in flight fail on their own; the listener keeps the library's 'error' event from
    // killing the process and makes the next call reconnect.
    const bus = connectSystemBus(this.env, () => {
      if (this.bus === bus) this.busFailed = true;
    });
    return bus;
  }

  private connection(): MessageBus {
    if (this.busFailed) {
      this.busFailed = false;
      this.bus.disconnect();
      this.bus = this.openBus();
    }
    return this.bus;
  }

  // --- reads ----------------------------------------------------------------------------------

  async status(): Promise<DeploymentStatus> {
    const where = `${SYSROOT}.Deployments`;
    const [all] = await this.call(SYSROOT_PATH, "org.freedesktop.DBus.Properties", "GetAll", "s", [SYSROOT], where);
    const props = plain(all) as Record<string, unknown>;
    const list = props.Deployments;
    if (!Array.isArray(list)) {
      throw new AgentError("STATUS_INVALID", "rpm-ostreed published no Deployments list", { where });
    }
    const deployments = list.map((raw: unknown, index) => parseDeployment(raw, `${where}[${index}]`));
    // rpm-ostree keeps the update-driver registration in a file, not on D-Bus, so `driver` stays unknown here.
    return statusFromDeployments(deployments, { activeTransaction: parseActiveTransaction(props.ActiveTransaction) }, where);
  }

  // --- registration ---------------------------------------------------------------------------------

  async registerClient(id: string): Promise<void> {
    const body = [{ id: new Variant("s", id) }];
    for (let attempt = 1; ; attempt++) {
      try {
        await this.rawCall(SYSROOT_PATH, SYSROOT, "RegisterClient", "a{sv}", body);
        return;
      } catch (error) {
        if (!isNoReplyError(error) || attempt >= this.settings.noReplyAttempts) {
          throw fromDBusError(error, `${SYSROOT}.RegisterClient`);
        }
        await sleep(this.settings.noReplyDelayMs, undefined, `${SYSROOT}.RegisterClient`);
      }
    }
  }

  registerDriver(name: string): Promise<void> {
    return this.exclusive(async () => {
      await this.transact("Deploy", "sa{sv}", ["", { "register-driver": new Variant("s", name) }], {});
    });
  }

  // --- staging, finalizing, undoing ---------------------------------------------------------------

  stage(target: Release, options: StageOptions): Promise<Deployment> {
    return this.exclusive(async () => {
      const before = await this.status();
      const plan = planStage(target, before.booted, options.allowDowngrade);
      const outcome = await this.transact(plan.member, plan.signature, plan.body, options);
      const after = await this.reloadedStatus();
      const mismatch = stagedMismatch(after.staged, target, options.expectedStream);
      if (mismatch === undefined && after.staged !== undefined) return after.staged;
      throw await this.rejectStaged(after.staged, `${OS}.${plan.member}`, plan.description, mismatch ?? "", outcome);
    });
  }

  finalize(staged: Deployment): Promise<void> {
    return this.exclusive(async () => {
      await this.transact("FinalizeDeployment", "a{sv}", [{ checksum: new Variant("s", staged.baseRevision) }], {});
    });
  }

  cleanupPending(): Promise<void> {
    return this.exclusive(() => this.cleanup());
  }

  rollback(options: RollbackOptions): Promise<void> {
    return this.exclusive(async () => {
      // rpm-ostree refuses to roll back while something is staged ("remove with cleanup -p").
      if ((await this.status()).staged !== undefined) await this.cleanup();
      await this.transact("Rollback", "a{sv}", [{ reboot: new Variant("b", options.reboot) }], {});
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.bus.disconnect();
  }

  // --- plumbing ---------------------------------------------------------------------------------

  private async cleanup(): Promise<void> {
    await this.transact("Cleanup", "as", [["pending-deploy"]], {});
  }

  /** Cleans up a wrong staged deployment and builds the DEPLOY_VERIFY error that explains it. */
  private async rejectStaged(
    staged: Deployment | undefined,
    where: string,
    asked: string,
    mismatch: string,
    outcome: TransactionOutcome,
  ): Promise<AgentError> {
    let cleanupError: AgentError | undefined;
    if (staged !== undefined) await this.cleanup().catch((e: unknown) => (cleanupError = fromDBusError(e, `${OS}.Cleanup`)));
    const said = outcome.messages.at(-1);
    return new AgentError("DEPLOY_VERIFY", `after "${asked}", ${mismatch}${said ? ` (rpm-ostree said: ${said})` : ""}`, {
      where,
      hint: cleanupError
        ? `removing it failed too (${cleanupError.message}); run \`rpm-ostree cleanup -p\``
        : "it was removed; the agent abandons this release (denylisted: see `agentctl denylist`) and waits for a newer one",
      details: { staged: staged?.id, cleanedUp: staged !== undefined && cleanupError === undefined },
    });
  }

  private async reloadedStatus(): Promise<DeploymentStatus> {
    // Reload is rpm-ostree's sync point: properties read after it reflect the finished transaction.
    await this.call(SYSROOT_PATH, SYSROOT, "Reload", "", []);
    return this.status();
  }

  /** Starts a transaction with an OS method (waiting out other clients' transactions) and runs it. */
  private async transact(member: string, signature: string, body: unknown[], options: TransactOptions): Promise<TransactionOutcome> {
    const where = `${OS}.${member}`;
    const osPath = await this.os();
    // Checked before the call: a transaction we create must also be started (and then cancelled),
    // or it would hold rpm-ostreed until this process leaves the bus.
    if (options.signal?.aborted) throw cancelledError(where);
    const [address] = await this.whenIdle(where, options.signal, () => this.rawCall(osPath, OS, member, signature, body));
    if (typeof address !== "string" || address === "") {
      throw new AgentError("DEPLOY_DBUS", `rpm-ostreed returned no transaction address`, { where });
    }
    return runTransaction({
      address,
      where,
      connectionClass: rawConnectionClass(this.connection()),
      startTimeoutMs: this.settings.transactionStartTimeoutMs,
      timeoutMs: this.settings.transactionTimeoutMs,
      onProgress: options.onProgress,
      signal: options.signal,
    });
  }

  /** Retries `attempt` while rpm-ostreed says another transaction is in progress, within the busy budget. */
  private async whenIdle(where: string, signal: AbortSignal | undefined, attempt: () => Promise<unknown[]>): Promise<unknown[]> {
    const delays = backoffDelays(this.settings.busyWait);
    let lastBusy: unknown;
    for (let i = 0; i <= delays.length; i++) {
      try {
        return await attempt();
      } catch (error) {
        if (!isBusyError(error)) throw fromDBusError(error, where);
        lastBusy = error;
        const delay = delays[i];
        if (delay !== undefined) await sleep(delay, signal, where);
      }
    }
    const busy = fromDBusError(lastBusy, where);
    throw new AgentError("DEPLOY_BUSY", `${busy.message}; still busy after waiting ${this.settings.busyWait.totalMs} ms`, {
      where,
      hint: busy.hint,
      details: { waitedMs: this.settings.busyWait.totalMs },
      cause: lastBusy,
    });
  }

  private async os(): Promise<string> {
    if (this.osPath === undefined) {
      const [path] = await this.call(SYSROOT_PATH, SYSROOT, "GetOS", "s", [""]);
      if (typeof path !== "string") throw new AgentError("DEPLOY_DBUS", "GetOS returned no object path", { where: `${SYSROOT}.GetOS` });
      this.osPath = path;
    }
    return this.osPath;
  }

  private async call(
    path: string,
    iface: string,
    member: string,
    signature: string,
    body: unknown[],
    where = `${iface}.${member}`,
  ): Promise<unknown[]> {
    try {
      return await this.rawCall(path, iface, member, signature, body);
    } catch (error) {
      throw fromDBusError(error, where);
    }
  }

  /** One method call with a deadline; rejects with the library's DBusError so callers can inspect it. */
  private async rawCall(path: string, iface: string, member: string, signature: string, body: unknown[]): Promise<unknown[]> {
    if (this.closed) throw new AgentError("DEPLOY_DBUS", "the deployment manager is closed", { where: `${iface}.${member}` });
    const message = new Message({ destination: RPMOSTREE_BUS_NAME, path, interface: iface, member, signature, body });
    const timeoutMs = this.settings.callTimeoutMs;
    const bus = this.connection();
    try {
      const reply = await withTimeout(bus.call(message), timeoutMs, () =>
        new AgentError("DEPLOY_TIMEOUT", `rpm-ostreed did not answer ${member} within ${timeoutMs} ms`, {
          where: `${iface}.${member}`,
          hint: "check `systemctl status rpm-ostreed`",
        }),
      );
      return reply?.body ?? [];
    } catch (error) {
      // Anything but a D-Bus reply or our own deadline means the connection itself is gone.
      if (!(error instanceof DBusError) && !(error instanceof AgentError) && bus === this.bus) this.busFailed = true;
      throw error;
    }
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => {});
    return run;
  }
}

/** Opens the system bus and returns the rpm-ostree DeploymentManager. Call `close()` when done. */
export function connectRpmOstree(options: RpmOstreeOptions = {}): DeploymentManager {
  return new RpmOstreeManager(options);
}
