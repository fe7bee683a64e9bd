import type { Context } from "./context.ts";

/** Suggests values for one argument of a prompt or one variable of a resource template. */
export type Completer = (
  value: string,
  context: { arguments: Record<string, string>; ctx: Context },
) => readonly string[] | Promise<readonly string[]>;

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
