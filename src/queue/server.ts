import { statelessEra } from "../mcp/era/index.ts";
import {
  ErrorCode,
  failure,
  type JsonRpcMessage,
  type JsonRpcRequest,
  type JsonRpcResponse,
  McpError,
  parseMessage,
} from "../mcp/jsonrpc.ts";
import { declaredVersion } from "../mcp/modern.ts";
import { type AuthInfo, type Exchange, type Peer, principalOf } from "../mcp/peer.ts";
import { asMcpError, type McpServer } from "../mcp/server.ts";
import type { EndpointAuth } from "../resource/protect.ts";
import type { Store } from "../storage/store.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import type { Logger } from "../util/log.ts";
import { type QueueAuthCheck, queueAuth } from "./auth.ts";
import { Claims, type Running } from "./claims.ts";
import {
  AUTHORIZATION,
  type DeadLetter,
  type QueueDelivery,
  type QueueReceive,
  type QueueSend,
  REPLY_TO,
} from "./envelope.ts";

/** How `serveQueue` takes requests, answers them and keeps them idempotent. */
export interface ServeQueueOptions {
  /** Where requests come from (an adapter's consumer). Absent: push them to `handle()`. */
  receive?: QueueReceive;
  /** Sends answers, progress and logs to the reply address a request names. */
  send: QueueSend;
  /** Takes messages given up on: unreadable, unaddressed, or failing `maxAttempts` times. */
  deadLetter: (message: DeadLetter) => Promise<void>;
  /**
   * Records each request's claim and answer, so a redelivered request is answered again from
   * the record and never run twice. Shared by every consumer of one queue; it must be atomic
   * (memory for one process, Redis or a Durable Object for several).
   */
  store: Store;
  /**
   * Who issues the tokens messages carry: the built-in authorization server, or
   * `{ issuer, verify? }` for a third party, as `mcpApp` takes. Each message's token is then
   * checked as an HTTP request's would be. Absent: messages carry no identity, and only the
   * queue's own access control stands in front of the tools.
   */
  auth?: EndpointAuth;
  /** The audience tokens must name (this server's canonical URI); required with `auth`. */
  audience?: string;
  /** Scopes every message needs, beside each tool's own. */
  requiredScopes?: readonly string[];
  /** Deliveries of one message before it goes to the dead letter. Default 5. */
  maxAttempts?: number;
  /**
   * How long a claim on a running request lasts without renewal (epoch ms by `clock`), and
   * how far the message's visibility is extended at each renewal. Default 30 s.
   */
  leaseMs?: number;
  /** How often a running request renews its lease and looks for a cancellation. Default leaseMs / 3. */
  heartbeatMs?: number;
  /** How long answers are kept for redeliveries. Default 24 hours. */
  answerTtlMs?: number;
  /** Requests run at once when pulling from `receive`. Default 16. */
  concurrency?: number;
  /** Prefix of this queue's Store keys. Default "queue:". */
  prefix?: string;
  /** Names this consumer in its claims. Default a random id. */
  consumerId?: string;
  clock?: Clock;
  logger?: Logger;
}

export interface QueueServer {
  /** Handles one delivery (for engines that push, such as a Workers `queue()` handler). */
  handle(delivery: QueueDelivery): Promise<void>;
  /** Stops pulling, aborts running requests (they are redelivered) and waits for the loop. */
  close(): Promise<void>;
}

/** Raised inside a handler whose request went to another consumer after its lease ran out. */
class LeaseLost extends Error {}

function positive(value: number | undefined, fallback: number, name: string): number {
  const result = value ?? fallback;
  if (!Number.isFinite(result) || result <= 0) throw new TypeError(`${name} must be positive`);
  return result;
}

/**
 * Serves an McpServer over a message queue. Each message carries one JSON-RPC request in the
 * 2026-07-28 form (`_meta` per request, no session) and names its reply address in the
 * `mcp-reply-to` attribute; the caller's token travels in `authorization`. Every request goes
 * through `mcp.dispatch`, so middleware, access rules and rate limits apply as on HTTP.
 *
 * Delivery is at least once, so each request is claimed in the Store before it runs: a
 * redelivered request that was answered gets the recorded answer again; one still running
 * elsewhere is left to its runner; one whose runner died (its lease ran out) runs again only
 * when its tool says it is safe to (`readOnlyHint` or `idempotentHint`), and otherwise gets an
 * error saying it was interrupted. Messages that cannot be read or keep failing go to the
 * dead letter. Progress and logs go to the reply address as notifications; a
 * `notifications/cancelled` message reaches the running handler on whichever consumer runs it.
 */
