import { test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentError } from "../../src/errors.js";
import { createLogger, detectLogStyle, isJournalStream, type LoggerOptions } from "../../src/host/log.js";

// Terminal timestamps are local time; pin the zone so the expected lines are exact.
process.env.TZ = "UTC";

function capture(options: LoggerOptions = {}) {
  const records: string[] = [];
  const log = createLogger({ write: (r) => records.push(r), ...options });
  return { log, records, text: () => records.join("") };
}

test("every level carries its journald priority prefix", () => {
  const { log, text } = capture({ level: "debug" });
  log.debug("checking graph");
  log.info("update staged: 40.2");
  log.notice("reached steady state");
  log.warn("persistent deploy failure");
  log.error("failed to finalize deployment");
  assert.equal(
    text(),
    [
      "<7>checking graph",
      "<6>update staged: 40.2",
      "<5>reached steady state",
      "<4>persistent deploy failure",
      "<3>failed to finalize deployment",
      "",
    ].join("\n"),
  );
});

test("lines below the configured level are dropped", () => {
  const { log, text } = capture({ level: "notice" });
  log.debug("d");
  log.info("i");
  log.notice("n");
  log.warn("w");
  assert.equal(text(), "<5>n\n<4>w\n");
  const byDefault = capture();
  byDefault.log.debug("hidden");
  byDefault.log.info("shown");
  assert.equal(byDefault.text(), "<6>shown\n");
});

test("text lines are the message then key=value fields, quoted only when needed", () => {
  const { log, text } = capture();
  log.info("update staged: 40.2", {
    version: "40.2",
    payload: "sha256:abc",
    attempts: 3,
    downgrade: false,
    stream: null,
    reason: "disk full",
    empty: "",
    labels: { api: "pre-reboot" },
    quote: 'say "hi"',
  });
  assert.equal(
    text(),
    '<6>update staged: 40.2 version=40.2 payload=sha256:abc attempts=3 downgrade=false stream=null reason="disk full" empty="" labels={"api":"pre-reboot"} quote="say \\"hi\\""\n',
  );
});

test("every line of a multi-line message gets the prefix, fields stay on the first line", () => {
  const { log, text } = capture();
  log.warn("hook failed:\nline two\nline three", { hook: "10-drain" });
  assert.equal(text(), "<4>hook failed: hook=10-drain\n<4>line two\n<4>line three\n");
});

test("an AgentError is logged with its code, where and hint", () => {
  const { log, text } = capture();
  const err = new AgentError("HOST_IO", "logind is not running", {
    where: "org.freedesktop.login1.Manager.ListSessions",
    hint: "start systemd-logind",
  });
  log.error("failed to check for interactive sessions", { err });
  assert.equal(
    text(),
    '<3>failed to check for interactive sessions err="logind is not running" code=HOST_IO where=org.freedesktop.login1.Manager.ListSessions hint="start systemd-logind"\n',
  );
});

test("an unexpected error keeps its stack, each line prefixed", () => {
  const { log, records } = capture();
  const err = new TypeError("x is undefined");
  err.stack = "TypeError: x is undefined\n    at tick (agent.ts:1:1)\n    at loop (agent.ts:2:2)";
  log.error("tick crashed", { err });
  assert.equal(records[0], '<3>tick crashed err="x is undefined"\n<3>    at tick (agent.ts:1:1)\n<3>    at loop (agent.ts:2:2)\n');
});

test("JSON lines on request, still prefixed, without time, pid or hostname", () => {
  const { log, text } = capture({ format: "json", level: "debug" });
  log.info("update staged: 40.2", { version: "40.2" });
  log.notice("two\nlines");
  log.error("failed", { err: new AgentError("GRAPH_HTTP", "HTTP 503", { where: "https://updates.example/v1/graph" }) });
  assert.equal(
    text(),
    [
      '<6>{"level":"info","version":"40.2","msg":"update staged: 40.2"}',
      '<5>{"level":"notice","msg":"two\\nlines"}',
      '<3>{"level":"error","err":"HTTP 503","code":"GRAPH_HTTP","where":"https://updates.example/v1/graph","msg":"failed"}',
      "",
    ].join("\n"),
  );
});

test("a child logger adds its bindings to every line", () => {
  const { log, text } = capture();
  const child = log.child({ component: "fleet-lock" }).child({ api: "pre-reboot" });
  child.info("lock acquired", { id: "node-1" });
  log.info("unbound");
  assert.equal(text(), "<6>lock acquired component=fleet-lock api=pre-reboot id=node-1\n<6>unbound\n");
});

test("fields named like the logger's own keys do not clobber the level or message", () => {
  const { log, text } = capture({ format: "json" });
  log.warn("real message", { msg: "field", level: 9 });
  assert.equal(text(), '<4>{"level":"warn","msg_":"field","level_":9,"msg":"real message"}\n');
});

test("at a terminal, lines are timestamped and unprefixed", () => {
  const now = new Date("2021-05-14T20:48:42.123Z");
  const { log, text } = capture({ style: "terminal", clock: { now: () => now } });
  log.warn("interactive sessions detected\nsecond line", { users: 2 });
  assert.equal(
    text(),
    "2021-05-14 20:48:42.123 WARN   interactive sessions detected users=2\n                               second line\n",
  );
  const json = capture({ style: "terminal", format: "json", clock: { now: () => now } });
  json.log.info("hi");
  assert.equal(json.text(), '{"level":"info","time":"2021-05-14T20:48:42.123Z","msg":"hi"}\n');
});

test("journald is recognised only when JOURNAL_STREAM names the stream we write to", () => {
  const dir = mkdtempSync(join(tmpdir(), "ua-log-"));
  const fd = openSync(join(dir, "stream"), "w");
  try {
    const stat = fstatSync(fd);
    assert.equal(isJournalStream(`${stat.dev}:${stat.ino}`, fd), true);
    assert.equal(isJournalStream(`${stat.dev}:${stat.ino + 1}`, fd), false);
    assert.equal(isJournalStream(undefined, fd), false);
    assert.equal(isJournalStream("garbage", fd), false);
    assert.equal(detectLogStyle({ JOURNAL_STREAM: `${stat.dev}:${stat.ino}` }, fd), "journal");
    // Not a terminal and not journald (a file, a pipe): still prefixed, so levels survive.
    assert.equal(detectLogStyle({}, fd), "journal");
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
});
