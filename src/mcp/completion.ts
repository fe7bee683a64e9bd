import { isObject } from "./content.ts";
import type { Context } from "./context.ts";

/** Suggests values for one argument of a prompt or one variable of a resource template. */
export type Completer = (
  value: string,
  context: { arguments: Record<string, string>; ctx: Context },
) => readonly string[] | Promise<readonly string[]>;

/**
 * The completer registered for an argument name from the wire. Only the registration's own
 * entries count: `constructor` or `__proto__` is an argument like any unknown one, never a
 * function inherited from Object.prototype.
 */
export function completerFor(
  completers: Readonly<Record<string, Completer>> | undefined,
  name: string,
): Completer | undefined {
  return completers && Object.hasOwn(completers, name) ? completers[name] : undefined;
}

/** `context.arguments` of a request as completers receive it: its own string entries only. */
export function contextArguments(context: unknown): Record<string, string> {
  if (!isObject(context) || !isObject(context.arguments)) return {};
  return Object.fromEntries(
    Object.entries(context.arguments).filter(
      (entry): entry is [string, string] => typeof entry[1] === "string",
    ),
  );
}

/** The spec caps a completion response at 100 values. */
const MAX_VALUES = 100;

export function completionResult(values: readonly string[]): {
  completion: { values: string[]; total: number; hasMore: boolean };
} {
  return {
    completion: {
      values: values.slice(0, MAX_VALUES),
      total: values.length,
      hasMore: values.length > MAX_VALUES,
    },
  };
}