export function serveQueue(mcp: McpServer, options: ServeQueueOptions): QueueServer {
  if (typeof options?.send !== "function" || typeof options.deadLetter !== "function") {
    throw new TypeError("serveQueue: send and deadLetter must be functions");
  }
  if (typeof options.store?.add !== "function")
    throw new TypeError("serveQueue: store must be a Store");
  if (options.auth && !options.audience && !("audience" in options.auth && options.auth.audience)) {
    throw new TypeError("serveQueue: audience is required with auth");
  }
  const maxAttempts = positive(options.maxAttempts, 5, "maxAttempts");
  const leaseMs = positive(options.leaseMs, 30_000, "leaseMs");
  const heartbeatMs = positive(options.heartbeatMs, leaseMs / 3, "heartbeatMs");
  const concurrency = positive(options.concurrency, 16, "concurrency");
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? mcp.logger;
  const owner = options.consumerId ?? crypto.randomUUID();
  const claims = new Claims(
    options.store,
    options.prefix ?? "queue:",
    positive(options.answerTtlMs, 24 * 3600_000, "answerTtlMs"),
  );
  const check: QueueAuthCheck | undefined = options.auth
    ? queueAuth(options.auth, {
        ...(options.audience ? { audience: options.audience } : {}),
        ...(options.requiredScopes ? { requiredScopes: options.requiredScopes } : {}),
        logger,
      })
    : undefined;
  const life = new AbortController();
  /** Requests running here, by claim key: how to cancel each at once. */
  const running = new Map<string, (reason: string) => void>();

  const deadLetter = async (delivery: QueueDelivery, reason: string) => {
    logger.warn("queue message sent to the dead letter", { reason, attempts: delivery.attempts });
    await options.deadLetter({
      body: delivery.body,
      attributes: { ...delivery.attributes },
      reason,
      attempts: delivery.attempts,
    });
    await delivery.ack();
  };

  const reply = (address: string, message: JsonRpcMessage) =>
    options.send(address, { body: JSON.stringify(message), attributes: {} });

  async function authenticate(delivery: QueueDelivery): Promise<AuthInfo | undefined> {
    return check ? check(delivery.attributes[AUTHORIZATION]) : undefined;
  }

  async function handle(delivery: QueueDelivery): Promise<void> {
    try {
      await process(delivery);
    } catch (error) {
      // Not done with: the engine delivers it again, up to maxAttempts.
      logger.error("queue message failed; it will be delivered again", {
        error: error instanceof Error ? error.message : String(error),
        attempts: delivery.attempts,
      });
      await delivery.retry().catch(() => undefined);
    }
  }

  async function process(delivery: QueueDelivery): Promise<void> {
    if (delivery.attempts > maxAttempts) {
      return deadLetter(delivery, `delivered ${delivery.attempts} times`);
    }
    const replyTo = delivery.attributes[REPLY_TO];
    let value: unknown;
    try {
      value = JSON.parse(delivery.body);
    } catch {
      if (replyTo) {
        await reply(replyTo, failure(null, new McpError(ErrorCode.ParseError, "Parse error")));
      }
      return deadLetter(delivery, "the body is not JSON");
    }
    if (!replyTo) return deadLetter(delivery, `no ${REPLY_TO} attribute`);
    const message = parseMessage(value);
    if (message instanceof McpError) {
      const id = (value as { id?: unknown } | null)?.id;
      await reply(
        replyTo,
        failure(typeof id === "string" || typeof id === "number" ? id : null, message),
      );
      return delivery.ack();
    }
    // Answers: this revision sends no server-to-client requests, so there is nothing to settle.
    if (!("method" in message)) return delivery.ack();
    if (!("id" in message)) {
      if (message.method === "notifications/cancelled")
        await cancel(message.params, replyTo, delivery);
      return delivery.ack();
    }
    await request(message, replyTo, delivery);
  }

  async function cancel(
    params: Record<string, unknown> | undefined,
    replyTo: string,
    delivery: QueueDelivery,
  ): Promise<void> {
    const id = params?.requestId;
    if (typeof id !== "string" && typeof id !== "number") return;
    let auth: AuthInfo | undefined;
    try {
      auth = await authenticate(delivery);
    } catch (error) {
      if (error instanceof McpError) return; // an unauthorized cancel changes nothing
      throw error;
    }
    const reason = typeof params?.reason === "string" ? params.reason : "cancelled by client";
    const key = await claims.key(replyTo, principalOf(auth), id);
    await claims.cancel(key, reason);
    running.get(key)?.(reason);
  }

  async function request(
    message: JsonRpcRequest,
    replyTo: string,
    delivery: QueueDelivery,
  ): Promise<void> {
    const answer = async (response: JsonRpcResponse) => {
      await reply(replyTo, response);
      await delivery.ack();
    };
    if (declaredVersion(message.params) === undefined) {
      return answer(
        failure(
          message.id,
          new McpError(
            ErrorCode.InvalidRequest,
            "Queue messages carry 2026-07-28 requests: params._meta must name the protocol version",
          ),
        ),
      );
    }
    let peer: Peer;
    let auth: AuthInfo | undefined;
    try {
      peer = statelessEra.peer({ params: message.params, offered: mcp.protocolVersions });
      auth = await authenticate(delivery);
    } catch (error) {
      if (!(error instanceof McpError)) throw error;
      return answer(failure(message.id, asMcpError(error)));
    }
    const key = await claims.key(replyTo, principalOf(auth), message.id);
    const mine: Running = { state: "running", owner, leaseUntil: clock() + leaseMs };
    if (!(await claims.claim(key, mine))) {
      const found = await claims.get(key);
      if (found?.state === "done") {
        if (found.reply) await reply(replyTo, found.reply);
        return delivery.ack();
      }
      // Still running elsewhere: its runner answers (or its lease runs out and this comes again).
      if (!found || found.leaseUntil > clock()) return delivery.retry();
      if (!(await claims.replace(key, found, mine))) return delivery.retry();
      if (!rerunnable(mcp, message)) {
        const interrupted = failure(
          message.id,
          new McpError(
            ErrorCode.InternalError,
            "The consumer running this request stopped before it answered; it may have taken effect, and is not run again",
            { error: "interrupted" },
          ),
        );
        await finish(key, mine, interrupted);
        return answer(interrupted);
      }
    }
    const reason = await claims.cancelled(key);
    if (reason !== undefined) {
      await finish(key, mine, null);
      return delivery.ack();
    }
    await run(message, { key, mine, peer, auth, replyTo, delivery });
  }

  async function finish(key: string, mine: Running, reply: JsonRpcResponse | null) {
    if (!(await claims.replace(key, mine, { state: "done", reply }))) {
      throw new LeaseLost("the claim on this request went to another consumer");
    }
  }

  interface Job {
    key: string;
    mine: Running;
    peer: Peer;
    auth: AuthInfo | undefined;
    replyTo: string;
    delivery: QueueDelivery;
  }

  async function run(message: JsonRpcRequest, job: Job): Promise<void> {
    const { key, replyTo, delivery } = job;
    let claim: Running = job.mine;
    const cancelled = new AbortController();
    const abort = (reason: string) =>
      cancelled.abort(new McpError(ErrorCode.RequestTimeout, `Request cancelled: ${reason}`));
    running.set(key, abort);
    // Notifications go out in order, and all before the answer.
    let sent: Promise<void> = Promise.resolve();
    const exchange: Exchange = {
      peer: job.peer,
      signal: AbortSignal.any([life.signal, cancelled.signal]),
      auth: job.auth,
      notify: (notification) => {
        sent = sent.then(() => reply(replyTo, notification)).catch(() => undefined);
      },
      request: () =>
        Promise.reject(
          new McpError(ErrorCode.InternalError, "2026-07-28 sends no server-to-client requests"),
        ),
    };
    let lost = false;
    const renew = async () => {
      const next: Running = { ...claim, leaseUntil: clock() + leaseMs };
      if (await claims.replace(key, claim, next)) claim = next;
      else {
        lost = true;
        abort("the lease on this request ran out");
      }
      await delivery.extend?.(leaseMs);
      const reason = await claims.cancelled(key);
      if (reason !== undefined) abort(reason);
    };
    const timer = setInterval(() => {
      renew().catch((error) => logger.warn("lease renewal failed", { error: String(error) }));
    }, heartbeatMs);
    (timer as { unref?: () => void }).unref?.();
    let response: JsonRpcResponse | undefined;
    try {
      response = await mcp.dispatch(message, exchange);
    } finally {
      clearInterval(timer);
      running.delete(key);
    }
    await sent;
    if (life.signal.aborted || lost) throw new LeaseLost("stopped before answering");
    const outcome = cancelled.signal.aborted ? null : (response ?? null);
    await finish(key, claim, outcome);
    if (outcome) await reply(replyTo, outcome);
    await delivery.ack();
  }

  const loop = options.receive ? pull(options.receive) : Promise.resolve();

  async function pull(receive: QueueReceive): Promise<void> {
    const inflight = new Set<Promise<void>>();
    try {
      for await (const delivery of receive(life.signal)) {
        const task = handle(delivery).finally(() => inflight.delete(task));
        inflight.add(task);
        if (inflight.size >= concurrency) await Promise.race(inflight);
      }
    } catch (error) {
      if (!life.signal.aborted) logger.error("queue receive failed", { error: String(error) });
    }
    await Promise.allSettled(inflight);
  }

  return {
    handle,
    async close() {
      life.abort(new McpError(ErrorCode.ConnectionClosed, "The queue consumer stopped"));
      await loop;
    },
  };
}

/**
 * Whether a request whose runner died may run again: anything but a tool call, and a tool
 * call whose tool says it is read-only or idempotent.
 */
function rerunnable(mcp: McpServer, message: JsonRpcRequest): boolean {
  if (message.method !== "tools/call") return true;
  const name = message.params?.name;
  const tool = typeof name === "string" ? mcp.tools.get(name) : undefined;
  const hints = tool?.definition.annotations as Record<string, unknown> | undefined;
  return hints?.readOnlyHint === true || hints?.idempotentHint === true;
}
