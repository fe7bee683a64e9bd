import { toBase64 } from "../util/bytes.ts";
import type { Sealer } from "../util/sealer.ts";
import { isObject } from "./content.ts";
import { answerProblem } from "./input-answers.ts";
import { ErrorCode, type JsonRpcNotification, McpError } from "./jsonrpc.ts";
import type { Exchange, OutgoingRequest, Peer } from "./peer.ts";
import type { JsonObject } from "./types.ts";

/** Largest `inputResponses` accepted, as JSON. */
const MAX_RESPONSES_BYTES = 256 * 1024;

interface RequestState {
  /** What the state is bound to: method, digest of the arguments, caller. */
  method: string;
  digest: string;
  principal: string;
  /** Epoch ms after which the state is refused. */
  expires: number;
  /** Answers the handler took on its way to the round this state closed, by input key. */
  answers: Record<string, JsonObject>;
  /** Keys asked in the round this state closed. */
  asked: string[];
  /** What the handler carries to its next run (`ctx.carry`), when it carries anything. */
  carried?: unknown;
}

/** Largest value a handler may carry across rounds, as JSON. */
const MAX_CARRIED_BYTES = 16 * 1024;

export interface InputBinding {
  method: string;
  /** The request's params; its arguments are all but `_meta`, `inputResponses` and `requestState`. */
  params: JsonObject;
  /** The caller (`principalOf`: issuer, subject, client), or "" for anonymous requests. */
  principal: string;
}

/**
 * An object's keys in the order `sort()` gives them (by UTF-16 code units). Arguments have a
 * handful of keys, and `sort()` allocates a work area on every call: a short list is sorted
 * by insertion, in place. A long one (a client may send thousands) goes to `sort()`, so the
 * cost stays n log n.
 */
function sortedKeys(value: object): string[] {
  const keys = Object.keys(value);
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    for (; j >= 0 && keys[j]! > key; j--) keys[j + 1] = keys[j]!;
    keys[j + 1] = key;
  }
  return keys;
}

