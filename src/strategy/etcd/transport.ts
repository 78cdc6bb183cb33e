/**
 * The one real HTTP adapter for the etcd JSON gateway: no retries of its own (failover and
 * backoff are decided above), TLS material passed in as PEM text. The narrow interface lets tests
 * slip a conflicting write between our read and our compare-and-swap.
 */
import { exchange, openRequest, type HttpReply, type TlsMaterial } from "../../host/http.js";

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

/** Range and transaction replies for the semaphore's few keys are small; a cap keeps a confused server from filling memory. */
const MAX_REPLY_BYTES = 4 * 1024 * 1024;

export function nodeEtcdTransport(tls: TlsMaterial = {}): EtcdTransport {
  const request = ({ url, body, headers, timeoutMs, signal }: EtcdPost) => ({ url: new URL(url), method: "POST" as const, body, headers, timeoutMs, tls, signal });
  return {
    post: (post) => exchange(request(post), MAX_REPLY_BYTES),
    async stream(post) {
      // Only the wait for the reply headers is bounded: a watch is meant to stay open.
      const reply = await openRequest({ ...request(post), streaming: true });
      return { status: reply.status, lines: splitLines(reply) };
    },
  };
}

/** The reply's body as trimmed non-empty lines; the reply is closed when the reader stops. */
async function* splitLines(reply: HttpReply): AsyncGenerator<string> {
  const decoder = new TextDecoder(); // keeps a UTF-8 sequence split across chunks intact
  let pending = "";
  try {
    for await (const chunk of reply.body) {
      pending += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        if (line) yield line;
      }
    }
    if (pending.trim()) yield pending.trim();
  } finally {
    reply.close();
  }
}
