/**
 * The settings schema: every Zincati key with its semantics, plus ours. One schema serves twice: a fragment
 * is parsed with it (so each value is checked and normalized where it was written), and its defaults are
 * the settings when no fragment sets a key. Rules that span keys (a strategy needing its URL) live in rules.ts.
 */
import * as z from "zod";
import {
  closestName,
  parseAbsolutePath,
  parseBaseUrl,
  parseCron,
  parseGroup,
  parseHttpUrl,
  parseLoopbackListen,
  parseNodeUuid,
  parsePlatform,
  parseStartTime,
  parseTimeZone,
  parseWeekday,
  showValue,
  sortWeekdays,
  type Parsed,
  type Weekday,
} from "./values.js";

const FEDORA_COREOS_CINCINNATI_URL = "https://updates.coreos.fedoraproject.org";

/** Node timers overflow past 2^31-1 ms (they then fire after 1 ms), so no interval may exceed this. */
const MAX_TIMER_SECS = 2_147_483;
const WEEK_MINUTES = 10_080;

const expected = (what: string) => (issue: { input?: unknown }) => `expected ${what}, got ${showValue(issue.input)}`;

function integer(min: number, max: number) {
  const error = expected(`an integer from ${min} to ${max}`);
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

function decimal(min: number, max: number) {
  const error = expected(`a number from ${min} to ${max}`);
  return z.number({ error }).min(min, { error }).max(max, { error });
}

const boolean = () => z.boolean({ error: expected("true or false") });

/** One of a few words; a near miss (`fleet-lock`) gets a "did you mean" hint. */
function oneOf<const T extends readonly string[]>(values: T, shown: readonly string[] = values) {
  return text((input): Parsed<T[number]> => {
    if (values.includes(input)) return { ok: true, value: input };
    const message = `expected one of ${shown.map((v) => JSON.stringify(v)).join(", ")}, got ${showValue(input)}`;
    const suggestion = closestName(input, shown);
    return suggestion === undefined ? { ok: false, message } : { ok: false, message, hint: `did you mean "${suggestion}"?` };
  });
}

/** A string checked by one of the pure parsers in values.ts; its message becomes the key's error. */
function text<T>(parse: (input: string) => Parsed<T>) {
  return z.string({ error: expected("a string") }).transform((input, ctx): T => {
    const result = parse(input);
    if (result.ok) return result.value;
    ctx.issues.push({ code: "custom", message: result.message, input, params: { hint: result.hint } });
    return z.NEVER;
  });
}

/** Zincati reads "" as "no FleetLock URL", which only matters when the strategy needs one (rules.ts). */
const optionalBaseUrl = (input: string): Parsed<string | undefined> =>
  input === "" ? { ok: true, value: undefined } : parseBaseUrl(input);

const seconds = (min = 1) => integer(min, MAX_TIMER_SECS);

export type WeeklyWindow = { kind: "weekly"; days: Weekday[]; start_time: string; length_minutes: number };
export type CronWindow = { kind: "cron"; cron: string; length_minutes: number };
export type WindowSettings = WeeklyWindow | CronWindow;

/** `[[updates.periodic.window]]`: Zincati's weekly form, or our cron form; never both in one entry. */
const windowSchema = z
  .strictObject(
    {
      days: z.array(text(parseWeekday), { error: expected("an array of weekdays") }).optional(),
      start_time: text(parseStartTime).optional(),
      cron: text(parseCron).optional(),
      length_minutes: integer(1, WEEK_MINUTES).optional(),
    },
    { error: expected("a table") },
  )
  .transform((entry, ctx): WindowSettings => {
    const fail = (message: string, path: string[] = []) => {
      ctx.issues.push({ code: "custom", message, input: entry, path });
      return z.NEVER;
    };
    const weekly = entry.days !== undefined || entry.start_time !== undefined;
    if (weekly && entry.cron !== undefined) return fail("expected either days + start_time or cron, not both");
    if (!weekly && entry.cron === undefined) return fail("expected days + start_time (a weekly window) or cron");
    if (entry.length_minutes === undefined) return fail("is required", ["length_minutes"]);
    if (entry.cron !== undefined) return { kind: "cron", cron: entry.cron, length_minutes: entry.length_minutes };
    if (entry.days === undefined) return fail("is required with start_time", ["days"]);
    if (entry.start_time === undefined) return fail("is required with days", ["start_time"]);
    return {
      kind: "weekly",
      days: sortWeekdays(entry.days),
      start_time: entry.start_time,
      length_minutes: entry.length_minutes,
    };
  });

/** A table of settings: unknown keys are reported (as warnings, see fragment.ts) and absent keys take defaults. */
const section = <T extends z.core.$ZodLooseShape>(shape: T) =>
  // Cast: inside this generic helper zod cannot see that every key of the shape is optional or defaulted.
  z.strictObject(shape, { error: expected("a table") }).prefault({} as never);

const STRATEGIES = ["immediate", "periodic", "fleet_lock", "etcd_lock"] as const;
export type Strategy = (typeof STRATEGIES)[number];

export const settingsSchema = z.strictObject(
  {
    agent: section({
      timing: section({
        steady_interval_secs: seconds().default(300),
        retry_interval_secs: seconds().default(300),
        end_interval_secs: seconds().default(10_800),
        postponement_interval_secs: seconds().default(60),
        max_deploy_attempts: integer(1, 1_000_000).default(12),
        jitter_percent: decimal(0, 100).default(10),
      }),
      log_format: oneOf(["text", "json"]).default("text"),
    }),
    cincinnati: section({
      base_url: text(parseBaseUrl).default(FEDORA_COREOS_CINCINNATI_URL),
      ca_file: text(parseAbsolutePath).optional(),
      connect_timeout_secs: seconds().default(15),
      timeout_secs: seconds().default(120),
      max_body_bytes: integer(1, Number.MAX_SAFE_INTEGER).default(33_554_432),
      client_throttling: boolean().default(false),
    }),
    identity: section({
      group: text(parseGroup).default("default"),
      node_uuid: text(parseNodeUuid).optional(),
      rollout_wariness: decimal(0, 1).optional(),
      platform: text(parsePlatform).optional(),
    }),
    updates: section({
      enabled: boolean().default(true),
      allow_downgrade: boolean().default(false),
      strategy: oneOf(["", ...STRATEGIES], STRATEGIES)
        .transform((s): Strategy => (s === "" ? "immediate" : s))
        .default("immediate"),
      lock_only_in_windows: boolean().default(false),
      fleet_lock: section({
        base_url: text(optionalBaseUrl).optional(),
        timeout_secs: seconds().default(30),
        ca_file: text(parseAbsolutePath).optional(),
      }),
      etcd_lock: section({
        endpoints: z.array(text(parseHttpUrl), { error: expected("an array of http(s) URLs") }).default([]),
        ca_file: text(parseAbsolutePath).optional(),
        cert_file: text(parseAbsolutePath).optional(),
        key_file: text(parseAbsolutePath).optional(),
        username: z.string({ error: expected("a string") }).optional(),
        password_file: text(parseAbsolutePath).optional(),
        ttl_secs: seconds(0).default(0),
        key_prefix: z
          .string({ error: expected("a string") })
          .min(1, { error: expected("a non-empty key prefix") })
          .default("com.coreos.airlock"),
        timeout_secs: seconds().default(10),
      }),
      periodic: section({
        time_zone: text(parseTimeZone).default("UTC"),
        window: z.array(windowSchema, { error: expected("an array of tables ([[updates.periodic.window]])") }).default([]),
      }),
      interactive: section({
        check_sessions: boolean().default(true),
        grace_period_minutes: integer(0, WEEK_MINUTES).default(10),
      }),
      hooks: section({
        timeout_secs: seconds().default(300),
      }),
    }),
    health: section({
      enabled: boolean().default(true),
      check_timeout_secs: seconds().default(300),
      max_boot_attempts: integer(1, 100).default(3),
      on_failure: oneOf(["rollback", "hold"]).default("rollback"),
      greenboot_dirs: boolean().default(true),
      halt_on_failure: boolean().default(false),
    }),
    metrics: section({
      listen: text(parseLoopbackListen).optional(),
    }),
  },
  { error: expected("a table") },
);

/** The validated, merged settings; key names are the TOML names. */
export type Settings = z.output<typeof settingsSchema>;

export function defaultSettings(): Settings {
  return settingsSchema.parse({});
}
