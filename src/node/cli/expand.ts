import { UsageError } from "./args.ts";

/** `${NAME}` in a config value, taken from the environment (secrets stay out of the file). */
export function expand(
  value: string,
  env: Record<string, string | undefined>,
  where: string,
): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_all, name: string) => {
    const found = env[name];
    if (found === undefined) throw new UsageError(`${where}: $${name} is not set`);
    return found;
  });
}
