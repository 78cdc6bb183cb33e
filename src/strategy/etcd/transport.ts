/**
 * The one real HTTP adapter for the etcd JSON gateway: got, no got-level retries (failover and
 * backoff are decided above), TLS material passed in as PEM text. The narrow interface lets tests
 * slip a conflicting write between our read and our compare-and-swap.
 */
import got from "got";

export interface EtcdTls {
  /** PEM CA bundle that signed the etcd server certificates. */
  ca?: string | undefined;
  /** PEM client certificate and key, for etcd's `--client-cert-auth`. */
  cert?: string | undefined;
  key?: string | undefined;
}

export interface EtcdPost {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

export interface EtcdStream {
  status: number;
  /** The body split into lines, as they arrive; throws if the connection breaks. */
  lines: AsyncIterable<string>;
}

export interface EtcdTransport {
  /** Rejects only when no HTTP reply came back (refused, reset, TLS, timeout). */
  post(request: EtcdPost): Promise<{ status: number; body: string }>;
  /** A long-lived POST (`/v3/watch`): resolves once the reply's headers are in. */
  stream(request: EtcdPost): Promise<EtcdStream>;
}

export function gotEtcdTransport(tls: EtcdTls = {}): EtcdTransport {
  const https = {
    ...(tls.ca !== undefined ? { certificateAuthority: tls.ca } : {}),
    ...(tls.cert !== undefined ? { certificate: tls.cert } : {}),
    ...(tls.key !== undefined ? { key: tls.key } : {}),
  };
  const common = { throwHttpErrors: false, followRedirect: false, retry: { limit: 0 }, https } as const;
  return {
    async post({ url, body, headers, timeoutMs, signal }) {
      const response = await got.post(url, { ...common, body, headers, timeout: { request: timeoutMs }, ...(signal ? { signal } : {}) });
      return { status: response.statusCode, body: response.body };
    },
    stream({ url, body, headers, timeoutMs, signal }) {
      // Only the wait for the reply headers is bounded: a watch is meant to stay open.
      const until = { lookup: timeoutMs, connect: timeoutMs, secureConnect: timeoutMs, send: timeoutMs, response: timeoutMs };
      const request = got.stream.post(url, { ...common, body, headers, timeout: until, ...(signal ? { signal } : {}) });
      return new Promise<EtcdStream>((resolve, reject) => {
        request.once("error", reject);
        request.once("response", (response: { statusCode: number }) => {
          request.off("error", reject);
          resolve({ status: response.statusCode, lines: splitLines(request) });
        });
      });
    },
  };
}

async function* splitLines(source: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder(); // keeps a UTF-8 sequence split across chunks intact
  let pending = "";
  for await (const chunk of source) {
    pending += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line) yield line;
    }
  }
  if (pending.trim()) yield pending.trim();
}
