/** Counts what the deployment manager is asked and how often it fails (Zincati's rpm_ostree_* metrics). */
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

export function instrumentDeployments(inner: DeploymentManager, metrics: Metrics): DeploymentManager {
  return {
    status: () => counted(metrics.statusAttempts, metrics.statusFailures, () => inner.status()),
    registerClient: (id) => inner.registerClient(id),
    registerDriver: (name) => inner.registerDriver(name),
    stage: (target, options) => counted(metrics.deployAttempts, metrics.deployFailures, () => inner.stage(target, options)),
    finalize: async (staged) => {
      metrics.finalizationAttempts.inc();
      await counted(metrics.finalizeAttempts, metrics.finalizeFailures, () => inner.finalize(staged));
      metrics.finalizationSuccesses.inc();
    },
    cleanupPending: () => inner.cleanupPending(),
    rollback: (options) => inner.rollback(options),
    close: () => inner.close(),
  };
}
