/**
 * The deployment-manager port: everything the agent loop asks of the OS image manager, in the loop's
 * own terms (releases and deployments), so the loop never sees D-Bus, transactions or rpm-ostree
 * option names. The one real adapter is `src/deploy/rpm-ostree.ts`; tests drive it against the
 * simulator in `tests/sim/`.
 *
 * Every method either resolves or rejects with an `AgentError` whose code is one of:
 * - `DEPLOY_DBUS`: the daemon could not be reached, replied with an error, or dropped a transaction
 *   (e.g. it restarted); retrying later is reasonable;
 * - `DEPLOY_BUSY`: another client's transaction did not finish within the configured wait;
 * - `DEPLOY_TRANSACTION_FAILED`: the daemon ran the transaction and reported failure (its message is
 *   the error message, e.g. a pull error or "Reboot blocked by a systemd inhibitor lock");
 * - `DEPLOY_TIMEOUT`: a call or a transaction took longer than configured (the transaction is cancelled);
 * - `DEPLOY_VERIFY`: the daemon staged something other than what was asked (it has been cleaned up);
 * - `DEPLOY_UNSUPPORTED`: the request cannot be done on this host (an OCI update on a non-OCI boot);
 * - `DEPLOY_CANCELLED`: the caller's AbortSignal fired (the transaction is cancelled).
 * `where` names the D-Bus member, e.g. `org.projectatomic.rpmostree1.OS.Deploy`.
 *
 * Calls are serialized inside the adapter (rpm-ostree runs one transaction at a time), so callers may
 * issue them from anywhere without fighting each other.
 */
import type { Release } from "../graph/release.js";
import type { Deployment, DeploymentStatus } from "./deployment.js";

/** One progress report while staging, as the daemon words it. Fields are set when the daemon said them. */
export interface StageProgress {
  /** Human text: "Pulling manifest: …", "Receiving objects: 120/300", "Staging deployment...done". */
  message: string;
  /** 0–100 when the daemon reported a percentage. */
  percent: number | undefined;
  /** Bytes transferred so far and the current rate, from DownloadProgress. */
  downloadedBytes: number | undefined;
  bytesPerSecond: number | undefined;
}

export interface StageOptions {
  /** Permit a target older than the booted deployment (passed to rpm-ostree explicitly, never defaulted). */
  allowDowngrade: boolean;
  /** When set, the staged deployment's stream must match (checked only when the deployment names one). */
  expectedStream?: string | undefined;
  onProgress?: ((progress: StageProgress) => void) | undefined;
  /** Aborting cancels the transaction and rejects with DEPLOY_CANCELLED. */
  signal?: AbortSignal | undefined;
}

export interface RollbackOptions {
  /** Ask the daemon to reboot into the rollback deployment right away. */
  reboot: boolean;
}

export interface DeploymentManager {
  /**
   * Deployments in boot order, the booted/staged/rollback ones, the transaction in progress.
   * `driver` is undefined from the D-Bus adapter: rpm-ostree keeps that registration in a file, not on the bus.
   */
  status(): Promise<DeploymentStatus>;
  /** Announce this agent (keeps the daemon from idle-exiting; tags its journal entries). */
  registerClient(id: string): Promise<void>;
  /** Become the update driver shown by `rpm-ostree status`; manual upgrades then need --bypass-driver. */
  registerDriver(name: string): Promise<void>;
  /**
   * Download and stage `target`, finalization-locked (it will not be applied by a plain reboot), and
   * return the staged deployment after checking it is the one asked for.
   */
  stage(target: Release, options: StageOptions): Promise<Deployment>;
  /** Unlock `staged` and let the daemon reboot into it. The daemon reboots by itself on success. */
  finalize(staged: Deployment): Promise<void>;
  /** Drop a staged (or other pending) deployment; a no-op when there is none. */
  cleanupPending(): Promise<void>;
  /** Make the rollback deployment the next boot; drops a staged deployment first (rpm-ostree requires it). */
  rollback(options: RollbackOptions): Promise<void>;
  /** Disconnect. Safe to call more than once. */
  close(): Promise<void>;
}
