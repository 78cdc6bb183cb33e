/**
 * May this node reboot into its staged update now? The one place where the strategies compose, in an
 * order chosen so the node never holds a fleet slot while it waits for something local:
 *   1. maintenance window (periodic, or a lock strategy with lock_only_in_windows)
 *   2. interactive sessions (grace period with wall-style warnings; Zincati checks these *after* taking
 *      the FleetLock slot and holds it for up to 10 minutes: we don't)
 *   3. logind block inhibitors on shutdown (rpm-ostree would refuse to finalize anyway: coreos/zincati#562)
 *   4. the reboot slot (FleetLock or the etcd semaphore)
 *   5. the group's denylist (etcd_lock), read before asking for the slot and again once it is ours: the node
 *      that failed a release records it before it gives the slot back, so whoever gets the slot next sees it.
 *   6. pre-reboot hooks (drain): a failing hook gives the slot back and postpones the reboot.
 * `apply-now` (force) skips 1 and 2 only: it never takes a slot it was not given.
 */
import type { GateResult } from "../agent/machine.js";
import type { ReleaseRef, WaitReason } from "../agent/state.js";
import type { BlockInhibitor, InteractiveSession, SessionWatcher } from "../host/logind.js";
import { decideFinalization, secondsLeft } from "../host/grace-period.js";
import type { Logger } from "../host/log.js";
import type { RebootLock } from "./lock/index.js";
import { describeOpeningAt, isOpen, nextOpening, type Schedule } from "./windows/index.js";

export interface HookRun {
  ok: boolean;
  /** Names of the hooks that failed, with why. */
  failures: string[];
}

export interface GateDeps {
  strategy: string;
  /** Set when maintenance windows restrict reboots. */
  schedule: Schedule | undefined;
  lock: RebootLock | undefined;
  /**
   * How long one gate evaluation may wait in line for a slot (etcd: the waiting line hands a freed slot to the
   * first waiter at once; leaving the line loses the place). 0: one attempt, as Zincati polls FleetLock.
   */
  lockWaitMs?: number | undefined;
  /** Undefined when `updates.interactive.check_sessions = false`. */
  sessions: SessionWatcher | undefined;
  /**
   * Where shutdown inhibitors are read; `sessions` when absent. Not switched off with the session check:
   * rpm-ostree refuses to finalize while one blocks shutdown, whatever the agent's settings.
   */
  inhibitors?: Pick<SessionWatcher, "listBlockInhibitors"> | undefined;
  gracePeriodMinutes: number;
  /** `agent.timing.postponement_interval_secs`: the pause between two checks while users are logged in (default 60). */
  postponementIntervalSecs?: number | undefined;
  /** `/run/update-agent/override-interactive-check` exists (Zincati's escape hatch, kept). */
  overrideSessions: () => Promise<boolean>;
  broadcast: (sessions: InteractiveSession[], target: ReleaseRef, remainingSecs: number) => Promise<void>;
  runPreRebootHooks: (target: ReleaseRef) => Promise<HookRun>;
  /** Why the group says `target` must not be installed (its shared denylist), or undefined; may throw. */
  denied?: ((target: ReleaseRef) => Promise<string | undefined>) | undefined;
  log: Logger;
  now: () => Date;
}

export interface GateRequest {
  target: ReleaseRef;
  postponementsLeft: number;
  force: boolean;
}

const wait = (w: WaitReason, slotHeld: boolean, postponementsLeft?: number): GateResult =>
  postponementsLeft === undefined ? { allowed: false, wait: w, slotHeld } : { allowed: false, wait: w, slotHeld, postponementsLeft };

function describeInhibitors(list: BlockInhibitor[]): string {
  return list.map((i) => `${i.who} (${i.why})`).join(", ");
}

async function checkWindow(deps: GateDeps, req: GateRequest): Promise<GateResult | undefined> {
  if (!deps.schedule || req.force) return undefined;
  const now = deps.now();
  if (isOpen(deps.schedule, now)) return undefined;
  const next = nextOpening(deps.schedule, now);
  return wait(
    {
      kind: "window",
      message: `maintenance window closed; ${describeOpeningAt(deps.schedule, now, next)}`,
      ...(next ? { until: next.toISOString() } : {}),
    },
    false,
  );
}

