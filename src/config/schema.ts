/**
 * The settings schema: every Zincati key with its semantics, plus ours. One schema serves twice: a fragment
 * is parsed with it (so each value is checked and normalized where it was written), and its defaults are
 * the settings when no fragment sets a key. Rules that span keys (a strategy needing its URL) live in rules.ts.
 */
import * as z from "zod/mini";
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
  return z.number({ error }).check(z.int({ error }), z.minimum(min, { error }), z.maximum(max, { error }));
}

function decimal(min: number, max: number) {
  const error = expected(`a number from ${min} to ${max}`);
  return z.number({ error }).check(z.minimum(min, { error }), z.maximum(max, { error }));
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
  return z.pipe(
    z.string({ error: expected("a string") }),
    z.transform((input: string, ctx): T => {
      const result = parse(input);
      if (result.ok) return result.value;
      ctx.issues.push({ code: "custom", message: result.message, input, params: { hint: result.hint } });
      return z.NEVER;
    }),
  );
}

/** Zincati reads "" as "no FleetLock URL", which only matters when the strategy needs one (rules.ts). */
const optionalBaseUrl = (input: string): Parsed<string | undefined> =>
  input === "" ? { ok: true, value: undefined } : parseBaseUrl(input);

const seconds = (min = 1) => integer(min, MAX_TIMER_SECS);

export type WeeklyWindow = { kind: "weekly"; days: Weekday[]; start_time: string; length_minutes: number };
export type CronWindow = { kind: "cron"; cron: string; length_minutes: number };
export type WindowSettings = WeeklyWindow | CronWindow;

/** `[[updates.periodic.window]]`: Zincati's weekly form, or our cron form; never both in one entry. */
const windowEntry = z.strictObject(
  {
    days: z.optional(z.array(text(parseWeekday), { error: expected("an array of weekdays") })),
    start_time: z.optional(text(parseStartTime)),
    cron: z.optional(text(parseCron)),
    length_minutes: z.optional(integer(1, WEEK_MINUTES)),
  },
  { error: expected("a table") },
);

const windowSchema = z.pipe(
  windowEntry,
  z.transform((entry: z.output<typeof windowEntry>, ctx): WindowSettings => {
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
  }),
);

/** A table of settings: unknown keys are reported (as warnings, see fragment.ts) and absent keys take defaults. */
const section = <T extends z.core.$ZodLooseShape>(shape: T) =>
  // Cast: inside this generic helper zod cannot see that every key of the shape is optional or defaulted.
  z.prefault(z.strictObject(shape, { error: expected("a table") }), {} as never);

const STRATEGIES = ["immediate", "periodic", "fleet_lock", "etcd_lock"] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** An empty strategy (`strategy = ""`) means the default, "immediate". */
const strategy = z.pipe(
  oneOf(["", ...STRATEGIES], STRATEGIES),
  z.transform((s: "" | Strategy): Strategy => (s === "" ? "immediate" : s)),
);

export const settingsSchema = z.strictObject(
  {
    agent: section({
      timing: section({
        steady_interval_secs: z._default(seconds(), 300),
        retry_interval_secs: z._default(seconds(), 300),
        end_interval_secs: z._default(seconds(), 10_800),
        postponement_interval_secs: z._default(seconds(), 60),
        max_deploy_attempts: z._default(integer(1, 1_000_000), 12),
        jitter_percent: z._default(decimal(0, 100), 10),
      }),
      log_format: z._default(oneOf(["text", "json"]), "text"),
    }),
    cincinnati: section({
      base_url: z._default(text(parseBaseUrl), FEDORA_COREOS_CINCINNATI_URL),
      ca_file: z.optional(text(parseAbsolutePath)),
      connect_timeout_secs: z._default(seconds(), 15),
      timeout_secs: z._default(seconds(), 120),
      max_body_bytes: z._default(integer(1, Number.MAX_SAFE_INTEGER), 33_554_432),
      client_throttling: z._default(boolean(), false),
    }),
    identity: section({
      group: z._default(text(parseGroup), "default"),
      node_uuid: z.optional(text(parseNodeUuid)),
      rollout_wariness: z.optional(decimal(0, 1)),
      platform: z.optional(text(parsePlatform)),
    }),
    updates: section({
      enabled: z._default(boolean(), true),
      allow_downgrade: z._default(boolean(), false),
      strategy: z._default(strategy, "immediate"),
      lock_only_in_windows: z._default(boolean(), false),
      fleet_lock: section({
        base_url: z.optional(text(optionalBaseUrl)),
        timeout_secs: z._default(seconds(), 30),
        ca_file: z.optional(text(parseAbsolutePath)),
      }),
      etcd_lock: section({
        endpoints: z._default(z.array(text(parseHttpUrl), { error: expected("an array of http(s) URLs") }), []),
        ca_file: z.optional(text(parseAbsolutePath)),
        cert_file: z.optional(text(parseAbsolutePath)),
        key_file: z.optional(text(parseAbsolutePath)),
        username: z.optional(z.string({ error: expected("a string") })),
        password_file: z.optional(text(parseAbsolutePath)),
        ttl_secs: z._default(seconds(0), 0),
        key_prefix: z._default(
          z.string({ error: expected("a string") }).check(z.minLength(1, { error: expected("a non-empty key prefix") })),
          "com.coreos.airlock",
        ),
        timeout_secs: z._default(seconds(), 10),
      }),
      periodic: section({
        time_zone: z._default(text(parseTimeZone), "UTC"),
        window: z._default(z.array(windowSchema, { error: expected("an array of tables ([[updates.periodic.window]])") }), []),
      }),
      interactive: section({
        check_sessions: z._default(boolean(), true),
        grace_period_minutes: z._default(integer(0, WEEK_MINUTES), 10),
      }),
      hooks: section({
        timeout_secs: z._default(seconds(), 300),
      }),
    }),
    health: section({
      enabled: z._default(boolean(), true),
      check_timeout_secs: z._default(seconds(), 300),
      max_boot_attempts: z._default(integer(1, 100), 3),
      on_failure: z._default(oneOf(["rollback", "hold"]), "rollback"),
      greenboot_dirs: z._default(boolean(), true),
      halt_on_failure: z._default(boolean(), false),
    }),
    metrics: section({
      listen: z.optional(text(parseLoopbackListen)),
    }),
  },
  { error: expected("a table") },
);

/** The validated, merged settings; key names are the TOML names. */
export type Settings = z.output<typeof settingsSchema>;

export function defaultSettings(): Settings {
  return settingsSchema.parse({});
}
