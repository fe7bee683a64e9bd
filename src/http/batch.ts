import {
  ErrorCode,
  failure,
  type JsonRpcRequest,
  type JsonRpcResponse,
  McpError,
} from "../mcp/jsonrpc.ts";

/** Limits on one POST's messages (2025-03-26 batches), in the units operators set them. */
export interface BatchLimits {
  /** Most messages in one batch. */
  maxMessages: number;
  /** Reply bytes after which a batch's requests not yet started are refused. */
  maxReplyBytes: number;
}

export const DEFAULT_BATCH_LIMITS: BatchLimits = {
  maxMessages: 50,
  maxReplyBytes: 4 * 1024 * 1024,
};

/** Checks operator limits at construction: a positive whole number or a clear TypeError. */
export function batchLimits(options: {
  maxBatchMessages?: number | undefined;
  maxBatchReplyBytes?: number | undefined;
}): BatchLimits {
  const limits = {
    maxMessages: options.maxBatchMessages ?? DEFAULT_BATCH_LIMITS.maxMessages,
    maxReplyBytes: options.maxBatchReplyBytes ?? DEFAULT_BATCH_LIMITS.maxReplyBytes,
  };
  for (const [name, value] of [
    ["maxBatchMessages", limits.maxMessages],
    ["maxBatchReplyBytes", limits.maxReplyBytes],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new TypeError(`${name} must be a whole number of at least 1, got ${String(value)}`);
    }
  }
  return limits;
}

/** The 400 body for a batch over the message limit; nothing in it was acted on. */
export function batchTooLong(limits: BatchLimits): McpError {
  return new McpError(
    ErrorCode.InvalidRequest,
    `Invalid Request: a batch may hold at most ${limits.maxMessages} messages`,
    { maxMessages: limits.maxMessages },
  );
}

const NON_ASCII = /[\u0080-\uffff]/;

/**
 * UTF-8 length of a string, counted no further than `limit`: past it the exact figure is moot,
 * so no more than `limit` characters are ever scanned.
 */
function utf8Length(text: string, limit: number): number {
  // A character is at least one byte; most JSON is ASCII, one native scan.
  if (text.length > limit || !NON_ASCII.test(text)) return text.length;
  let bytes = 0;
  for (let i = 0; i < text.length && bytes <= limit; i++) {
    const unit = text.charCodeAt(i);
    // A surrogate pair is four bytes: two for each half.
    bytes += unit < 0x80 ? 1 : unit < 0x800 || (unit >= 0xd800 && unit < 0xe000) ? 2 : 3;
  }
  return bytes;
}

type SetImmediate = (callback: () => void) => unknown;

/**
 * The next turn of the event loop: other connections' I/O and timers run before it.
 * setImmediate where the runtime has it (Node, Bun), else a zero timer (Workers, Deno).
 */
function nextTurn(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: SetImmediate }).setImmediate;
  return new Promise((resolve) => {
    if (immediate) immediate(resolve);
    else setTimeout(resolve, 0);
  });
}

/**
 * Dispatches the requests of one POST and hands each response to `deliver` with its JSON,
 * serialized once, and the request's place in the POST. Requests start in order, each on a later turn of the event loop than the
 * one before, so a batch of handlers that never wait cannot hold the loop for the whole
 * batch. Once the replies reach `maxReplyBytes`, the requests not yet started are answered
 * with -32600 and not run; a reply already built is always sent, since what ran ran.
 * Resolves when every request has its response (or was cancelled: none is owed).
 */
export async function dispatchAll(
  requests: readonly JsonRpcRequest[],
  dispatch: (request: JsonRpcRequest) => Promise<JsonRpcResponse | undefined>,
  deliver: (response: JsonRpcResponse, json: string, index: number) => void | Promise<void>,
  maxReplyBytes: number,
): Promise<void> {
  let spent = 0;
  const settle = async (index: number, response: JsonRpcResponse | undefined): Promise<void> => {
    if (!response) return;
    const json = JSON.stringify(response);
    spent += utf8Length(json, maxReplyBytes - spent);
    await deliver(response, json, index);
  };
  // One request (nearly every POST): no turn to yield, no limit it could reach first.
  if (requests.length === 1) return dispatch(requests[0]!).then((response) => settle(0, response));
  const running: Promise<void>[] = [];
  for (const [index, request] of requests.entries()) {
    if (index > 0) await nextTurn();
    if (spent >= maxReplyBytes) {
      running.push(
        settle(
          index,
          failure(
            request.id,
            new McpError(
              ErrorCode.InvalidRequest,
              `Invalid Request: the batch's replies reached ${maxReplyBytes} bytes before this request ran; it was not run, send it again`,
              { maxReplyBytes },
            ),
          ),
        ),
      );
      continue;
    }
    running.push(dispatch(request).then((response) => settle(index, response)));
  }
  await Promise.all(running);
}
