import { base64url } from "jose";
import type { Clock } from "../util/clock.ts";
import { timingSafeEqual } from "../util/crypto.ts";

/** How a server's DPoP nonces (RFC 9449 §8, §9) are made and how long each is good for. */
export interface DpopNonceOptions {
  /**
   * Keys the nonces: every instance behind one load balancer must share it, or a nonce one
   * instance issued is refused by the next. Default: a random key per instance.
   */
  secret?: string | (() => Promise<string>);
  /** Seconds a nonce is issued for; it is accepted for up to twice as long. Default 300. */
  lifetimeSeconds?: number;
}

/** A presented nonce: good and current, good but due for renewal, or not ours / too old. */
export type NonceVerdict = "current" | "previous" | "invalid";

const encoder = new TextEncoder();

/**
 * Stateless server nonces: a time window number and its HMAC under the secret. No Store
 * round trip: any instance that shares the secret accepts what another issued, for the
 * current window and the one before it.
 */
export class DpopNonces {
  readonly #label: string;
  readonly #windowMs: number;
  readonly #clock: Clock;
  readonly #secret: () => Promise<string>;
  #key: Promise<CryptoKey> | undefined;
  #cached: { window: number; nonce: string } | undefined;

  /** `label` keeps one server's nonces (the AS, an RS) from being good at another. */
  constructor(label: string, options: DpopNonceOptions, clock: Clock) {
    const lifetime = options.lifetimeSeconds ?? 300;
    if (!Number.isInteger(lifetime) || lifetime < 1) {
      throw new TypeError(
        "dpop nonce lifetimeSeconds must be a whole number of seconds, 1 or more",
      );
    }
    const secret = options.secret;
    if (typeof secret === "string" && secret.length < 32) {
      throw new TypeError("the dpop nonce secret must be at least 32 characters");
    }
    this.#label = label;
    this.#windowMs = lifetime * 1000;
    this.#clock = clock;
    const random = base64url.encode(crypto.getRandomValues(new Uint8Array(32)));
    this.#secret =
      typeof secret === "function" ? secret : async () => (secret === undefined ? random : secret);
  }

  #hmacKey(): Promise<CryptoKey> {
    this.#key ??= this.#secret()
      .then((secret) =>
        crypto.subtle.importKey(
          "raw",
          encoder.encode(secret),
          { name: "HMAC", hash: "SHA-256" },
          false,
          ["sign"],
        ),
      )
      .catch((error: unknown) => {
        this.#key = undefined;
        throw error;
      });
    return this.#key;
  }

  async #nonceFor(window: number): Promise<string> {
    const data = encoder.encode(`${this.#label}:${window}`);
    const mac = await crypto.subtle.sign("HMAC", await this.#hmacKey(), data);
    return `${window.toString(36)}.${base64url.encode(new Uint8Array(mac))}`;
  }

  /** The nonce to hand out now. */
  async current(): Promise<string> {
    const window = Math.floor(this.#clock() / this.#windowMs);
    if (this.#cached?.window === window) return this.#cached.nonce;
    const nonce = await this.#nonceFor(window);
    this.#cached = { window, nonce };
    return nonce;
  }

  /** Whether a proof's nonce is one of ours and still good. */
  async check(nonce: unknown): Promise<NonceVerdict> {
    if (typeof nonce !== "string" || nonce.length > 64) return "invalid";
    const dot = nonce.indexOf(".");
    const window = Number.parseInt(nonce.slice(0, dot), 36);
    if (dot < 1 || !Number.isSafeInteger(window)) return "invalid";
    const now = Math.floor(this.#clock() / this.#windowMs);
    if (window !== now && window !== now - 1) return "invalid";
    if (!timingSafeEqual(nonce, await this.#nonceFor(window))) return "invalid";
    return window === now ? "current" : "previous";
  }
}
