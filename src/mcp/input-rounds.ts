import type { Clock } from "../util/clock.ts";
import { Sealer } from "../util/sealer.ts";
import { InputRound } from "./mrtr.ts";
import { type Exchange, principalOf } from "./peer.ts";
import type { JsonObject } from "./types.ts";

/**
 * The server side of multi-round-trip requests (2026-07-28): opens a request's input round
 * from its sealed `requestState`, and seals the state of the next round when a run suspends.
 */
export class InputRounds {
  readonly #secret: string | undefined;
  #sealer: Sealer | undefined;
  readonly #ttlMs: number;
  readonly #clock: Clock;

  constructor(secret: string | undefined, ttlMs: number, clock: Clock) {
    this.#secret = secret;
    this.#ttlMs = ttlMs;
    this.#clock = clock;
  }

  /** The round of a request, bound to its method, arguments and caller. */
  open(method: string, params: JsonObject, exchange: Exchange): InputRound | Promise<InputRound> {
    const binding = { method, params, principal: principalOf(exchange.auth) };
    return InputRound.open(params, binding, this.#sealing(), this.#clock());
  }

  /** The input_required result of a suspended round, its state valid for the TTL. */
  result(round: InputRound): Promise<JsonObject> {
    return round.result(this.#sealing(), this.#clock() + this.#ttlMs);
  }

  /**
   * Made on first use: Workers forbid random numbers at global scope, where a server is
   * usually constructed.
   */
  #sealing(): Sealer {
    this.#sealer ??= new Sealer(
      this.#secret ?? crypto.getRandomValues(new Uint8Array(32)),
      "portcullis requestState",
    );
    return this.#sealer;
  }
}
