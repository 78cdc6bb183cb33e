/** Reading a graph from a file: same size cap as over HTTP, so `/dev/zero` or a huge file cannot exhaust memory. */
import { open } from "node:fs/promises";
import { AgentError, errnoCode } from "../errors.js";

export async function readGraphFile(path: string, maxBodyBytes: number, where: string = path): Promise<Buffer> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch (e) {
    throw unreadable(where, e);
  }
  try {
    const chunks: Buffer[] = [];
    let size = 0;
    while (true) {
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, maxBodyBytes + 1 - size));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      size += bytesRead;
      if (size > maxBodyBytes) {
        throw new AgentError("GRAPH_TOO_LARGE", `the graph is larger than the ${maxBodyBytes}-byte limit`, {
          where,
          hint: "check that the file is an update graph; raise the graph size limit if it legitimately is this big",
          details: { maxBodyBytes },
        });
      }
      chunks.push(chunk.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks);
  } catch (e) {
    throw e instanceof AgentError ? e : unreadable(where, e);
  } finally {
    await handle.close();
  }
}

function unreadable(where: string, e: unknown): AgentError {
  const code = errnoCode(e);
  return new AgentError("GRAPH_UNREADABLE", `cannot read the graph file: ${e instanceof Error ? e.message : String(e)}`, {
    where,
    hint: code === "ENOENT" ? "check the path" : code === "EACCES" ? "check the file's permissions" : undefined,
    details: code === undefined ? undefined : { errno: code },
    cause: e,
  });
}
