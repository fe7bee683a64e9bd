import type {
  ClientTransport,
  SendOptions,
  SessionSnapshot,
  TransportHandlers,
} from "../client/transport.ts";
import type { JsonRpcMessage } from "../mcp/jsonrpc.ts";

/**
 * A transport that also tells its owner when the connection ends for good (a stdio upstream
 * exited), so the gateway can mark the upstream down and start it again.
 */
export class WatchedTransport implements ClientTransport {
  readonly #inner: ClientTransport;
  readonly #onClosed: (error: Error) => void;

  constructor(inner: ClientTransport, onClosed: (error: Error) => void) {
    this.#inner = inner;
    this.#onClosed = onClosed;
  }

  start(handlers: TransportHandlers): Promise<void> {
    return this.#inner.start({
      ...handlers,
      closed: (error) => {
        handlers.closed(error);
        this.#onClosed(error);
      },
    });
  }

  send(message: JsonRpcMessage, options?: SendOptions): Promise<void> {
    return this.#inner.send(message, options);
  }

  setProtocolVersion(version: string): void {
    this.#inner.setProtocolVersion?.(version);
  }

  get cancelsByClosing(): boolean {
    return this.#inner.cancelsByClosing ?? false;
  }

  listen(): void {
    this.#inner.listen?.();
  }

  restore(snapshot: SessionSnapshot): boolean {
    return this.#inner.restore?.(snapshot) ?? false;
  }

  reset(): void {
    this.#inner.reset?.();
  }

  get sessionId(): string | undefined {
    return this.#inner.sessionId;
  }

  close(options?: { terminate?: boolean }): Promise<void> {
    return this.#inner.close(options);
  }
}
