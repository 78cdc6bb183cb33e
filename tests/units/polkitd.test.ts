/**
 * The rules file in the real polkitd: a private mount namespace shows polkitd only our rules, a stub
 * rpm-ostree action policy (defaults `no`) and a passwd with an update-agent user; a private bus carries
 * `pkcheck` questions about processes running as that user and as others.
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UNITS, hasTool, runTool } from "./unit-file.js";

const POLKITD = "/usr/lib/polkit-1/polkitd";
const P = "org.projectatomic.rpmostree1.";
const AGENT_UID = 4711;
const NEEDED = ["client-management", "deploy", "rebase", "finalize-deployment", "cleanup", "rollback"].map((a) => P + a);
const UNRELATED = ["override", "upgrade", "install-uninstall-packages", "bootconfig"].map((a) => P + a);
const missing = [POLKITD, "pkcheck", "unshare", "setpriv", "dbus-daemon", "dbus-send"].filter((t) => !hasTool(t));

const ZINCATI_GHSA_RULE = `polkit.addRule(function(action, subject) {
    if (action.id == "${P}deploy" ||
        action.id == "${P}finalize-deployment" &&
        subject.user == "zincati") {
        return polkit.Result.YES;
    }
});
`;

function policyXml(actions: string[]): string {
  const body = actions
    .map((id) => `  <action id="${id}"><description>${id}</description><message>${id}</message>` +
      "<defaults><allow_any>no</allow_any><allow_inactive>no</allow_inactive><allow_active>no</allow_active></defaults></action>")
    .join("\n");
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE policyconfig PUBLIC "-//freedesktop//DTD PolicyKit Policy Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/PolicyKit/1.0/policyconfig.dtd">
<policyconfig>
${body}
</policyconfig>
`;
}

/** The script run inside `unshare --mount`: prints `<user> <action> <pkcheck exit code>` per question. */
function script(dir: string, users: Record<string, number>, actions: string[]): string {
  const sleepers = Object.entries(users)
    .map(
      ([name, uid]) =>
        `setpriv --reuid=${uid} --regid=${uid} --clear-groups sleep 60 & PIDS="$PIDS $!"; SUBJECT_${name}=$!\n` +
        // Ask only once the process runs as that uid: before setpriv switches, it is still root.
        `i=0; until [ "$(stat -c %u /proc/$SUBJECT_${name})" = ${uid} ]; do i=$((i+1)); [ $i -lt 100 ] || exit 92; sleep 0.05; done`,
    )
    .join("\n");
  const checks = Object.keys(users)
    .flatMap((name) => actions.map((a) => `pkcheck --action-id ${a} --process "$SUBJECT_${name}" >/dev/null 2>&1 && echo "${name} ${a} 0" || echo "${name} ${a} $?"`))
    .join("\n");
  return `set -eu
D="${dir}"
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
mount --bind "$D/passwd" /etc/passwd
mount --bind "$D/group" /etc/group
mount --bind "$D/rules.d" /usr/share/polkit-1/rules.d
mount --bind "$D/empty" /etc/polkit-1/rules.d
mount --bind "$D/actions" /usr/share/polkit-1/actions
dbus-daemon --config-file="$D/bus.conf" --nofork --nopidfile & PIDS="$PIDS $!"
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$D/bus.sock"
i=0; until [ -S "$D/bus.sock" ]; do i=$((i+1)); [ $i -lt 100 ] || exit 90; sleep 0.1; done
${POLKITD} --no-debug >"$D/polkitd.log" 2>&1 & PIDS="$PIDS $!"
i=0; until dbus-send --system --dest=org.freedesktop.DBus --print-reply /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner string:org.freedesktop.PolicyKit1 2>/dev/null | grep -q "boolean true"; do
  i=$((i+1)); [ $i -lt 100 ] || exit 91; sleep 0.1
done
${sleepers}
${checks}
`;
}

