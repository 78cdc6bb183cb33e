/**
 * The deployment manager as the agent uses it: Zincati's rpm_ostree_* counters on every call, and a
 * notification after each of our own calls that may have changed what is staged (for the status document).
 */
import type { Metrics } from "../api/metrics.js";
import type { DeploymentManager } from "../deploy/port.js";

async function counted<T>(attempts: { inc(): void }, failures: { inc(): void }, call: () => Promise<T>): Promise<T> {
  attempts.inc();
  try {
    return await call();
  } catch (e) {
    failures.inc();
    throw e;
  }
}

export function instrumentDeployments(inner: DeploymentManager, metrics: Metrics, stagedMayHaveChanged: () => void = () => {}): DeploymentManager {
  const changing = <T>(work: Promise<T>): Promise<T> => work.finally(stagedMayHaveChanged);
  return {
    status: () => counted(metrics.statusAttempts, metrics.statusFailures, () => inner.status()),
    registerClient: (id) => inner.registerClient(id),
    registerDriver: (name) => inner.registerDriver(name),
    stage: (target, options) => changing(counted(metrics.deployAttempts, metrics.deployFailures, () => inner.stage(target, options))),
    finalize: (staged) =>
      changing(
        (async () => {
          metrics.finalizationAttempts.inc();
          await counted(metrics.finalizeAttempts, metrics.finalizeFailures, () => inner.finalize(staged));
          metrics.finalizationSuccesses.inc();
        })(),
      ),
    cleanupPending: () => changing(inner.cleanupPending()),
    rollback: (options) => changing(inner.rollback(options)),
    close: () => inner.close(),
  };
}
