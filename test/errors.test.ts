import { describe, expect, it } from "vitest";
import { asOAuthError } from "../src/auth/errors.ts";
import { FetchRefusedError, OAuthError, type OAuthErrorCode } from "../src/auth/index.ts";
import {
  AuthorizationError,
  type AuthorizationErrorCode,
  PortcullisError as ClientPortcullisError,
  OutputSchemaError,
  ProtocolError,
  type ProtocolErrorCode,
  ProtocolVersionError,
  TaskError,
  type TaskErrorCode,
  TransportError,
  type TransportErrorCode,
} from "../src/client/index.ts";
import {
  BusUnavailableError,
  DpopProofError,
  ErrorCode,
  InvalidTokenError,
  IssuerUnavailableError,
  McpError,
  PortcullisError,
  ToolError,
  UnavailableError,
} from "../src/index.ts";
import { UnsupportedSchemaError } from "../src/mcp/json-schema.ts";
import { TokenStoreError } from "../src/node/index.ts";
import { StoreUnavailableError } from "../src/storage/index.ts";

// Every code of every class, typed as a record over the class's code union: a code added to
// (or removed from) a union without this table changing fails `tsc`, so the table stays whole.
const transport: Record<TransportErrorCode, true> = {
  ERR_HTTP_STATUS: true,
  ERR_UNAUTHORIZED: true,
  ERR_FORBIDDEN: true,
  ERR_BAD_CONTENT_TYPE: true,
  ERR_BAD_MESSAGE: true,
  ERR_BAD_HEADER: true,
  ERR_MESSAGE_TOO_LARGE: true,
  ERR_STREAM_ENDED: true,
  ERR_TIMEOUT: true,
  ERR_SESSION_EXPIRED: true,
  ERR_CONNECTION_CLOSED: true,
  ERR_NETWORK: true,
  ERR_SPAWN: true,
  ERR_STARTUP_TIMEOUT: true,
};
const protocol: Record<ProtocolErrorCode, true> = {
  ERR_CONTRACT: true,
  ERR_CAPABILITY: true,
  ERR_TOOL_RESULT_CONTENT: true,
  ERR_OUTPUT_SCHEMA: true,
  ERR_PAGINATION_LOOP: true,
  ERR_RESULT_TYPE: true,
  ERR_INPUT_REQUEST: true,
  ERR_INPUT_ROUNDS: true,
  ERR_SUBSCRIPTION: true,
};
const task: Record<TaskErrorCode, true> = {
  ERR_TASK_FAILED: true,
  ERR_TASK_CANCELLED: true,
  ERR_TASK_UNSUPPORTED: true,
  ERR_NO_TASK: true,
};
const authorization: Record<AuthorizationErrorCode, true> = {
  ERR_SERVER_URL_UNKNOWN: true,
  ERR_SERVER_MISMATCH: true,
  ERR_METADATA_NOT_FOUND: true,
  ERR_BAD_METADATA: true,
  ERR_RESOURCE_MISMATCH: true,
  ERR_ISSUER_MISMATCH: true,
  ERR_PKCE_UNSUPPORTED: true,
  ERR_URL_REFUSED: true,
  ERR_FETCH_FAILED: true,
  ERR_FETCH_TIMEOUT: true,
  ERR_RESPONSE_TOO_LARGE: true,
  ERR_REGISTRATION_UNAVAILABLE: true,
  ERR_REGISTRATION_FAILED: true,
  ERR_NO_REDIRECT: true,
  ERR_REDIRECT_TIMEOUT: true,
  ERR_BAD_CALLBACK: true,
  ERR_STATE_MISMATCH: true,
  ERR_ISS_MISMATCH: true,
  ERR_AUTHORIZATION_DENIED: true,
  ERR_TOKEN_REQUEST_FAILED: true,
  ERR_TOKEN_REJECTED: true,
  ERR_STEP_UP_LIMIT: true,
  ERR_DPOP_KEY: true,
  ERR_NO_SUBJECT_TOKEN: true,
  ERR_LOCK_TIMEOUT: true,
};
const fetchRefused: Record<FetchRefusedError["code"], true> = {
  ERR_GUARD_URL_REFUSED: true,
  ERR_GUARD_FETCH_FAILED: true,
  ERR_GUARD_RESPONSE_TOO_LARGE: true,
  ERR_GUARD_BAD_RESPONSE: true,
};
const tokenStore: Record<TokenStoreError["code"], true> = {
  ERR_TOKEN_STORE_KEY: true,
  ERR_TOKEN_STORE_CORRUPT: true,
};
const oauth: Record<OAuthErrorCode, true> = {
  invalid_request: true,
  invalid_client: true,
  invalid_grant: true,
  unauthorized_client: true,
  unsupported_grant_type: true,
  unsupported_response_type: true,
  invalid_scope: true,
  invalid_target: true,
  access_denied: true,
  invalid_redirect_uri: true,
  invalid_client_metadata: true,
  unsupported_token_type: true,
  server_error: true,
  temporarily_unavailable: true,
  invalid_dpop_proof: true,
  use_dpop_nonce: true,
};

const codes = (table: Record<string, true>) => Object.keys(table);