async function checkSessions(deps: GateDeps, req: GateRequest): Promise<GateResult | undefined> {
  if (!deps.sessions || req.force) return undefined;
  let sessions: InteractiveSession[];
  try {
    sessions = await deps.sessions.listInteractiveSessions();
  } catch (e) {
    deps.log.error(`failed to check for interactive sessions: ${e instanceof Error ? e.message : String(e)}`);
    deps.log.warn("assuming no active sessions and proceeding anyway");
    return undefined;
  }
  const decision = decideFinalization({
    activeSessions: sessions.length,
    overrideFileExists: sessions.length > 0 ? await deps.overrideSessions() : false,
    postponementsLeft: req.postponementsLeft,
    gracePeriodMinutes: deps.gracePeriodMinutes,
    ...(deps.postponementIntervalSecs !== undefined ? { postponementIntervalSecs: deps.postponementIntervalSecs } : {}),
  });
  if (decision.warning) deps.log.warn(decision.warning);
  if (decision.action === "allow") return undefined;
  if (decision.broadcastSecs !== undefined) await deps.broadcast(sessions, req.target, decision.broadcastSecs);
  const users = [...new Set(sessions.map((s) => s.user))].join(", ");
  const until = new Date(deps.now().getTime() + secondsLeft(decision.postponementsLeft, deps.postponementIntervalSecs) * 1000).toISOString();
  return wait(
    { kind: "sessions", message: `${sessions.length} interactive session(s) (${users}); rebooting when they log out or at the end of the grace period`, until },
    false,
    decision.postponementsLeft,
  );
}

async function checkInhibitors(deps: GateDeps): Promise<GateResult | undefined> {
  const source = deps.inhibitors ?? deps.sessions;
  if (!source) return undefined;
  let inhibitors: BlockInhibitor[];
  try {
    inhibitors = await source.listBlockInhibitors();
  } catch (e) {
    deps.log.warn(`failed to list shutdown inhibitors: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
  if (inhibitors.length === 0) return undefined;
  return wait(
    { kind: "inhibitor", message: `shutdown blocked by ${describeInhibitors(inhibitors)}`, details: { inhibitors } },
    false,
  );
}

/** The group's verdict on the target; fail closed: a list we cannot read might name it. */
async function deniedBy(deps: GateDeps, req: GateRequest): Promise<string | undefined> {
  if (!deps.denied) return undefined;
  return deps.denied(req.target).catch((e: unknown) => `cannot read the group's denylist: ${e instanceof Error ? e.message : String(e)}`);
}

export async function evaluateGate(deps: GateDeps, req: GateRequest): Promise<GateResult> {
  for (const step of [() => checkWindow(deps, req), () => checkSessions(deps, req), () => checkInhibitors(deps)]) {
    const blocked = await step();
    if (blocked) return blocked;
  }
  // Once before asking for a slot, so a node staged on a denied release does not keep taking the slot from others…
  const deniedEarly = await deniedBy(deps, req);
  if (deniedEarly !== undefined) return wait({ kind: "strategy", message: deniedEarly }, false);
  if (deps.lock) {
    const outcome = await deps.lock.acquire({ waitMs: deps.lockWaitMs ?? 0 });
    if (outcome.kind === "busy") {
      // poseidon/fleetlock's reason already names its holder: say each one once.
      const unnamed = (outcome.holders ?? []).filter((h) => !outcome.reason.includes(h));
      const holders = unnamed.length > 0 ? ` (holders: ${unnamed.join(", ")})` : "";
      return wait({ kind: "lock", message: `reboot slot busy: ${outcome.reason}${holders}`, details: { holders: outcome.holders ?? [] } }, false);
    }
    if (outcome.kind === "error") {
      return wait({ kind: "lock", message: `cannot take a reboot slot: ${outcome.error.describe()}` }, false);
    }
  }
  const giveBack = async (why: string): Promise<boolean> => {
    if (!deps.lock) return false;
    const released = await deps.lock.release();
    if (released.kind !== "error") return false;
    deps.log.error(`${why} and the reboot slot could not be given back: ${released.error.describe()}`);
    return true;
  };
  // …and again once the slot is ours: whoever held it before recorded a failed release before giving it back.
  const denied = await deniedBy(deps, req);
  if (denied !== undefined) return wait({ kind: "strategy", message: denied }, await giveBack(`${req.target.version} may not be installed`));
  const hooks = await deps.runPreRebootHooks(req.target);
  if (!hooks.ok) {
    return wait({ kind: "hook", message: `pre-reboot hook failed: ${hooks.failures.join("; ")}` }, await giveBack("pre-reboot hook failed"));
  }
  return { allowed: true, slotHeld: deps.lock !== undefined };
}

/** Gives the reboot slot back (FleetLock steady-state); immediate and periodic have none. */
export async function reportSteady(deps: Pick<GateDeps, "lock" | "log">): Promise<void> {
  if (!deps.lock) return;
  const outcome = await deps.lock.release();
  if (outcome.kind === "error") throw outcome.error;
  if (outcome.kind === "busy") throw new Error(`could not release the reboot slot: ${outcome.reason}`);
}
