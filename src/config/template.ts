/**
 * URL templating for `cincinnati.base_url` and `updates.fleet_lock.base_url`, with Zincati's semantics
 * (it uses the `envsubst` crate): a URL is a template when its first `${` comes before its first `}`;
 * `${basearch}`, `${group}`, `${platform}` and `${stream}` are replaced verbatim; anything else is kept.
 */
import { AgentError } from "../errors.js";

export interface UrlTemplateVars {
  basearch: string;
  group: string;
  platform: string;
  stream: string;
}

export function isTemplated(template: string): boolean {
  const start = template.indexOf("${");
  const end = template.indexOf("}");
  return start !== -1 && end !== -1 && start < end;
}

/** Throws CONFIG_TEMPLATE when a value could itself be read as template syntax (`$`, `{`, `}`), as Zincati does. */
export function templateUrl(template: string, vars: UrlTemplateVars): string {
  if (!isTemplated(template)) return template;
  const entries = Object.entries(vars) as [keyof UrlTemplateVars, string][];
  for (const [name, value] of entries) {
    if (/[${}]/.test(value)) {
      throw new AgentError("CONFIG_TEMPLATE", `cannot template \${${name}} with ${JSON.stringify(value)}: it contains "$", "{" or "}"`, {
        where: template,
        hint: `check where the node's ${name} comes from`,
      });
    }
  }
  // Replacing all variables in one pass keeps a value from being templated again by a later variable.
  return template.replace(/\$\{(basearch|group|platform|stream)\}/g, (_match, name: keyof UrlTemplateVars) => vars[name]);
}
