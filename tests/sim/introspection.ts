/**
 * Reduces D-Bus introspection XML to comparable shapes (member name → argument signatures), so a test
 * can check that the simulator exports exactly the upstream interfaces. Enough XML for introspection
 * documents: comments are dropped, attributes may come in any order.
 */
export interface InterfaceShape {
  /** `Deploy` → `in:s,in:a{sv},out:s` */
  methods: Record<string, string>;
  /** `PercentProgress` → `s,u` */
  signals: Record<string, string>;
  /** `Booted` → `o read` */
  properties: Record<string, string>;
}

function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([\w:]+)="([^"]*)"/g)) out[m[1]!] = m[2]!;
  return out;
}

function members(body: string, element: string): [string, string][] {
  const pattern = new RegExp(`<${element}\\s([^>]*?)(?:/>|>([\\s\\S]*?)</${element}>)`, "g");
  return [...body.matchAll(pattern)].map((m) => [attributes(m[1]!).name ?? "", m[2] ?? ""]);
}

function args(body: string, withDirection: boolean, defaultDirection: string): string {
  return [...body.matchAll(/<arg\s([^>]*?)\/?>/g)]
    .map((m) => attributes(m[1]!))
    .map((a) => (withDirection ? `${a.direction ?? defaultDirection}:${a.type}` : `${a.type}`))
    .join(",");
}

export function interfaceShapes(xml: string): Record<string, InterfaceShape> {
  const clean = xml.replace(/<!--[\s\S]*?-->/g, "");
  const out: Record<string, InterfaceShape> = {};
  for (const m of clean.matchAll(/<interface\s+name="([^"]+)"\s*>([\s\S]*?)<\/interface>/g)) {
    const body = m[2]!;
    const shape: InterfaceShape = { methods: {}, signals: {}, properties: {} };
    for (const [name, inner] of members(body, "method")) shape.methods[name] = args(inner, true, "in");
    for (const [name, inner] of members(body, "signal")) shape.signals[name] = args(inner, false, "out");
    for (const p of body.matchAll(/<property\s([^>]*?)\/?>/g)) {
      const a = attributes(p[1]!);
      shape.properties[a.name ?? ""] = `${a.type} ${a.access}`;
    }
    out[m[1]!] = shape;
  }
  return out;
}
