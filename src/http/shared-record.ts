import type { Session, SessionRecord, SharedSession } from "./sessions.ts";

// A shared session's record in the Store: written from a session copy, applied to one, merged.

export const recordKey = (id: string) => `mcp:session:${id}`;
export const endedKey = (id: string) => `mcp:ended:${id}`;

export function recordOf(session: Session, revision: number): SessionRecord {
  const record: SessionRecord = { rev: revision, v: session.protocolVersion };
  if (session.principal !== "") record.own = session.principal;
  if (session.clientInfo) record.ci = session.clientInfo;
  if (session.clientCapabilities) record.cc = session.clientCapabilities;
  if (session.logLevel) record.ll = session.logLevel;
  if (session.subscriptions?.size) record.s = [...session.subscriptions].sort();
  if (session.initialized) record.init = true;
  return record;
}

export function applyRecord(session: SharedSession, record: SessionRecord): void {
  session.applied = record;
  session.revision = record.rev;
  session.protocolVersion = record.v;
  session.principal = record.own ?? "";
  session.clientInfo = record.ci;
  session.clientCapabilities = record.cc;
  session.logLevel = record.ll;
  session.subscriptions = record.s ? new Set(record.s) : undefined;
  session.initialized = record.init === true;
}

/**
 * Whether a session copy differs from the record last applied to it: what a request changed.
 * Cheap on purpose, since it runs after every request: values and object identities
 * (applyRecord hands the record's own objects to the session), then subscriptions.
 */
export function changed(session: SharedSession, record: SessionRecord): boolean {
  if (
    session.protocolVersion !== record.v ||
    session.logLevel !== record.ll ||
    session.principal !== (record.own ?? "") ||
    session.initialized !== (record.init === true) ||
    session.clientInfo !== record.ci ||
    session.clientCapabilities !== record.cc
  ) {
    return true;
  }
  const subscriptions = session.subscriptions;
  const stored = record.s;
  if ((subscriptions?.size ?? 0) !== (stored?.length ?? 0)) return true;
  for (const uri of stored ?? []) if (!subscriptions!.has(uri)) return true;
  return false;
}

const SCALAR_FIELDS = ["v", "own", "ci", "cc", "ll", "init"] as const;

/**
 * Applies what one request changed (`was` to `now`) onto the freshest record, so changes
 * made at the same time on other instances survive: fields by value, subscriptions by the
 * URIs added and removed.
 */
export function merge(
  current: SessionRecord,
  was: SessionRecord,
  now: SessionRecord,
): SessionRecord {
  const next: SessionRecord = { ...current };
  for (const field of SCALAR_FIELDS) {
    if (JSON.stringify(was[field]) === JSON.stringify(now[field])) continue;
    copyField(next, now, field);
  }
  const before = new Set(was.s);
  const after = new Set(now.s);
  const subscriptions = new Set(current.s);
  for (const uri of after) if (!before.has(uri)) subscriptions.add(uri);
  for (const uri of before) if (!after.has(uri)) subscriptions.delete(uri);
  if (subscriptions.size) next.s = [...subscriptions].sort();
  else delete next.s;
  next.rev = current.rev + 1;
  return next;
}

/** Sets one field of a record to another's value; an absent value removes it. */
function copyField<K extends (typeof SCALAR_FIELDS)[number]>(
  target: SessionRecord,
  source: SessionRecord,
  field: K,
): void {
  const value = source[field];
  if (value === undefined) delete target[field];
  else target[field] = value;
}
