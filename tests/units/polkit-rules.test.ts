import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { REPO, UNITS } from "./unit-file.js";
import { RESULT, loadRules, ruleProblems, type RuleExpectation } from "./polkit-sandbox.js";

const RULES_FILE = join(UNITS, "update-agent.polkit.rules");
const P = "org.projectatomic.rpmostree1.";

/**
 * What rpm-ostreed asks polkit before each method the agent calls (rpm-ostree's os_authorize_method and
 * sysroot_authorize_method; rpm-ostree-dbus.md §1, §3). Transaction methods run on the private peer
 * connection, which polkit never sees. UpdateDeployment is only called with set-refspec (a rebase, see
 * src/deploy/stage-plan.ts), which makes it `rebase`.
 */
const METHOD_ACTIONS: Record<string, string[]> = {
  RegisterClient: [`${P}client-management`],
  Deploy: [`${P}deploy`],
  UpdateDeployment: [`${P}rebase`],
  FinalizeDeployment: [`${P}finalize-deployment`],
  Cleanup: [`${P}cleanup`],
  Rollback: [`${P}rollback`],
  GetOS: [],
  Reload: [],
  Start: [],
  Cancel: [],
};

/** Every action rpm-ostree declares (its org.projectatomic.rpmostree1.policy). */
const ALL_RPM_OSTREE_ACTIONS = [
  "install-uninstall-packages",
  "install-local-packages",
  "override",
  "deploy",
  "upgrade",
  "rebase",
  "rollback",
  "bootconfig",
  "reload-daemon",
  "cancel",
  "cleanup",
  "client-management",
  "repo-refresh",
  "repo-modify",
  "finalize-deployment",
].map((a) => P + a);

/** The rpm-ostree methods (from the upstream introspection XML) named in the agent's D-Bus adapter. */
function methodsTheAgentCalls(): string[] {
  const xml = readFileSync(join(REPO, "tests/fixtures/rpm-ostree/org.projectatomic.rpmostree1.xml"), "utf8");
  const methods = new Set([...xml.matchAll(/<method name="([A-Za-z]+)"/g)].map((m) => m[1]!));
  const dir = join(REPO, "src/deploy");
  const source = readdirSync(dir)
    .filter((f) => f.endsWith(".ts"))
    .map((f) => readFileSync(join(dir, f), "utf8"))
    .join("\n");
  return [...methods].filter((m) => new RegExp(`["'\`]${m}["'\`]`).test(source)).sort();
}

/** logind: `Reboot`, for a second boot into a release after failed health checks (src/host/logind.ts). */
const LOGIND_ACTIONS = ["org.freedesktop.login1.reboot", "org.freedesktop.login1.reboot-multiple-sessions"];
const NEEDED = [...new Set([...methodsTheAgentCalls().flatMap((m) => METHOD_ACTIONS[m] ?? []), ...LOGIND_ACTIONS])].sort();
const OTHERS = ["core", "nobody", "zincati", "root", "update-agent2", "xupdate-agent", "update-agent ", ""];
const UNRELATED = [
  ...ALL_RPM_OSTREE_ACTIONS.filter((a) => !NEEDED.includes(a)),
  "org.freedesktop.systemd1.manage-units",
  "org.freedesktop.login1.power-off",
  "org.freedesktop.login1.reboot-ignore-inhibit",
  "org.freedesktop.policykit.exec",
  `${P}deploy.extra`,
  "org.projectatomic.rpmostree1",
  "",
  "constructor",
  "__proto__",
];
const EXPECTED: RuleExpectation = { user: "update-agent", granted: NEEDED, unrelated: UNRELATED, others: OTHERS };

describe("update-agent.polkit.rules", () => {
  const rules = loadRules(readFileSync(RULES_FILE, "utf8"), RULES_FILE);

  test("every rpm-ostree method the agent calls has a known polkit action", () => {
    const unknown = methodsTheAgentCalls().filter((m) => !(m in METHOD_ACTIONS));
    assert.deepEqual(unknown, [], "a new rpm-ostree call needs its polkit action in METHOD_ACTIONS and maybe in the rule");
    assert.deepEqual(NEEDED, [
      ...LOGIND_ACTIONS,
      `${P}cleanup`,
      `${P}client-management`,
      `${P}deploy`,
      `${P}finalize-deployment`,
      `${P}rebase`,
      `${P}rollback`,
    ]);
  });

  for (const action of NEEDED) {
    test(`update-agent gets YES for ${action}`, () => {
      assert.equal(rules.decide(action, { user: "update-agent" }), RESULT.YES);
    });
  }

  test("grants update-agent exactly what its calls need among rpm-ostree's actions", () => {
    const granted = ALL_RPM_OSTREE_ACTIONS.filter((a) => rules.decide(a, { user: "update-agent" }) === RESULT.YES);
    assert.deepEqual(granted.sort(), NEEDED.filter((a) => a.startsWith(P)));
  });

  test("other users get no answer (polkit falls through to rpm-ostree's defaults)", () => {
    for (const user of OTHERS) {
      for (const action of NEEDED) assert.equal(rules.decide(action, { user, local: true, active: true }), undefined, `${user}: ${action}`);
    }
  });

  test("update-agent gets no answer for unrelated actions", () => {
    for (const action of UNRELATED) assert.equal(rules.decide(action, { user: "update-agent" }), undefined, action);
  });

  test("the checker finds nothing wrong", () => {
    assert.equal(rules.count, 1);
    assert.deepEqual(ruleProblems(rules, EXPECTED), []);
  });
});

describe("the checker would have caught GHSA-w6fv-6gcc-x825", () => {
  // Zincati 0.0.24–0.0.29 shipped this shape: `&&` binds tighter than `||`, so the user test only
  // guarded the last action, and any local user could deploy.
  const vulnerable = `
polkit.addRule(function(action, subject) {
    if (action.id == "org.projectatomic.rpmostree1.deploy" ||
        action.id == "org.projectatomic.rpmostree1.finalize-deployment" &&
        subject.user == "zincati") {
        return polkit.Result.YES;
    }
});`;
  // The fix (0.0.30) put the action tests in parentheses.
  const fixed = vulnerable
    .replace('if (action.id == "org.projectatomic.rpmostree1.deploy"', 'if ((action.id == "org.projectatomic.rpmostree1.deploy"')
    .replace('finalize-deployment" &&', 'finalize-deployment") &&');
  const zincati: RuleExpectation = {
    user: "zincati",
    granted: [`${P}deploy`, `${P}finalize-deployment`],
    unrelated: [`${P}override`, "org.freedesktop.systemd1.manage-units"],
    others: ["core", "nobody"],
  };

  test("another user gets YES for deploy from the vulnerable rule", () => {
    const problems = ruleProblems(loadRules(vulnerable), zincati);
    assert.ok(problems.includes(`core gets yes for ${P}deploy`), problems.join("\n"));
    assert.ok(problems.includes(`nobody gets yes for ${P}deploy`), problems.join("\n"));
    assert.ok(!problems.some((p) => p.includes("finalize-deployment")), "the guarded last action was fine");
  });

  test("the fixed rule passes the same checker", () => {
    assert.deepEqual(ruleProblems(loadRules(fixed), zincati), []);
  });
});
