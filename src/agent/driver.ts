/**
 * The imperative shell around the state machine: one event at a time, state persisted before effects
 * run (write-ahead), effects executed through the ports, outcomes fed back as events, then a sleep
 * until the next tick or a control request. Nothing here decides; machine.ts does.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { GateResult } from "./machine.js";
import { transition, type AgentEvent, type Effect, type Policy } from "./machine.js";
import type { AgentState, ReleaseRef } from "./state.js";
import { nextDelayMs, type Timing } from "./timing.js";
import { describeError, errorRecord } from "./errors.js";
import type { CheckOutcome } from "./check.js";
import type { Progress } from "./view.js";
import type { DeploymentManager } from "../deploy/port.js";
import type { Deployment } from "../deploy/deployment.js";
import { stagedMismatch } from "../deploy/stage-plan.js";
import type { Release } from "../graph/release.js";
import type { Clock } from "../host/clock.js";
import type { Logger } from "../host/log.js";
import { isAgentError } from "../errors.js";
import { startVerification } from "../health/record.js";

export interface DriverPorts {
  save(state: AgentState): Promise<void>;
  deploy: DeploymentManager;
  checkGraph(denylist: ReadonlySet<string>, signal: AbortSignal): Promise<CheckOutcome>;
  evaluateGate(request: { target: ReleaseRef; postponementsLeft: number; force: boolean }): Promise<GateResult>;
  reportSteady(): Promise<void>;
  /** Called after every processed event with the state now in force (status text, D-Bus, metrics, MOTD). */
  published(state: AgentState, progress: Progress | undefined): void;
  /** The current boot's id (recorded with a pending verification). */
  bootId(): Promise<string | undefined>;
  /** What to check a staged deployment's stream against (the booted stream). */
  expectedStream(): string | undefined;
  allowDowngrade(): boolean;
  log: Logger;
  clock: Clock;
  rand: () => number;
  /** The node's root (agentd --root), for the test-only fault switch below. Default "/". */
  root?: string;
}

export interface DriverConfig {
  policy: Policy;
  timing: Timing;
}

/** How long a transaction found running before a stage is waited out (rpm-ostree's busy wait is as long). */
const SETTLE_WAIT_MS = 15 * 60 * 1000;
const SETTLE_POLL_MS = 1_000;

/**
 * Test-only fault switch (docs/e2e.md): with UPDATE_AGENT_TEST_FAULTS=1 in the environment, a tick that finds this
 * file blocks the event loop until it is removed, so the watchdog timer cannot fire either: a real stall, for
 * systemd's watchdog to kill. Without the variable, the file means nothing.
 */
export const STALL_FAULT_FILE = "run/update-agent/fault-stall-loop";

function stallWhileFaultFileExists(root: string): void {
  if (process.env.UPDATE_AGENT_TEST_FAULTS !== "1") return;
  const file = join(root, STALL_FAULT_FILE);
  while (existsSync(file)) {
    // busy on purpose
  }
}

/** A loop that has not finished an event for this long is stuck (watchdog): transactions are bounded well below it. */
const STUCK_AFTER_MS = 3 * 60 * 60 * 1000;

export class Driver {
  private state: AgentState;
  private progress: Progress | undefined;
  private readonly queue: AgentEvent[] = [];
  private wake: (() => void) | undefined;
  private stopping = false;
  private readonly abort = new AbortController();
  private busySince: number | undefined;
  private loopDone: Promise<void> | undefined;

  constructor(
    initial: AgentState,
    private readonly ports: DriverPorts,
    private config: DriverConfig,
  ) {
    this.state = initial;
  }

  get current(): AgentState {
    return this.state;
  }

  get currentProgress(): Progress | undefined {
    return this.progress;
  }

  /** New timing and policy after a configuration reload; takes effect at the next sleep. */
  reconfigure(config: DriverConfig): void {
    this.config = config;
    this.wake?.();
  }

