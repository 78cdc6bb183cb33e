import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { isTemplated, templateUrl } from "../../src/config/index.js";
import { AgentError } from "../../src/errors.js";

const node = { basearch: "aarch64", group: "workers", platform: "aws", stream: "stable" };

describe("templateUrl substitutes the node's identity like Zincati", () => {
  const rows: [string, string][] = [
    ["https://updates.example.com/", "https://updates.example.com/"],
    ["https://${stream}.example.com/${basearch}/", "https://stable.example.com/aarch64/"],
    ["https://h/${group}/${platform}/${group}", "https://h/workers/aws/workers"],
    // Unknown variables are left as they are (Zincati's envsubst does the same).
    ["https://h/${node_uuid}/${stream}", "https://h/${node_uuid}/stable"],
    // Not a template: the first "}" comes before the first "${".
    ["https://h/}${stream}", "https://h/}${stream}"],
  ];
  for (const [template, want] of rows) test(template, () => assert.equal(templateUrl(template, node), want));

  test("a value that looks like template syntax is refused with CONFIG_TEMPLATE", () => {
    assert.throws(
      () => templateUrl("https://h/${group}/", { ...node, group: "${stream}" }),
      (e: unknown) =>
        e instanceof AgentError &&
        e.code === "CONFIG_TEMPLATE" &&
        e.message === 'cannot template ${group} with "${stream}": it contains "$", "{" or "}"' &&
        e.where === "https://h/${group}/",
    );
  });

  test("values are only checked when the URL is a template", () => {
    assert.equal(templateUrl("https://h/", { ...node, platform: "{x}" }), "https://h/");
  });

  test("isTemplated: the first ${ must precede the first }", () => {
    assert.equal(isTemplated("a${b}"), true);
    assert.equal(isTemplated("a}${b}"), false);
    assert.equal(isTemplated("a${b"), false);
    assert.equal(isTemplated("plain"), false);
  });
});
