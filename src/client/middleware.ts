/** The client's middleware seam: a Connection whose requests pass through the client's chain. */
import type { JsonObject } from "../mcp/types.ts";
import { Connection, type RequestOptions, type SendControl } from "./connection.ts";
import type { ClientMiddleware, OutgoingRequestInfo } from "./options.ts";

export class MiddlewareConnection extends Connection {
  readonly #chain: readonly ClientMiddleware[];
  readonly #url: URL | undefined;
  readonly #version: () => string | undefined;

  constructor(
    chain: readonly ClientMiddleware[],
    url: URL | undefined,
    version: () => string | undefined,
    ...rest: ConstructorParameters<typeof Connection>
  ) {
    super(...rest);
    this.#chain = chain;
    this.#url = url;
    this.#version = version;
  }

  override request(
    method: string,
    params: JsonObject,
    options: RequestOptions = {},
    control: SendControl = {},
  ): Promise<JsonObject> {
    const chain = this.#chain;
    if (chain.length === 0) return super.request(method, params, options, control);
    const info: { -readonly [K in keyof OutgoingRequestInfo]: OutgoingRequestInfo[K] } = {
      method,
      params: { ...params },
      headers: { ...control.headers },
      url: this.#url,
      protocolVersion: this.#version(),
      sessionId: this.transport.sessionId,
      id: undefined,
    };
    const send = () => {
      const headers = Object.keys(info.headers).length > 0 ? info.headers : undefined;
      const { headers: _old, ...rest } = control;
      rest.onId = (id) => {
        info.id = id;
        control.onId?.(id);
      };
      return super.request(method, info.params, options, headers ? { ...rest, headers } : rest);
    };
    const step = (index: number): Promise<JsonObject> => {
      if (index === chain.length) return send();
      let called = false;
      return chain[index]!(info, () => {
        if (called) return Promise.reject(new Error("A client middleware called next() twice"));
        called = true;
        return step(index + 1);
      });
    };
    return step(0);
  }
}