  /** Queues an event (control requests from D-Bus) and wakes the loop. */
  send(event: AgentEvent): void {
    this.queue.push(event);
    this.wake?.();
  }

  /** False when an effect has been running far longer than any bounded operation may: the watchdog stops pinging. */
  isAlive(): boolean {
    return this.busySince === undefined || this.ports.clock.now().getTime() - this.busySince < STUCK_AFTER_MS;
  }

  start(): void {
    this.loopDone = this.loop();
  }

  /** Stops after the effect in flight (a transaction is never abandoned half-done), within `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.wake?.();
    const timer = setTimeout(() => this.abort.abort(new Error("agent stopping")), graceMs);
    try {
      await this.loopDone;
    } finally {
      clearTimeout(timer);
    }
  }

  private async loop(): Promise<void> {
    this.queue.unshift({ type: "tick" });
    while (!this.stopping) {
      const event = this.queue.shift();
      if (event) {
        if (event.type === "tick") stallWhileFaultFileExists(this.ports.root ?? "/");
        await this.process(event);
        continue;
      }
      await this.sleep(nextDelayMs(this.state, this.ports.clock.now(), this.config.timing, this.ports.rand));
      if (this.queue.length === 0 && !this.stopping) this.queue.push({ type: "tick" });
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }

  private async process(first: AgentEvent): Promise<void> {
    const pending: AgentEvent[] = [first];
    while (pending.length > 0) {
      const event = pending.shift()!;
      const step = transition(this.state, event, this.ports.clock.now(), this.config.policy);
      if (step.state !== this.state) {
        this.state = step.state;
        await this.persist();
      }
      this.ports.published(this.state, this.progress);
      for (const effect of step.effects) {
        if (this.stopping && effect.kind !== "finalize") break;
        pending.push(...(await this.run(effect)));
        // Control requests that arrived meanwhile go first: they can change what the rest means.
        while (this.queue.length > 0) pending.push(this.queue.shift()!);
      }
    }
  }

  private async persist(): Promise<void> {
    try {
      await this.ports.save(this.state);
    } catch (e) {
      this.ports.log.error(`cannot save the state file: ${isAgentError(e) ? e.describe() : String(e)}`);
    }
  }

  private async run(effect: Effect): Promise<AgentEvent[]> {
    this.busySince = this.ports.clock.now().getTime();
    try {
      return await this.execute(effect);
    } finally {
      this.busySince = undefined;
    }
  }

  private async execute(effect: Effect): Promise<AgentEvent[]> {
    const { ports } = this;
    const now = () => ports.clock.now();
    switch (effect.kind) {
      case "report-steady":
        try {
          await ports.reportSteady();
          return [{ type: "steady-reported" }];
        } catch (e) {
          const error = errorRecord(e, now());
          ports.log.warn(`failed to report steady state: ${error.message}`);
          return [{ type: "steady-failed", error }];
        }
      case "check-graph": {
        const denylist = new Set(this.state.denylist.map((d) => d.payload));
        const outcome = await ports.checkGraph(denylist, this.abort.signal);
        if (outcome.result.outcome === "update") {
          ports.log.info(`target release '${outcome.result.target.version}' selected`);
        }
        return [{ type: "checked", result: outcome.result, fleetDenylist: outcome.fleetDenylist }];
      }
      case "stage":
        return this.stage(effect.target);
      case "cleanup-staged":
        try {
          await ports.deploy.cleanupPending();
        } catch (e) {
          ports.log.warn(`failed to clean up the staged deployment: ${describeError(e)}`);
        }
        return [{ type: "cleaned-up" }];
      case "evaluate-gate": {
        const result = await ports.evaluateGate({ target: effect.target, postponementsLeft: effect.postponementsLeft, force: effect.force });
        if (!result.allowed) ports.log.info(`update staged: ${effect.target.version}; reboot pending: ${result.wait.message}`);
        return [{ type: "gate", result }];
      }
      case "finalize":
        return this.finalize(effect.target);
    }
  }

  private async stage(target: ReleaseRef): Promise<AgentEvent[]> {
    const { ports } = this;
    const release = { version: target.version, payload: target.payload, ageIndex: target.age_index, metadata: {} };
    this.progress = { percent: undefined, message: "starting" };
    try {
      if (await this.alreadyStaged(release)) {
        ports.log.notice(`${target.version} is already staged; not staging it again`);
        return [{ type: "staged", target }];
      }
      // Stopping while waiting: the state file still says staging, so the next start stages.
      if (this.stopping) return [];
      ports.log.info(`staging ${target.version}`, { payload: target.payload });
      await ports.deploy.stage(
        release,
        {
          allowDowngrade: ports.allowDowngrade(),
          expectedStream: ports.expectedStream(),
          signal: this.abort.signal,
          onProgress: (p) => {
            this.progress = { percent: p.percent, message: p.message };
            ports.published(this.state, this.progress);
          },
        },
      );
      ports.log.notice(`update staged: ${target.version}`);
      return [{ type: "staged", target }];
    } catch (e) {
      const error = errorRecord(e, ports.clock.now());
      const permanent = isAgentError(e) && (e.code === "DEPLOY_VERIFY" || e.code === "DEPLOY_UNSUPPORTED");
      ports.log.error(`failed to stage deployment: ${error.message}`);
      return [{ type: "stage-failed", error, permanent }];
    } finally {
      this.progress = undefined;
    }
  }

  /**
   * A transaction still running in rpm-ostreed (the stage of an agentd killed mid-transaction, or another
   * client's) is waited out first; if it left exactly this release staged, staging again would only join
   * or repeat it.
   */
  private async alreadyStaged(release: Release): Promise<boolean> {
    const { ports } = this;
    const deadline = ports.clock.now().getTime() + SETTLE_WAIT_MS;
    let status = await ports.deploy.status();
    while (status.activeTransaction !== undefined && !this.stopping && ports.clock.now().getTime() < deadline) {
      if (this.progress?.message.startsWith("waiting") !== true) {
        ports.log.info(`waiting for rpm-ostreed to finish "${status.activeTransaction}" before staging ${release.version}`);
      }
      this.progress = { percent: undefined, message: `waiting for rpm-ostreed to finish "${status.activeTransaction}"` };
      ports.published(this.state, this.progress);
      await ports.clock.sleep(SETTLE_POLL_MS, this.abort.signal).catch(() => undefined);
      status = await ports.deploy.status();
    }
    return status.staged !== undefined && stagedMismatch(status.staged, release, ports.expectedStream()) === undefined;
  }

