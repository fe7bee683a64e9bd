import { isObject } from "./content.ts";
import { ErrorCode, McpError } from "./jsonrpc.ts";
import type { Sealer } from "./sealer.ts";
import type { JsonObject } from "./types.ts";

/** Largest `inputResponses` accepted, as JSON. */
const MAX_RESPONSES_BYTES = 256 * 1024;

interface Binding {
  method: string;
  digest: string;
  principal: string;
}

interface RequestState {
  /** What the state is bound to: method, digest of the arguments, caller. */
  method: string;
  digest: string;
  principal: string;
  /** Epoch ms after which the state is refused. */
  expires: number;
  /** Answers of earlier rounds, by input key. */
  answers: Record<string, JsonObject>;
  /** Keys asked in the round this state closed. */
  asked: string[];
}

export interface InputBinding {
  method: string;
  /** The request's arguments, without `_meta`, `inputResponses` and `requestState`. */
  params: JsonObject;
  /** The authenticated caller, or "" for anonymous requests. */
  principal: string;
}

/** JSON with sorted keys, so equal arguments digest equally whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (isObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .filter((key) => value[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

async function digest(value: unknown): Promise<string> {
  const bytes = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical(value)));
  return btoa(String.fromCharCode(...new Uint8Array(bytes)));
}

function invalidState(reason: string): McpError {
  return new McpError(ErrorCode.InvalidParams, `Invalid requestState: ${reason}`);
}

/** What a handler's run came to: its value, or a suspension waiting for client input. */
export const SUSPENDED: unique symbol = Symbol("input required");

/**
 * One round of a multi round-trip request (2026-07-28). A handler's server-to-client
 * requests are numbered in call order; answered ones (from this retry or sealed earlier
 * rounds) resolve at once, and the first unanswered ones suspend the run. The server keeps
 * nothing: everything the next round needs travels in the sealed `requestState`.
 */
export class InputRound {
  readonly suspended: Promise<typeof SUSPENDED>;
  readonly #answers: Record<string, JsonObject>;
  readonly #asked: Record<string, JsonObject> = {};
  readonly #binding: Binding;
  #next = 0;
  #suspend: () => void = () => {};
  #scheduled = false;

  private constructor(answers: Record<string, JsonObject>, binding: Binding) {
    this.#answers = answers;
    this.#binding = binding;
    this.suspended = new Promise((resolve) => {
      this.#suspend = () => resolve(SUSPENDED);
    });
  }

  /** Verifies a retry's `requestState` and takes its `inputResponses`. */
  static async open(raw: JsonObject, binding: InputBinding, sealer: Sealer): Promise<InputRound> {
    const bound: Binding = {
      method: binding.method,
      digest: await digest(binding.params),
      principal: binding.principal,
    };
    // Checked first, with or without a requestState: nothing runs on an oversized request.
    const responses = raw.inputResponses ?? {};
    if (!isObject(responses))
      throw new McpError(ErrorCode.InvalidParams, "inputResponses must be an object");
    if (new TextEncoder().encode(JSON.stringify(responses)).length > MAX_RESPONSES_BYTES) {
      throw new McpError(
        ErrorCode.InvalidParams,
        `inputResponses exceeds ${MAX_RESPONSES_BYTES} bytes`,
      );
    }
    const sealed = raw.requestState;
    if (sealed === undefined) return new InputRound({}, bound);
    if (typeof sealed !== "string" || sealed.length > 1024 * 1024) throw invalidState("malformed");
    const opened = await sealer.open(sealed);
    if (opened === undefined) throw invalidState("it was not issued by this server or was altered");
    const state = JSON.parse(opened) as RequestState;
    if (state.expires < Date.now())
      throw invalidState("it has expired; send the request again without it");
    if (
      state.method !== bound.method ||
      state.digest !== bound.digest ||
      state.principal !== bound.principal
    ) {
      throw invalidState("it belongs to another request");
    }
    const answers = { ...state.answers };
    // Only answers to what was asked count; anything else is ignored.
    for (const key of state.asked) {
      const answer = responses[key];
      if (isObject(answer)) answers[key] = answer;
    }
    return new InputRound(answers, bound);
  }

  /** A server-to-client request from the handler: its answer, or a suspension. */
  ask(method: string, params: JsonObject): Promise<JsonObject> {
    const key = `input-${this.#next++}`;
    const answer = this.#answers[key];
    if (answer) return Promise.resolve(answer);
    this.#asked[key] = { method, params };
    if (!this.#scheduled) {
      this.#scheduled = true;
      // Let requests made together (Promise.all) join this round before it closes.
      setTimeout(() => this.#suspend(), 0);
    }
    return new Promise<never>(() => {});
  }

  /** The InputRequiredResult for this round. */
  async result(sealer: Sealer, ttlMs: number): Promise<JsonObject> {
    const state: RequestState = {
      ...this.#binding,
      expires: Date.now() + ttlMs,
      answers: this.#answers,
      asked: Object.keys(this.#asked),
    };
    return {
      resultType: "input_required",
      inputRequests: this.#asked,
      requestState: await sealer.seal(JSON.stringify(state)),
    };
  }
}
