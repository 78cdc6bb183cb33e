/**
 * Everything that shows the agent's state outside the process, updated after every event: the
 * sd_notify STATUS text (rpm-ostree's DriverState), the D-Bus properties, metrics and the dead-end MOTD.
 * Each output is touched only when what it shows has changed.
 */
import type { Metrics } from "../api/metrics.js";
import type { AgentControl, ExportedAgentService } from "../api/agent-service.js";
import type { Plan } from "../graph/index.js";
import type { Logger } from "../host/log.js";
import { DEADEND_MOTD_NAME, deadEndMotdText, removeMotd, writeMotd } from "../host/motd.js";
import type { Notifier } from "../host/notify.js";
import type { GateResult } from "./machine.js";
import type { AgentState } from "./state.js";
import { statusText, statusView, targetOf, type LiveFacts, type Progress, type StatusView } from "./view.js";
import type { Driver } from "./driver.js";

export interface PublisherOptions {
  root: string;
  notifier: Notifier;
  metrics: Metrics;
  log: Logger;
  booted: { version: string; payload: string };
  strategy: () => string;
  /** What rpm-ostree has staged now, for the status document (read again when the phase moves on, and after our own changes). */
  readStaged?: () => Promise<LiveFacts["staged"]>;
}

export class Publisher {
  private lastStatus: string | undefined;
  private lastDeadend: string | null | undefined;
  private service: ExportedAgentService | undefined;
  private snapshot: { state: AgentState; progress: Progress | undefined } | undefined;
  private staged: LiveFacts["staged"];
  private stagedReading: "idle" | "reading" | "again" = "idle";
  private lastPhaseKey: string | undefined;

  constructor(private readonly o: PublisherOptions) {}

  attachService(service: ExportedAgentService): void {
    this.service = service;
  }

  view(): StatusView {
    const s = this.snapshot;
    if (!s) throw new Error("no state published yet");
    return statusView(s.state, { booted: this.o.booted, staged: this.staged, progress: s.progress, strategy: this.o.strategy() }, "running");
  }

  control(driver: Driver): AgentControl {
    return {
      view: () => {
        this.snapshot ??= { state: driver.current, progress: driver.currentProgress };
        return this.view();
      },
      checkNow: () => driver.send({ type: "check-now" }),
      applyNow: () => driver.send({ type: "apply-now" }),
      pauseUntil: (until) => driver.send({ type: "pause", until: until.toISOString() }),
      resume: () => driver.send({ type: "resume" }),
    };
  }

  publish(state: AgentState, progress: Progress | undefined): void {
    const { metrics } = this.o;
    this.snapshot = { state, progress };
    const text = statusText(state, progress);
    if (text !== this.lastStatus) {
      this.lastStatus = text;
      void this.o.notifier.status(text);
    }
    this.service?.changed();
    if (state.last_state_change) metrics.latestStateChangeTimestamp.set(Date.parse(state.last_state_change) / 1000);
    metrics.lastRefreshTimestamp.set(Date.now() / 1000);
    metrics.denylistedReleases.set(state.denylist.length);
    metrics.bootedReleaseIsDeadEnd.set(state.deadend_reason !== undefined ? 1 : 0);
    void this.syncDeadendMotd(state.deadend_reason ?? null);
    // The phase moving on is when the sysroot may have changed behind our back (a restart, a manual cleanup).
    const key = `${state.phase.kind} ${targetOf(state)?.payload ?? ""}`;
    if (key !== this.lastPhaseKey) {
      this.lastPhaseKey = key;
      this.stagedMayHaveChanged();
    }
  }

  /**
   * Reads what is staged again, for the status document. One read at a time; a request during a read asks for
   * one more after it, so the last change is always seen.
   */
  stagedMayHaveChanged(): void {
    const read = this.o.readStaged;
    if (!read) return;
    if (this.stagedReading !== "idle") {
      this.stagedReading = "again";
      return;
    }
    this.stagedReading = "reading";
    void read()
      .then(
        (staged) => {
          this.staged = staged;
          this.service?.changed();
        },
        (e: unknown) => this.o.log.debug(`cannot read the staged deployment for the status: ${e instanceof Error ? e.message : String(e)}`),
      )
      .finally(() => {
        const again = this.stagedReading === "again";
        this.stagedReading = "idle";
        if (again) this.stagedMayHaveChanged();
      });
  }

  graphChecked(plan: Plan): void {
    const { metrics } = this.o;
    metrics.ignoredUpdateTargets.set(plan.candidates.filter((c) => c.verdict === "denylisted").length);
  }

  gateAnswered(result: GateResult): void {
    const { metrics } = this.o;
    metrics.canFinalizeResponses.inc({ response: result.allowed ? "allow" : "deny" });
    if (!result.allowed) {
      const reason = result.wait.kind === "sessions" ? "active_usersessions" : result.wait.kind;
      metrics.finalizationBlocked.inc({ reason });
      if (result.wait.kind === "sessions") metrics.postponedFinalizations.inc();
    }
  }

  private async syncDeadendMotd(reason: string | null): Promise<void> {
    if (reason === this.lastDeadend) return;
    this.lastDeadend = reason;
    try {
      if (reason !== null) {
        this.o.log.warn(`current release detected as dead-end, reason: ${reason}`);
        await writeMotd(this.o.root, DEADEND_MOTD_NAME, deadEndMotdText(reason));
      } else {
        await removeMotd(this.o.root, DEADEND_MOTD_NAME);
      }
    } catch (e) {
      this.o.log.warn(`cannot update the dead-end MOTD: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}
