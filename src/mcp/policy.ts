import { errorId, type Logger } from "../util/log.ts";
import type { AuthInfo } from "./peer.ts";

/**
 * Decides from the verified caller (its kind, subject, client, scopes and every claim of its
 * token) whether it may see and use one tool, resource, template or prompt. Only `true`
 * grants; anything else, a throw or a rejection included, denies.
 */
export type AccessCheck = (auth: AuthInfo) => boolean | Promise<boolean>;

/** Something guarded by an access check: a registered tool, resource, template or prompt. */
export interface Policed {
  readonly canAccess?: AccessCheck | undefined;
}

/**
 * Whether `auth` passes an item's access check. No check: yes. A check but no verified caller
 * (stdio, an open endpoint): no, since a policy over claims has nothing to read. A check
 * that throws denies, and the error is logged with an id (it is the server's bug, not the
 * caller's).
 */
export async function permits(
  item: Policed,
  auth: AuthInfo | undefined,
  logger: Logger,
): Promise<boolean> {
  const check = item.canAccess;
  if (!check) return true;
  if (!auth) return false;
  try {
    return (await check(auth)) === true;
  } catch (error) {
    logger.error("canAccess threw; access denied", { error_id: errorId(), error });
    return false;
  }
}

/**
 * The items among `items` that `auth` may not access, their checks run concurrently; an
 * empty set (and no work) when none has a check.
 */
export async function deniedAmong<T extends Policed>(
  items: Iterable<T>,
  auth: AuthInfo | undefined,
  logger: Logger,
): Promise<ReadonlySet<T>> {
  const checked: T[] = [];
  for (const item of items) if (item.canAccess) checked.push(item);
  if (checked.length === 0) return EMPTY;
  const verdicts = await Promise.all(checked.map((item) => permits(item, auth, logger)));
  return new Set(checked.filter((_item, index) => !verdicts[index]));
}

const EMPTY: ReadonlySet<never> = new Set();