/** One instance per class and code, built the way the library builds them. */
const instances: [string, PortcullisError][] = [
  ...codes(transport).map((code): [string, PortcullisError] => [
    "TransportError",
    new TransportError(code as TransportErrorCode, "m"),
  ]),
  ...codes(protocol).map((code): [string, PortcullisError] => [
    "ProtocolError",
    new ProtocolError(code as ProtocolErrorCode, "m"),
  ]),
  ...codes(task).map((code): [string, PortcullisError] => [
    "TaskError",
    new TaskError(code as TaskErrorCode, "m"),
  ]),
  ...codes(authorization).map((code): [string, PortcullisError] => [
    "AuthorizationError",
    new AuthorizationError(code as AuthorizationErrorCode, "m"),
  ]),
  ...codes(fetchRefused).map((code): [string, PortcullisError] => [
    "FetchRefusedError",
    new FetchRefusedError(code as FetchRefusedError["code"], "detail"),
  ]),
  ...codes(tokenStore).map((code): [string, PortcullisError] => [
    "TokenStoreError",
    new TokenStoreError(code as TokenStoreError["code"], "m"),
  ]),
  ...codes(oauth).map((code): [string, PortcullisError] => [
    "OAuthError",
    new OAuthError(code as OAuthErrorCode, "m"),
  ]),
  ["ProtocolVersionError", new ProtocolVersionError(["2025-11-25"], "1999-01-01")],
  ["StoreUnavailableError", new StoreUnavailableError("m")],
  ["BusUnavailableError", new BusUnavailableError("m")],
  ["IssuerUnavailableError", new IssuerUnavailableError("m")],
  ["InvalidTokenError", new InvalidTokenError("expired")],
  ["DpopProofError", new DpopProofError("ERR_DPOP_PROOF", "m")],
  ["DpopProofError", new DpopProofError("ERR_DPOP_NONCE", "m", "n")],
  ["ToolError", new ToolError("m")],
  ["UnsupportedSchemaError", new UnsupportedSchemaError("m")],
];

describe("one error root", () => {
  it.each(instances)("%s is a PortcullisError with its own name and a code", (name, error) => {
    expect(error).toBeInstanceOf(PortcullisError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe(name);
    expect(["string", "number"]).toContain(typeof error.code);
  });

  it("every string code belongs to exactly one class", () => {
    const owner = new Map<string | number, string>();
    for (const [name, error] of instances) {
      const existing = owner.get(error.code);
      expect(
        existing === undefined || existing === name,
        `${error.code}: ${existing}, ${name}`,
      ).toBe(true);
      owner.set(error.code, name);
    }
    // Codes the guard and the client's authorizer once shared are the guard's alone now.
    expect(owner.get("ERR_GUARD_URL_REFUSED")).toBe("FetchRefusedError");
    expect(owner.get("ERR_URL_REFUSED")).toBe("AuthorizationError");
    expect(owner.get("ERR_FETCH_FAILED")).toBe("AuthorizationError");
  });

  it("codes are stable: the fixed ones are what they always were", () => {
    expect(new StoreUnavailableError("m").code).toBe("ERR_STORE_UNAVAILABLE");
    expect(new BusUnavailableError("m").code).toBe("ERR_BUS_UNAVAILABLE");
    expect(new IssuerUnavailableError("m").code).toBe("ERR_ISSUER_UNAVAILABLE");
    expect(new InvalidTokenError("m").code).toBe("ERR_INVALID_TOKEN");
    expect(new ToolError("m").code).toBe("ERR_TOOL");
    expect(new ProtocolVersionError([], undefined).code).toBe("ERR_PROTOCOL_VERSION");
    const output = new OutputSchemaError("t", "why", { content: [] });
    expect(output).toBeInstanceOf(ProtocolError);
    expect(output.code).toBe("ERR_OUTPUT_SCHEMA");
  });

  it("outages share UnavailableError; nothing else does", () => {
    for (const [name, error] of instances) {
      expect(error instanceof UnavailableError, name).toBe(name.endsWith("UnavailableError"));
    }
  });

  it("McpError keeps its JSON-RPC number and wire shape", () => {
    const error = new McpError(ErrorCode.InvalidParams, "bad", { field: "x" });
    expect(error).toBeInstanceOf(PortcullisError);
    expect(error.code).toBe(-32602);
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      code: -32602,
      message: "bad",
      data: { field: "x" },
    });
  });

  it("OAuthError keeps its RFC 6749 §5.2 body", async () => {
    const response = new OAuthError("invalid_grant", "expired").toResponse();
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: "invalid_grant", error_description: "expired" });
  });

  it("a cause given to the root is kept", () => {
    const cause = new Error("down");
    expect(new StoreUnavailableError("m", { cause }).cause).toBe(cause);
    expect(new TransportError("ERR_NETWORK", "m", { cause }).cause).toBe(cause);
  });

  it("storage outages are told by class, not by name", () => {
    expect(asOAuthError(new StoreUnavailableError("m")).code).toBe("temporarily_unavailable");
    expect(asOAuthError(new BusUnavailableError("m")).code).toBe("temporarily_unavailable");
    // An unrelated error that merely calls itself one is an internal error.
    const impostor = new Error("m");
    impostor.name = "StoreUnavailableError";
    expect(asOAuthError(impostor).code).toBe("server_error");
  });

  it("portcullis/client exports the same root", () => {
    expect(ClientPortcullisError).toBe(PortcullisError);
  });
});
