/**
 * The agent loop and the update graph server: a long outage is waited out with a growing backoff (never a
 * tight loop) and reported in the status; the agent recovers on its own; the dead-end MOTD follows the graph.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { graphFor, startNodeRig, type GraphNodeSpec } from "../helpers/node-rig.js";
import { OCI_RELEASES, at } from "../sim/sample-releases.js";
import { methodCalls, stageCalls, trace, waitUntil } from "./loop-helpers.js";

const [R0, R1] = [at(OCI_RELEASES, 0), at(OCI_RELEASES, 1)];

test("loop: graph server down for long: the checks back off (1, 2, 4 s…), status names the URL, and the agent recovers", async () => {
  let down = false;
  let offered = [R0];
  const failedAt: number[] = [];
  let recoveredAt: number | undefined;
  const rig = await startNodeRig({
    releases: OCI_RELEASES,
    booted: 0,
    graphBody: () => graphFor(offered),
    graphStatus: () => {
      if (!down) {
        if (failedAt.length > 0) recoveredAt ??= Date.now();
        return 200;
      }
      failedAt.push(Date.now());
      return 503;
    },
  });
  try {
    rig.startAgent();
    await rig.waitForStatus("first check", (s) => s.state === "idle" && s.last_check?.outcome === "no-update");
    down = true;
    // steady_interval_secs = 1: without a backoff, that is one request a second.
    await waitUntil("four failed checks", () => failedAt.length >= 4, 60_000);
    const gaps = failedAt.slice(1, 4).map((t, i) => t - failedAt[i]!);
    const least = [1_000, 2_000, 4_000];
    for (const [i, gap] of gaps.entries()) assert.ok(gap >= least[i]! * 0.9, `gap ${i + 1} is ${gap} ms, expected ≥ ${least[i]} ms (all: ${gaps.join(", ")})`);

    const failing = await rig.status();
    assert.equal(failing?.state, "idle");
    assert.equal(failing?.last_check?.outcome, "error");
    assert.ok(failing?.last_error, "last_error is set");
    assert.ok(failing.last_error.message.includes(`${rig.graph.url}v1/graph`), `the error names the URL: ${failing.last_error.message}`);
    assert.match(failing.last_error.message, /503/);

    // Back, with an update: the agent picks it up at its next (backed-off) check, by itself.
    offered = [R0, R1];
    down = false;
    const recovered = await rig.waitForStatus("recovered: R1 finalized", (s) => s.state === "finalized", 60_000);
    assert.equal(recovered.target?.version, R1.version);
    assert.equal(recovered.last_check?.outcome, "update");
    assert.equal(failedAt.length, 4, "the first request after the outage was the one that succeeded");
    const lastGap = recoveredAt! - failedAt[3]!;
    assert.ok(lastGap >= 8_000 * 0.9, `the backoff reached 8 steady intervals: ${lastGap} ms`);
  } finally {
    await rig.stop();
  }
});

function deadendGraph(nodes: GraphNodeSpec[]): string {
  return JSON.stringify({
    nodes: nodes.map((n, i) => ({
      version: n.release.version,
      payload: n.release.payload,
      metadata: { "org.fedoraproject.coreos.releases.age_index": String(i), "org.fedoraproject.coreos.scheme": "oci", ...n.metadata },
    })),
    edges: [],
  });
}

test("loop: the dead-end MOTD appears while the graph marks the booted release a dead-end, and goes away after", async () => {
  const reason = "https://github.com/coreos/fedora-coreos-tracker/issues/1234";
  let deadend = true;
  const rig = await startNodeRig({
    releases: OCI_RELEASES,
    booted: 0,
    graphBody: () =>
      deadendGraph([
        { release: R0, metadata: deadend ? { "org.fedoraproject.coreos.updates.deadend": "true", "org.fedoraproject.coreos.updates.deadend_reason": reason } : {} },
      ]),
  });
  const motd = join(rig.root, "run/motd.d/85-update-agent-deadend.motd");
  try {
    rig.startAgent();
    const dead = await rig.waitForStatus("dead-end", (s) => s.deadend_reason !== null);
    assert.equal(dead.deadend_reason, reason);
    assert.equal(dead.last_check?.outcome, "deadend");
    assert.match(dead.status_text, /dead-end/);
    await waitUntil("the MOTD", () => existsSync(motd));
    assert.ok(readFileSync(motd, "utf8").includes(reason), readFileSync(motd, "utf8"));

    deadend = false;
    const alive = await rig.waitForStatus("no longer a dead-end", (s) => s.deadend_reason === null && s.last_check?.outcome === "no-update");
    assert.equal(alive.state, "idle");
    await waitUntil("the MOTD removed", () => !existsSync(motd));
    const calls = await rig.sim.calls();
    assert.equal(stageCalls(calls).length, 0, trace(calls));
    assert.equal(methodCalls(calls, "FinalizeDeployment").length, 0);
  } finally {
    await rig.stop();
  }
});
