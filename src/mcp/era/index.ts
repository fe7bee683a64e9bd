import { isModernVersion } from "../versions.ts";
import type { Era } from "./era.ts";
import { sessionEra } from "./session.ts";
import { statelessEra } from "./stateless.ts";

export type { CacheHint, Dressing, Era, PeerSource } from "./era.ts";
export { sessionEra, statelessEra };

/** The era a protocol revision belongs to. */
export function eraOf(version: string): Era {
  return isModernVersion(version) ? statelessEra : sessionEra;
}
