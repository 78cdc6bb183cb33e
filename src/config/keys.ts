/**
 * Key paths: how they are written in messages (`updates.periodic.window[1].start_time`) and which keys
 * exist, read from the schema itself so the list of settings can never drift from what is validated.
 */
import { settingsSchema } from "./schema.js";

export type KeyPath = readonly PropertyKey[];

/** The one list-valued setting whose entries accumulate across fragments instead of being replaced. */
export const WINDOW_KEY = "updates.periodic.window";

export function formatKeyPath(path: KeyPath): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else {
      const name = String(segment);
      const shown = /^[A-Za-z0-9_-]+$/.test(name) ? name : JSON.stringify(name);
      out += out === "" ? shown : `.${shown}`;
    }
  }
  return out;
}

/** The value at a setting's path in validated settings (`["updates", "strategy"]` → `settings.updates.strategy`). */
export function valueAt(settings: unknown, path: readonly string[]): unknown {
  let node = settings;
  for (const segment of path) node = (node as Record<string, unknown>)[segment];
  return node;
}

interface SchemaNode {
  _zod: { def: { type: string; innerType?: SchemaNode; in?: SchemaNode; shape?: Record<string, SchemaNode>; element?: SchemaNode } };
}

/** Looks through defaults, optionals and transforms to the schema that checks the input's shape. */
function unwrap(node: SchemaNode): SchemaNode {
  let current = node;
  for (;;) {
    const def = current._zod.def;
    const inner = def.type === "pipe" ? def.in : def.innerType;
    if (inner === undefined) return current;
    current = inner;
  }
}

const root = settingsSchema as unknown as SchemaNode;

/** The keys a table at `path` may hold (array indices allowed in the path), or undefined when it is no table. */
export function knownKeysAt(path: KeyPath): string[] | undefined {
  let node = unwrap(root);
  for (const segment of path) {
    const def = node._zod.def;
    const next = typeof segment === "number" ? def.element : def.shape?.[String(segment)];
    if (next === undefined || (typeof segment === "number") !== (def.type === "array")) return undefined;
    node = unwrap(next);
  }
  const shape = node._zod.def.type === "object" ? node._zod.def.shape : undefined;
  return shape ? Object.keys(shape) : undefined;
}

function collectLeaves(node: SchemaNode, prefix: string[], out: string[][]): string[][] {
  const shape = node._zod.def.type === "object" ? node._zod.def.shape : undefined;
  if (!shape) {
    out.push(prefix);
    return out;
  }
  for (const [name, child] of Object.entries(shape)) collectLeaves(unwrap(child), [...prefix, name], out);
  return out;
}

/** Every setting as a path of table names and a key, in schema order (`["updates", "strategy"]`, …). */
export const SETTING_PATHS: readonly (readonly string[])[] = collectLeaves(unwrap(root), [], []);