describe("in the real polkitd", { skip: missing.length > 0 ? `missing ${missing.join(", ")} (apt-get install polkitd pkexec dbus util-linux)` : false }, () => {
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "ua-polkit-"));
    chmodSync(dir, 0o755); // polkitd drops to its own user and must read the rules
    for (const sub of ["rules.d", "empty", "actions"]) mkdirSync(join(dir, sub), { mode: 0o755 });
    writeFileSync(join(dir, "actions/org.projectatomic.rpmostree1.policy"), policyXml([...NEEDED, ...UNRELATED]));
    writeFileSync(join(dir, "passwd"), readFileSync("/etc/passwd", "utf8") + `update-agent:x:${AGENT_UID}:${AGENT_UID}::/:/usr/sbin/nologin\nzincati:x:${AGENT_UID + 1}:${AGENT_UID + 1}::/:/usr/sbin/nologin\n`);
    writeFileSync(join(dir, "group"), readFileSync("/etc/group", "utf8") + `update-agent:x:${AGENT_UID}:\nzincati:x:${AGENT_UID + 1}:\n`);
    writeFileSync(
      join(dir, "bus.conf"),
      `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path=${dir}/bus.sock</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow own="*"/><allow send_type="method_call"/><allow send_type="signal"/>
<allow send_requested_reply="true" send_type="method_return"/><allow send_requested_reply="true" send_type="error"/>
<allow receive_type="method_call"/><allow receive_type="method_return"/><allow receive_type="error"/><allow receive_type="signal"/>
</policy></busconfig>
`,
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs pkcheck for every (user, action) with `rulesFile` as the only rule; `0` means authorized. */
  function ask(rulesFile: string, users: Record<string, number>, actions: string[]): Map<string, number> {
    rmSync(join(dir, "rules.d"), { recursive: true, force: true });
    mkdirSync(join(dir, "rules.d"), { mode: 0o755 });
    copyFileSync(rulesFile, join(dir, "rules.d/50-under-test.rules"));
    chmodSync(join(dir, "rules.d/50-under-test.rules"), 0o644);
    const r = runTool("unshare", ["--mount", "sh", "-c", script(dir, users, actions)]);
    const log = (() => {
      try {
        return readFileSync(join(dir, "polkitd.log"), "utf8");
      } catch {
        return "";
      }
    })();
    assert.equal(r.status, 0, `${r.stderr}\npolkitd: ${log}`);
    const answers = new Map<string, number>();
    for (const line of r.stdout.trim().split("\n")) {
      const [user, action, code] = line.split(" ");
      answers.set(`${user} ${action}`, Number(code));
    }
    return answers;
  }

  test("update-agent is authorized for what it needs and nothing else; nobody else is", () => {
    const answers = ask(join(UNITS, "update-agent.polkit.rules"), { agent: AGENT_UID, nobody: 65534, zincati: AGENT_UID + 1 }, [...NEEDED, ...UNRELATED]);
    for (const action of NEEDED) {
      assert.equal(answers.get(`agent ${action}`), 0, `update-agent: ${action}`);
      assert.notEqual(answers.get(`nobody ${action}`), 0, `nobody: ${action}`);
      assert.notEqual(answers.get(`zincati ${action}`), 0, `zincati: ${action}`);
    }
    for (const action of UNRELATED) assert.notEqual(answers.get(`agent ${action}`), 0, `update-agent: ${action}`);
  });

  test("with Zincati's GHSA-w6fv-6gcc-x825 rule, nobody could deploy", () => {
    const rule = join(dir, "zincati-ghsa.rules");
    writeFileSync(rule, ZINCATI_GHSA_RULE);
    const answers = ask(rule, { nobody: 65534 }, [`${P}deploy`, `${P}finalize-deployment`]);
    assert.equal(answers.get(`nobody ${P}deploy`), 0, "the bug: any user was authorized to deploy");
    assert.notEqual(answers.get(`nobody ${P}finalize-deployment`), 0);
  });
});
