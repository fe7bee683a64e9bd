import { ServerEndpoint, type ServerEndpointOptions } from "../mcp/channel.ts";
import type { JsonRpcMessage } from "../mcp/jsonrpc.ts";
import type { McpServer } from "../mcp/server.ts";
import { TransportError } from "./errors.ts";
import type { ClientTransport, TransportHandlers } from "./transport.ts";

/**
 * Messages cross as JSON text, one microtask later, so both sides see what a wire would give
 * them: no shared objects, no re-entrant calls, order kept.
 */
function across(message: unknown, deliver: (value: unknown) => void): void {
  const wire = JSON.stringify(message);
  queueMicrotask(() => deliver(JSON.parse(wire)));
}

class InMemoryTransport implements ClientTransport {
  readonly #server: McpServer;
  readonly #options: ServerEndpointOptions;
  #endpoint: ServerEndpoint | undefined;
  #handlers: TransportHandlers | undefined;

  constructor(server: McpServer, options: ServerEndpointOptions) {
    this.#server = server;
    this.#options = options;
  }

  async start(handlers: TransportHandlers): Promise<void> {
    if (this.#handlers) throw new Error("A transport carries one connection; make a new one");
    this.#handlers = handlers;
    this.#endpoint = new ServerEndpoint(
      this.#server,
      (message: JsonRpcMessage) =>
        across(message, (value) => {
          if (!this.#endpoint?.closed) handlers.message(value);
        }),
      this.#options,
    );
  }

  async send(message: JsonRpcMessage): Promise<void> {
    const endpoint = this.#endpoint;
    if (!endpoint || endpoint.closed) {
      throw new TransportError("ERR_CONNECTION_CLOSED", "The in-memory connection is closed");
    }
    across(message, (value) => endpoint.receive(value));
  }

  async close(): Promise<void> {
    if (!this.#endpoint || this.#endpoint.closed) return;
    this.#endpoint.close();
    this.#handlers?.closed(
      new TransportError("ERR_CONNECTION_CLOSED", "The in-memory connection is closed"),
    );
  }
}

/**
 * A transport to an McpServer in the same process, for tests and for embedding a server in an
 * application: the client drives the server directly, with no HTTP and no serialization cost
 * beyond a JSON round trip.
 */
export function inMemoryTransport(
  server: McpServer,
  options: ServerEndpointOptions = {},
): ClientTransport {
  return new InMemoryTransport(server, options);
}