  private async finalize(target: ReleaseRef): Promise<AgentEvent[]> {
    const { ports } = this;
    const now = () => ports.clock.now();
    let staged: Deployment | undefined;
    let status;
    try {
      status = await ports.deploy.status();
      staged = status.staged;
    } catch (e) {
      return [{ type: "finalize-failed", error: errorRecord(e, now()) }];
    }
    if (!staged || staged.payload !== target.payload) {
      ports.log.warn(`the staged deployment is ${staged ? staged.version : "gone"}, not ${target.version}: staging it again`);
      return [{ type: "staged-lost" }];
    }
    // Write-ahead: the next boot must know what it is verifying before the reboot can happen.
    const record = startVerification(target, status.booted, now(), await ports.bootId());
    const events: AgentEvent[] = [];
    const recorded = transition(this.state, { type: "boot-recorded", record }, now(), this.config.policy);
    this.state = recorded.state;
    await this.persist();
    try {
      await ports.deploy.finalize(staged);
      ports.log.notice(`update finalized: ${target.version}`);
      events.push({ type: "finalized" });
    } catch (e) {
      const error = errorRecord(e, now());
      ports.log.error(`failed to finalize deployment: ${error.message}`);
      events.push({ type: "boot-recorded", record: undefined }, { type: "finalize-failed", error });
    }
    return events;
  }
}
