/**
 * Evaluates polkit JavaScript rules files the way polkitd does, in a bare `vm` context: `polkit.addRule`
 * collects the functions, and a decision runs them in order until one returns a result (undefined or
 * null means "no answer", and polkit moves on to the next rule, then to the action's defaults).
 */
import { runInNewContext } from "node:vm";

export const RESULT = {
  NO: "no",
  YES: "yes",
  AUTH_SELF: "auth_self",
  AUTH_SELF_KEEP: "auth_self_keep",
  AUTH_ADMIN: "auth_admin",
  AUTH_ADMIN_KEEP: "auth_admin_keep",
  NOT_HANDLED: null,
} as const;

type Rule = (action: unknown, subject: unknown) => unknown;

export interface Subject {
  user: string;
  groups?: string[];
  pid?: number;
  local?: boolean;
  active?: boolean;
}

export interface RuleSet {
  /** The first rule's answer for `actionId` asked by `subject`, or undefined when no rule answers. */
  decide(actionId: string, subject: Subject): string | undefined;
  count: number;
}

export function loadRules(source: string, filename = "rules"): RuleSet {
  const rules: Rule[] = [];
  const polkit = {
    Result: RESULT,
    addRule: (rule: Rule) => void rules.push(rule),
    addAdminRule: () => {},
    log: () => {},
    spawn: () => {
      throw new Error("polkit.spawn is not available in this sandbox");
    },
  };
  runInNewContext(source, { polkit }, { filename, timeout: 1000 });
  return {
    count: rules.length,
    decide(actionId, who) {
      const groups = who.groups ?? [who.user];
      const action = { id: actionId, lookup: () => undefined };
      const subject = {
        user: who.user,
        groups,
        pid: who.pid ?? 4242,
        seat: "",
        session: "",
        local: who.local ?? false,
        active: who.active ?? false,
        isInGroup: (g: string) => groups.includes(g),
        isInNetGroup: () => false,
      };
      for (const rule of rules) {
        const answer = rule(action, subject);
        if (answer !== undefined && answer !== null) return String(answer);
      }
      return undefined;
    },
  };
}

export interface RuleExpectation {
  /** The one user the rule is for. */
  user: string;
  /** Actions that user must get YES for. */
  granted: readonly string[];
  /** Actions nobody may get an answer for from this rule. */
  unrelated: readonly string[];
  /** Other users, who must get no answer for anything. */
  others: readonly string[];
}

/**
 * Everything wrong with a rules file, as sentences: a grant that is missing, an answer for another user
 * (the GHSA-w6fv-6gcc-x825 shape), or an answer for an action the agent does not need. Empty when right.
 */
export function ruleProblems(rules: RuleSet, want: RuleExpectation): string[] {
  const problems: string[] = [];
  for (const action of want.granted) {
    const answer = rules.decide(action, { user: want.user });
    if (answer !== RESULT.YES) problems.push(`${want.user} gets ${answer ?? "no answer"} for ${action}, not yes`);
    for (const user of want.others) {
      for (const session of [{}, { local: true, active: true }]) {
        const other = rules.decide(action, { user, ...session });
        if (other !== undefined) problems.push(`${user} gets ${other} for ${action}`);
      }
      // Being in the agent's group is not being the agent.
      const grouped = rules.decide(action, { user, groups: [user, want.user] });
      if (grouped !== undefined) problems.push(`${user} in group ${want.user} gets ${grouped} for ${action}`);
    }
  }
  for (const action of want.unrelated) {
    for (const user of [want.user, ...want.others]) {
      const answer = rules.decide(action, { user });
      if (answer !== undefined) problems.push(`${user} gets ${answer} for unrelated ${action}`);
    }
  }
  return problems;
}
