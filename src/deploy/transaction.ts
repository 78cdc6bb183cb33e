/**
 * Runs one rpm-ostree transaction to its end over its private peer-to-peer address (reference:
 * rpm-ostree-dbus.md §4): connect without Hello, listen, `Start()`, wait for `Finished(b, s)`.
 * `Start()` returning false means another client started it (we joined); a transaction that already
 * finished re-emits `Finished` to us, so joining late works too.
 */
import { AgentError } from "../errors.js";
import { fromDBusError } from "./dbus-errors.js";
import { openPeerConnection, type PeerConnection, type PeerSignal, type RawConnectionClass } from "./peer-connection.js";
import type { StageProgress } from "./port.js";
import { cancelledError, withTimeout } from "./timing.js";

const TRANSACTION_INTERFACE = "org.projectatomic.rpmostree1.Transaction";
/** How long a best-effort Cancel may take before we walk away. */
const CANCEL_TIMEOUT_MS = 5_000;

export interface TransactionRequest {
  /** The address the OS method returned (`unix:path=…`, maybe with `,guid=…`): used verbatim. */
  address: string;
  /** The D-Bus member that created the transaction, e.g. `org.projectatomic.rpmostree1.OS.Deploy`. */
  where: string;
  connectionClass: RawConnectionClass;
  /** Connecting, authenticating and the reply to Start. */
  startTimeoutMs: number;
  /** From Start to Finished. On expiry the transaction is cancelled. */
  timeoutMs: number;
  onProgress?: ((progress: StageProgress) => void) | undefined;
  signal?: AbortSignal | undefined;
}

export interface TransactionOutcome {
  /** The daemon's Message texts, in order ("No change.", "Staging deployment...done", …). */
  messages: string[];
}

function numberAt(tuple: unknown, index: number): number | undefined {
  const value = Array.isArray(tuple) ? tuple[index] : undefined;
  return typeof value === "number" ? value : undefined;
}

/** What a Transaction signal tells a person watching, or undefined for signals with nothing to show. */
export function progressFromSignal(signal: PeerSignal): StageProgress | undefined {
  const text = typeof signal.body[0] === "string" ? signal.body[0] : "";
  const none = { percent: undefined, downloadedBytes: undefined, bytesPerSecond: undefined };
  switch (signal.member) {
    case "Message":
    case "TaskBegin":
    case "TaskEnd":
      return { ...none, message: text };
    case "PercentProgress":
      return { ...none, message: text, percent: typeof signal.body[1] === "number" ? signal.body[1] : undefined };
    case "DownloadProgress": {
      // (time)(outstanding)(metadata)(delta)(content=(fetched, requested))(transfer=(bytes, bytes/s))
      const [, , , , content, transfer] = signal.body;
      const fetched = numberAt(content, 0);
      const requested = numberAt(content, 1);
      const known = fetched !== undefined && requested !== undefined && requested > 0;
      return {
        message: known ? `Receiving objects: ${fetched}/${requested}` : "Receiving objects",
        percent: known ? Math.floor((100 * fetched) / requested) : undefined,
        downloadedBytes: numberAt(transfer, 0),
        bytesPerSecond: numberAt(transfer, 1),
      };
    }
    default:
      return undefined;
  }
}

async function cancelQuietly(connection: PeerConnection): Promise<void> {
  try {
    await connection.call({ interface: TRANSACTION_INTERFACE, member: "Cancel", timeoutMs: CANCEL_TIMEOUT_MS });
  } catch {
    // The transaction may have finished or the daemon gone; we are reporting the original problem anyway.
  }
}

export async function runTransaction(request: TransactionRequest): Promise<TransactionOutcome> {
  const { where } = request;
  const messages: string[] = [];
  let resolveFinished: (result: [boolean, string]) => void = () => {};
  const finished = new Promise<[boolean, string]>((resolve) => (resolveFinished = resolve));
  const onSignal = (signal: PeerSignal): void => {
    if (signal.interface !== TRANSACTION_INTERFACE) return;
    if (signal.member === "Finished") {
      resolveFinished([signal.body[0] === true, typeof signal.body[1] === "string" ? signal.body[1] : ""]);
      return;
    }
    if (signal.member === "Message" && typeof signal.body[0] === "string") messages.push(signal.body[0]);
    const progress = progressFromSignal(signal);
    if (progress !== undefined) request.onProgress?.(progress);
  };

  let connection: PeerConnection;
  try {
    connection = await openPeerConnection(request.address, {
      connectionClass: request.connectionClass,
      timeoutMs: request.startTimeoutMs,
      onSignal,
    });
  } catch (error) {
    throw new AgentError("DEPLOY_DBUS", `could not connect to the transaction at ${request.address}: ${(error as Error).message}`, {
      where,
      hint: "rpm-ostreed may have restarted; the agent retries",
      cause: error,
    });
  }

  let abortListener: (() => void) | undefined;
  try {
    // Start's reply (false: another client started it and we joined) changes nothing for us.
    await connection
      .call({ interface: TRANSACTION_INTERFACE, member: "Start", timeoutMs: request.startTimeoutMs })
      .catch((error: unknown) => {
        throw fromDBusError(error, `${TRANSACTION_INTERFACE}.Start`);
      });

    const dropped = connection.closed.then((reason) => {
      throw new AgentError("DEPLOY_DBUS", `rpm-ostreed closed the transaction before it finished (${reason.message})`, {
        where,
        hint: "the daemon probably restarted; nothing was staged, and the agent retries",
      });
    });
    // We close the connection ourselves when done, which settles `dropped` after nobody is listening.
    dropped.catch(() => {});
    const aborted = new Promise<never>((_, reject) => {
      abortListener = () => reject(cancelledError(where));
      if (request.signal?.aborted) abortListener();
      else request.signal?.addEventListener("abort", abortListener, { once: true });
    });
    const timedOut = new AgentError("DEPLOY_TIMEOUT", `the transaction did not finish within ${request.timeoutMs} ms`, {
      where,
      hint: "the agent cancelled it; raise the deployment transaction timeout if downloads are slow here",
    });

    let outcome: [boolean, string];
    try {
      outcome = await withTimeout(Promise.race([finished, dropped, aborted]), request.timeoutMs, () => timedOut);
    } catch (error) {
      if (error instanceof AgentError && (error.code === "DEPLOY_TIMEOUT" || error.code === "DEPLOY_CANCELLED")) {
        await cancelQuietly(connection);
      }
      throw error;
    }
    const [success, errorMessage] = outcome;
    if (!success) {
      throw new AgentError("DEPLOY_TRANSACTION_FAILED", errorMessage || "rpm-ostree reported failure without a message", {
        where,
        hint: "see `journalctl -u rpm-ostreed` for the whole transaction log",
        details: { daemonMessage: errorMessage },
      });
    }
    return { messages };
  } finally {
    if (abortListener !== undefined) request.signal?.removeEventListener("abort", abortListener);
    connection.close();
  }
}
