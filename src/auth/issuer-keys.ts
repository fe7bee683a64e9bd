import {
  createLocalJWKSet,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyOptions,
  jwtVerify,
} from "jose";
import type { Clock } from "../util/clock.ts";
import { type SafeFetchOptions, safeFetchJson } from "../util/ssrf.ts";
import { OAuthError } from "./errors.ts";

/** An unknown `kid` fetches the keys again, at most this often. */
const REFETCH_MS = 30_000;

/** Where an issuer publishes its keys. */
export interface TrustedIssuer {
  issuer: string;
  jwksUri: string;
  allowInsecureRequests?: boolean;
}

/** How keys are fetched and kept. */
export interface KeySource {
  /** Seconds fetched keys are used before they are fetched again. Default 300. */
  keysCacheSeconds?: number;
  fetch?: Omit<SafeFetchOptions, "allowLoopback" | "headers">;
}

interface CachedKeys {
  keys: ReturnType<typeof createLocalJWKSet>;
  fetchedAt: number;
}

/**
 * The signing keys of trusted issuers (enterprise IdPs, workload issuers), fetched through the
 * guarded fetch when first needed, again when older than `keysCacheSeconds`, and on an
 * unknown `kid` at most every 30 s.
 */
export class IssuerKeys {
  readonly #options: KeySource;
  readonly #clock: Clock;
  readonly #cache = new Map<string, Promise<CachedKeys>>();

  constructor(options: KeySource, clock: Clock) {
    this.#options = options;
    this.#clock = clock;
  }

  async get(idp: TrustedIssuer, refresh = false): Promise<CachedKeys> {
    const cached = this.#cache.get(idp.issuer);
    const maxAge = (this.#options.keysCacheSeconds ?? 300) * 1000;
    if (cached) {
      const { fetchedAt } = await cached.catch(() => ({ fetchedAt: -Infinity }));
      const age = this.#clock() - fetchedAt;
      if (age < (refresh ? REFETCH_MS : maxAge)) return cached;
    }
    const pending = this.#fetch(idp);
    this.#cache.set(idp.issuer, pending);
    pending.catch(() => {
      if (this.#cache.get(idp.issuer) === pending) this.#cache.delete(idp.issuer);
    });
    return pending;
  }

  /**
   * Verifies a JWT the issuer signed; a `kid` it does not know fetches the keys once more (the
   * issuer may have rotated them). jose's errors pass through for the caller to name.
   */
  async verify(token: string, idp: TrustedIssuer, options: JWTVerifyOptions): Promise<JWTPayload> {
    const check = async (refresh: boolean) =>
      (await jwtVerify(token, (await this.get(idp, refresh)).keys, options)).payload;
    try {
      return await check(false);
    } catch (error) {
      if ((error as { code?: string }).code !== "ERR_JWKS_NO_MATCHING_KEY") throw error;
      return check(true);
    }
  }

  async #fetch(idp: TrustedIssuer): Promise<CachedKeys> {
    try {
      const { json } = await safeFetchJson(idp.jwksUri, {
        ...this.#options.fetch,
        allowLoopback: idp.allowInsecureRequests === true,
      });
      const set = json as JSONWebKeySet;
      if (!Array.isArray(set?.keys)) throw new TypeError("not a JWK Set");
      return { keys: createLocalJWKSet(set), fetchedAt: this.#clock() };
    } catch (error) {
      // Not the assertion's fault: the client may try again, and the detail stays on `cause`.
      throw new OAuthError("temporarily_unavailable", "The issuer's keys could not be loaded", {
        headers: { "Retry-After": "5" },
        cause: error,
      });
    }
  }
}
