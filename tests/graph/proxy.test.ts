import { test } from "node:test";
import assert from "node:assert/strict";
import { AgentError } from "../../src/errors.js";
import { bypassesProxy, proxyForUrl } from "../../src/graph/proxy.js";

test("the proxy variable is chosen by scheme, lower case first, ALL_PROXY as the fallback", () => {
  const cases: Array<[string, NodeJS.ProcessEnv, string | undefined]> = [
    ["https://h/", {}, undefined],
    ["https://h/", { HTTPS_PROXY: "http://p:3128" }, "http://p:3128/"],
    ["https://h/", { https_proxy: "http://lower:1", HTTPS_PROXY: "http://upper:2" }, "http://lower:1/"],
    ["https://h/", { HTTP_PROXY: "http://p:3128" }, undefined],
    ["http://h/", { HTTP_PROXY: "http://p:3128" }, "http://p:3128/"],
    ["http://h/", { ALL_PROXY: "http://all:8080" }, "http://all:8080/"],
    ["https://h/", { all_proxy: "http://all:8080", HTTPS_PROXY: "http://p:1" }, "http://p:1/"],
    ["https://h/", { HTTPS_PROXY: "proxy.corp:3128" }, "http://proxy.corp:3128/"],
    ["https://h/", { HTTPS_PROXY: "" }, undefined],
    ["file:///graph.json", { ALL_PROXY: "http://all:8080" }, undefined],
  ];
  for (const [url, env, proxy] of cases) assert.equal(proxyForUrl(new URL(url), env)?.proxy.href, proxy, `${url} ${JSON.stringify(env)}`);
  assert.equal(proxyForUrl(new URL("https://h/"), { https_proxy: "http://p:1" })?.variable, "https_proxy");
});

test("NO_PROXY: *, domains and subdomains, host:port, IP addresses and CIDR ranges", () => {
  const cases: Array<[string, string, boolean]> = [
    ["https://updates.example.com/", "*", true],
    ["https://updates.example.com/", "example.com", true],
    ["https://updates.example.com/", ".example.com", true],
    ["https://updates.example.com/", "*.example.com", true],
    ["https://example.com/", ".example.com", true],
    ["https://badexample.com/", "example.com", false],
    ["https://updates.example.com/", "other.org, example.com", true],
    ["https://updates.example.com/", "other.org example.com", true],
    ["https://updates.example.com:8443/", "updates.example.com:8443", true],
    ["https://updates.example.com/", "updates.example.com:8443", false],
    ["https://updates.example.com/", "updates.example.com:443", true],
    ["http://127.0.0.1:8080/", "127.0.0.1", true],
    ["http://10.1.2.3/", "10.0.0.0/8", true],
    ["http://11.1.2.3/", "10.0.0.0/8", false],
    ["http://[::1]:8080/", "::1", true],
    ["http://[fd00::5]/", "fd00::/8", true],
    ["http://[fd00::5]/", "[fd00::5]:80", true],
    ["https://UPDATES.Example.COM/", "example.com", true],
    ["https://h/", "", false],
  ];
  for (const [url, noProxy, bypass] of cases) assert.equal(bypassesProxy(new URL(url), noProxy), bypass, `${url} with NO_PROXY=${noProxy}`);
  assert.equal(proxyForUrl(new URL("https://h.example.com/"), { HTTPS_PROXY: "http://p:1", no_proxy: "example.com" }), undefined);
});

test("a proxy the client cannot use is a configuration error naming the variable", () => {
  assert.throws(
    () => proxyForUrl(new URL("https://h/"), { ALL_PROXY: "socks5://p:1080" }),
    (e: unknown) => e instanceof AgentError && e.code === "CONFIG_INVALID" && e.where === "ALL_PROXY" && /socks5:/.test(e.message),
  );
});