/**
 * JSON with sorted keys, so equal arguments digest equally whatever their key order. Built in
 * one pass: it runs for every request state checked or sealed.
 */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) out += (i ? "," : "") + canonical(value[i]);
    return `${out}]`;
  }
  if (isObject(value)) {
    let out = "{";
    for (const key of sortedKeys(value)) {
      const item = value[key];
      if (item === undefined) continue;
      out += `${out.length > 1 ? "," : ""}${JSON.stringify(key)}:${canonical(item)}`;
    }
    return `${out}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** A request's arguments: its params but the envelope and the round's own fields. */
function argumentsOf(params: JsonObject): JsonObject {
  // A loop, not a rest pattern, which V8 runs on a slow path.
  const args: JsonObject = {};
  for (const key of Object.keys(params)) {
    if (key !== "_meta" && key !== "inputResponses" && key !== "requestState") {
      args[key] = params[key];
    }
  }
  return args;
}

/** The canonical JSON of a request's arguments: the state binds their digest. */
function canonicalArguments(params: JsonObject): string {
  return canonical(argumentsOf(params));
}

const encoder = new TextEncoder();
const NONE: Record<string, JsonObject> = Object.freeze({}) as Record<string, JsonObject>;

async function digest(json: string): Promise<string> {
  const bytes = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(json));
  return toBase64(bytes);
}

function invalidState(reason: string): McpError {
  return new McpError(ErrorCode.InvalidParams, `Invalid requestState: ${reason}`);
}

/** A record's own entry: keys come from the client, and must not reach the prototype. */
function own(record: Record<string, JsonObject>, key: string): JsonObject | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** What a handler's run came to: its value, or a suspension waiting for client input. */
export const SUSPENDED: unique symbol = Symbol("input required");

/**
 * One round of a multi round-trip request (2026-07-28). A handler's server-to-client
 * requests are keyed by the name the handler gave them, or numbered in call order. A request
 * resolves at once when it was answered: in an earlier round (sealed in the state), or in
 * this retry's `inputResponses` when the previous round asked it or the handler named it
 * (a named input means the same thing in every round, so a client may answer it up front).
 * The first unanswered requests suspend the run. The server keeps nothing: everything the
 * next round needs travels in the sealed `requestState`.
 */
export class InputRound {
  /** Answers sealed by earlier rounds. */
  readonly #earlier: Record<string, JsonObject>;
  /** This request's `inputResponses`. */
  readonly #fresh: Record<string, JsonObject>;
  /** Keys the previous round asked. */
  readonly #previous: readonly string[];
  readonly #binding: InputBinding;
  /**
   * The canonical JSON of the arguments, made on first need: checking a retry's state, or the
   * run's first question (before it can suspend). Most runs need neither. Were the params
   * changed by then, the state would bind what they became and the client's retry would be
   * refused: the binding fails closed.
   */
  #args: string | undefined;
  /** What the handler carries to its next run: from the state, or set in this run. */
  #carried: unknown;
  // The collections below are made by the first ask: most runs never ask.
  /** Answers handed to the handler in this run; the next state seals them. */
  #used: Map<string, JsonObject> | undefined;
  /** Requests this run could not answer: the round's `inputRequests`. */
  #asked: Map<string, JsonObject> | undefined;
  #keys: Set<string> | undefined;
  #next = 0;
  /** Ends `race` with SUSPENDED; set while a race runs. */
  #suspend: ((value: typeof SUSPENDED) => void) | undefined;
  #suspended = false;
  #scheduled = false;
  /** Rejects the requests still waiting for an answer; set once the round is released. */
  #waiting: Set<(reason: unknown) => void> | undefined;
  #released: { reason: unknown } | undefined;

  private constructor(
    earlier: Record<string, JsonObject>,
    fresh: Record<string, JsonObject>,
    previous: readonly string[],
    binding: InputBinding,
    carried?: unknown,
    args?: string,
  ) {
    this.#earlier = earlier;
    this.#fresh = fresh;
    this.#previous = previous;
    this.#binding = binding;
    this.#args = args;
    this.#carried = carried;
  }

  /** What an earlier run of this request carried (`carry`), or undefined. */
  get carried(): unknown {
    return this.#carried;
  }

  /**
   * Carries `value` to the handler's next run, sealed in the round's `requestState`; it stays
   * carried to later rounds until replaced. Throws when it is not JSON or too large.
   */
  carry(value: unknown): void {
    const json = JSON.stringify(value);
    if (json === undefined) throw new TypeError("A carried value must be JSON");
    if (encoder.encode(json).length > MAX_CARRIED_BYTES) {
      throw new TypeError(`A carried value must be at most ${MAX_CARRIED_BYTES} bytes of JSON`);
    }
    this.#carried = JSON.parse(json) as unknown;
  }

  /**
   * Verifies a retry's `requestState` and takes its `inputResponses`. Synchronous for a
   * request with neither (most requests): only a sealed state needs awaiting.
   */
  static open(
    raw: JsonObject,
    binding: InputBinding,
    sealer: Sealer,
    clock: () => number,
  ): InputRound | Promise<InputRound> {
    if (raw.inputResponses === undefined && raw.requestState === undefined) {
      return new InputRound(NONE, NONE, [], binding);
    }
    // Checked first, with or without a requestState: nothing runs on a malformed or oversized
    // request. Each value must be some result; which one is checked when it is used.
    // Absent means none; null or any other non-object is malformed.
    const responses = raw.inputResponses === undefined ? {} : raw.inputResponses;
    if (!isObject(responses))
      throw new McpError(ErrorCode.InvalidParams, "inputResponses must be an object");
    if (encoder.encode(JSON.stringify(responses)).length > MAX_RESPONSES_BYTES) {
      throw new McpError(
        ErrorCode.InvalidParams,
        `inputResponses exceeds ${MAX_RESPONSES_BYTES} bytes`,
      );
    }
    if (!Object.values(responses).every(isObject)) {
      throw new McpError(
        ErrorCode.InvalidParams,
        "Invalid inputResponses: every answer must be a result object",
      );
    }
    const fresh = responses as Record<string, JsonObject>;
    const sealed = raw.requestState;
    if (sealed === undefined) return new InputRound(NONE, fresh, [], binding);
    if (typeof sealed !== "string" || sealed.length > 1024 * 1024) throw invalidState("malformed");
    return InputRound.#resume(sealed, fresh, binding, sealer, clock());
  }

  static async #resume(
    sealed: string,
    fresh: Record<string, JsonObject>,
    binding: InputBinding,
    sealer: Sealer,
    now: number,
  ): Promise<InputRound> {
    const opened = await sealer.open(sealed);
    if (opened === undefined) throw invalidState("it was not issued by this server or was altered");
    const state = JSON.parse(opened) as RequestState;
    if (state.expires < now)
      throw invalidState("it has expired; send the request again without it");
    const args = canonicalArguments(binding.params);
    if (
      state.method !== binding.method ||
      state.digest !== (await digest(args)) ||
      state.principal !== binding.principal
    ) {
      throw invalidState("it belongs to another request");
    }
    return new InputRound(state.answers, fresh, state.asked, binding, state.carried, args);
  }

  /**
   * A server-to-client request from the handler: its answer, or a suspension. `name` keys
   * the request instead of its position among the handler's requests.
   */
  ask(method: string, params: JsonObject, name?: string): Promise<JsonObject> {
    if (name !== undefined && (name.length === 0 || name.length > 256)) {
      return Promise.reject(new TypeError("An input key must have 1 to 256 characters"));
    }
    const key = name ?? `input-${this.#next++}`;
    const keys = (this.#keys ??= new Set());
    if (keys.has(key)) {
      // Two requests under one key could not be told apart in inputResponses.
      return Promise.reject(new Error(`The input key "${key}" is used twice in one request`));
    }
    keys.add(key);
    this.#args ??= canonicalArguments(this.#binding.params);
    const earlier = own(this.#earlier, key);
    const answer =
      earlier ??
      (name !== undefined || this.#previous.includes(key) ? own(this.#fresh, key) : undefined);
    if (answer) {
      const problem = earlier ? undefined : answerProblem(method, answer);
      if (problem) {
        return Promise.reject(
          new McpError(
            ErrorCode.InvalidParams,
            `Invalid inputResponses: the answer to ${JSON.stringify(key.slice(0, 64))} ${problem}`,
          ),
        );
      }
      (this.#used ??= new Map()).set(key, answer);
      return Promise.resolve(answer);
    }
    (this.#asked ??= new Map()).set(key, { method, params });
    if (!this.#scheduled) {
      this.#scheduled = true;
      // Let requests made together (Promise.all) join this round before it closes.
      setTimeout(() => {
        this.#suspended = true;
        this.#suspend?.(SUSPENDED);
      }, 0);
    }
    if (this.#released) return Promise.reject(this.#released.reason);
    return new Promise<never>((_resolve, reject) => {
      (this.#waiting ??= new Set()).add(reject);
    });
  }

  /**
   * The run's outcome, or SUSPENDED once the round closes with requests unanswered; a run
   * that never asks settles it alone.
   */
  race<T>(run: Promise<T>): Promise<T | typeof SUSPENDED> {
    if (this.#suspended) return Promise.resolve(SUSPENDED);
    return new Promise((resolve, reject) => {
      // The resolve itself, not a closure calling it: on Node 20 a closure made here cost
      // about 0.5 us per call.
      this.#suspend = resolve;
      run.then(resolve, reject);
    });
  }

  /**
   * Ends the round's run once its InputRequiredResult is sent: every request still waiting
   * rejects with `reason`, so the handler unwinds (its `finally` blocks run) instead of
   * waiting forever. The client's retry runs the handler again.
   */
  release(reason: unknown): void {
    this.#released ??= { reason };
    for (const reject of this.#waiting ?? []) reject(reason);
    this.#waiting?.clear();
  }

  /** The InputRequiredResult for this round. */
  /** `expires`: epoch ms after which the round's state is refused. */
  async result(sealer: Sealer, expires: number): Promise<JsonObject> {
    const { method, params, principal } = this.#binding;
    const args = (this.#args ??= canonicalArguments(params));
    const state: RequestState = {
      method,
      digest: await digest(args),
      principal,
      expires,
      answers: Object.fromEntries(this.#used ?? []),
      asked: [...(this.#asked?.keys() ?? [])],
    };
    if (this.#carried !== undefined) state.carried = this.#carried;
    return {
      resultType: "input_required",
      inputRequests: Object.fromEntries(this.#asked ?? []),
      requestState: await sealer.seal(JSON.stringify(state)),
    };
  }
}

/** An Exchange whose server-to-client requests go through a multi round-trip round. */
class AskingExchange implements Exchange {
  readonly peer: Peer;
  readonly http: Exchange["http"];
  readonly auth: Exchange["auth"];
  readonly #exchange: Exchange;
  readonly #round: InputRound;

  constructor(exchange: Exchange, round: InputRound) {
    this.peer = exchange.peer;
    this.http = exchange.http;
    this.auth = exchange.auth;
    this.#exchange = exchange;
    this.#round = round;
  }

  get signal(): AbortSignal | undefined {
    return this.#exchange.signal;
  }

  notify(message: JsonRpcNotification): void {
    this.#exchange.notify(message);
  }

  request(...[method, params, options]: Parameters<OutgoingRequest>): Promise<JsonObject> {
    return this.#round.ask(method, params, options.inputKey);
  }
}

/** An Exchange whose server-to-client requests go through a multi round-trip round. */
export function askingThrough(exchange: Exchange, round: InputRound): Exchange {
  return new AskingExchange(exchange, round);
}
