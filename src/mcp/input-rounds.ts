import type { Clock } from "../util/clock.ts";
import { Sealer } from "../util/sealer.ts";
import { ErrorCode, McpError } from "./jsonrpc.ts";
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
    // The clock is read only for a retry's state: a first request does not ask the time.
    return InputRound.open(params, binding, this.#sealing(), this.#clock);
  }

  /** The input_required result of a suspended round, its state valid for the TTL. */
  result(round: InputRound): Promise<JsonObject> {
    return round.result(this.#sealing(), this.#clock() + this.#ttlMs);
  }

  /**
   * The input_required result of a suspended round, and the end of its run: the client answers
   * by sending the request again, so the run's signal aborts and its pending requests reject
   * (its `finally` blocks run now) in the round and every part given.
   */
  async suspended(
    round: InputRound,
    ...parts: ({ release(reason: unknown): void } | undefined)[]
  ): Promise<JsonObject> {
    const result = await this.result(round);
    const released = new McpError(
      ErrorCode.RequestTimeout,
      "Request answered with input_required; the handler runs again on the client's retry",
    );
    for (const part of parts) part?.release(released);
    round.release(released);
    return result;
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
