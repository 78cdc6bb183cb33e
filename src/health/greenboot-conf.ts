/**
 * The two settings of /etc/greenboot/greenboot.conf that matter to update-agent when it honours greenboot's
 * directories: the checks an admin disabled, and greenboot's boot-attempt count (a default for ours).
 *
 * greenboot.conf is a bash fragment (shell greenboot sources it; greenboot-rs reads it as KEY=VALUE lines and
 * parses `DISABLED_HEALTHCHECKS=("a.sh" "b.sh")` itself). We read the same subset greenboot-rs does and never
 * run the file.
 */
export const GREENBOOT_CONF = "etc/greenboot/greenboot.conf";

export interface GreenbootConf {
  /** `GREENBOOT_MAX_BOOT_ATTEMPTS`, when set to a positive integer. */
  maxBootAttempts: number | undefined;
  /** `DISABLED_HEALTHCHECKS`: file names of checks greenboot skips. */
  disabledHealthchecks: string[];
  /** Lines we could not use, phrased for the admin (`line 4: ...`). */
  problems: string[];
}

export function parseGreenbootConf(text: string): GreenbootConf {
  const conf: GreenbootConf = { maxBootAttempts: undefined, disabledHealthchecks: [], problems: [] };
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!match) return;
    const [, key, value = ""] = match;
    if (key === "GREENBOOT_MAX_BOOT_ATTEMPTS") {
      const n = Number(unquote(stripComment(value)));
      if (Number.isInteger(n) && n > 0) conf.maxBootAttempts = n;
      else conf.problems.push(`line ${index + 1}: GREENBOOT_MAX_BOOT_ATTEMPTS must be a positive integer, got ${value}`);
    } else if (key === "DISABLED_HEALTHCHECKS") {
      const array = /^\((.*)\)\s*(#.*)?$/.exec(value);
      if (!array) {
        conf.problems.push(`line ${index + 1}: DISABLED_HEALTHCHECKS must be a bash array like ("a.sh" "b.sh")`);
        return;
      }
      conf.disabledHealthchecks = (array[1] ?? "").split(/\s+/).map(unquote).filter((name) => name !== "");
    }
  });
  return conf;
}

function stripComment(value: string): string {
  return value.replace(/\s+#.*$/, "").trim();
}

function unquote(value: string): string {
  const v = value.trim();
  if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v.endsWith(v[0])) return v.slice(1, -1);
  return v;
}
