/**
 * What an operator sees (issue 12, "Logs an operator can use"): requests at debug, every 5xx
 * under a correlation id that its reply carries too, tool exceptions logged and hidden from
 * the client, refused tokens with their reason (never in the reply), and warnings about the
 * configuration said once however many requests follow. Real servers on loopback; the only
 * stand-in is the logger, passed as an option, which keeps what it is given.
 */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import { bearerAuth, IssuerUnavailableError, McpServer, mcpApp } from "../../src/index.ts";
import { memoryStore, type Store } from "../../src/storage/index.ts";
import { basic, form } from "../auth/security/support.ts";
import { initializeRequest, listen, messagesOf, post } from "../helpers/http.ts";
import { capturingLogger, type LogLine } from "../helpers/log.ts";

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MACHINE = { id: "nightly", secret: "a-machine-secret-of-sufficient-length-0123" };

const toolCall = (id: number, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args },
});

function notesServer(logger = capturingLogger()): McpServer {
  const mcp = new McpServer({ name: "notes", version: "1.0.0", logger });
  mcp.tool("echo", {}, () => "hi");
  mcp.tool("boom", {}, () => {
    throw new Error("database exploded");
  });
  mcp.tool("read", { scopes: ["notes:read"], userRequired: false }, () => "a note");
  mcp.tool("write", { scopes: ["notes:write"], userRequired: false }, () => "written");
  mcp.resource("broken://x", {}, () => {
    throw new Error("secret detail");
  });
  return mcp;
}

/** A Store whose reads fail as a broken backend would: not "unavailable", just wrong. */
function brokenStore(): Store {
  const inner = memoryStore();
  const fail = async (): Promise<never> => {
    throw new TypeError("backend returned garbage");
  };
  return { ...inner, get: fail, add: fail, set: fail, compareAndSet: fail };
}

const lines = (log: LogLine[], message: string) => log.filter((line) => line.message === message);

describe("server errors", () => {
  it("logs a 500 at /mcp with its cause, under the id the reply carries", async () => {
    const logger = capturingLogger();
    const mcp = notesServer(logger);
    const url = `${await listen(mcpApp(mcp, { sessions: { store: brokenStore() }, logger }))}/mcp`;
    const response = await post(url, toolCall(1, "echo"), { "mcp-session-id": "abc" });
    expect(response.status).toBe(500);
    const body = (await response.json()) as {
      error: { message: string; data: { errorId: string } };
    };
    expect(body.error.message).toBe("Internal error");
    expect(JSON.stringify(body)).not.toContain("garbage");
    const errorId = body.error.data.errorId;
    expect(errorId).toMatch(ID);
    const [line, ...more] = lines(logger.lines, "server error");
    expect(more).toEqual([]);
    expect(line).toMatchObject({ level: "error", fields: { error_id: errorId, path: "/mcp" } });
    expect((line!.fields.error as Error).message).toBe("backend returned garbage");
  });

  it("logs a 500 at an authorization-server endpoint under the id of its server_error", async () => {
    const logger = capturingLogger();
    const as = authorizationServer({ store: brokenStore(), login: devLogin(), logger });
    const base = await listen(mcpApp(notesServer(), { auth: as }));
    const response = await fetch(`${base}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ redirect_uris: ["http://127.0.0.1:9/cb"] }),
    });
    expect(response.status).toBe(500);
    const body = (await response.json()) as Record<string, string>;
    expect(body.error).toBe("server_error");
    expect(body.error_id).toMatch(ID);
    expect(body.error_description).toContain(body.error_id);
    expect(JSON.stringify(body)).not.toContain("garbage");
    const [line] = lines(logger.lines, "server error");
    expect(line).toMatchObject({
      level: "error",
      fields: { error_id: body.error_id, method: "POST", path: "/register", status: 500 },
    });
    expect((line!.fields.error as Error).message).toBe("backend returned garbage");
  });

  it("logs a handler's unexpected exception, and the JSON-RPC error carries its id", async () => {
    const logger = capturingLogger();
    const url = `${await listen(mcpApp(notesServer(logger)))}/mcp`;
    const read = { jsonrpc: "2.0", id: 2, method: "resources/read", params: { uri: "broken://x" } };
    const [reply] = (await messagesOf(await post(url, read))) as {
      error: { code: number; message: string; data: { errorId: string } };
    }[];
    expect(reply!.error).toEqual({
      code: -32603,
      message: "Internal error",
      data: { errorId: expect.stringMatching(ID) },
    });
    const [line] = lines(logger.lines, "request failed");
    expect(line!.fields).toMatchObject({
      rpc_method: "resources/read",
      error_id: reply!.error.data.errorId,
    });
    expect((line!.fields.error as Error).message).toBe("secret detail");
  });
});

describe("tool exceptions", () => {
  it("are logged with their stack, and the client gets a message the server chose", async () => {
    const logger = capturingLogger();
    const url = `${await listen(mcpApp(notesServer(logger)))}/mcp`;
    const [reply] = (await messagesOf(await post(url, toolCall(3, "boom")))) as {
      result: { isError: boolean; content: { text: string }[] };
    }[];
    expect(reply!.result.isError).toBe(true);
    const text = reply!.result.content[0]!.text;
    expect(text).not.toContain("database exploded");
    const id = /error id ([0-9a-f-]{36})/.exec(text)?.[1];
    expect(id).toMatch(ID);
    const [line, ...more] = lines(logger.lines, "tool threw");
    expect(more).toEqual([]);
    expect(line).toMatchObject({ level: "error", fields: { tool: "boom", error_id: id } });
    const error = line!.fields.error as Error;
    expect(error.message).toBe("database exploded");
    expect(error.stack).toContain("logging.test.ts");
  });
});

describe("request lines", () => {
  it("logs each request at debug: method, path, status, duration, JSON-RPC method and tool", async () => {
    const logger = capturingLogger();
    const url = `${await listen(mcpApp(notesServer(logger)))}/mcp`;
    await (await post(url, initializeRequest())).text();
    await (await post(url, toolCall(4, "echo"))).text();
    await (await fetch(url, { method: "PUT" })).text();
    const requests = lines(logger.at("debug"), "request").map((line) => line.fields);
    expect(requests).toEqual([
      {
        method: "POST",
        path: "/mcp",
        status: 200,
        duration_ms: expect.any(Number),
        rpc_method: "initialize",
      },
      {
        method: "POST",
        path: "/mcp",
        status: 200,
        duration_ms: expect.any(Number),
        rpc_method: "tools/call",
        tool: "echo",
      },
      { method: "PUT", path: "/mcp", status: 405, duration_ms: expect.any(Number) },
    ]);
  });

  it("skip the work when the logger drops debug lines", async () => {
    const logger = Object.assign(capturingLogger(), { level: "info" as const });
    const url = `${await listen(mcpApp(notesServer(logger)))}/mcp`;
    await (await post(url, toolCall(5, "echo"))).text();
    expect(lines(logger.lines, "request")).toEqual([]);
  });
});

describe("authorization failures", () => {
  async function protectedEndpoint() {
    const logger = capturingLogger();
    const as = authorizationServer({
      store: memoryStore(),
      login: devLogin(),
      scopes: ["notes:read", "notes:write"],
      clients: [
        {
          client_id: MACHINE.id,
          client_secret: MACHINE.secret,
          grant_types: ["client_credentials"],
          redirect_uris: [],
          scope: "notes:read",
        },
      ],
      logger,
    });
    const base = await listen(mcpApp(notesServer(logger), { auth: as, logger }));
    const tokenReply = await fetch(`${base}/token`, {
      ...form({ grant_type: "client_credentials", scope: "notes:read" }),
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: basic(MACHINE.id, MACHINE.secret),
      },
    });
    const { access_token: token } = (await tokenReply.json()) as { access_token: string };
    return { logger, url: `${base}/mcp`, token };
  }

  it("logs why a token was refused, and the reply says only invalid_token", async () => {
    const { logger, url, token } = await protectedEndpoint();
    const [header, payload] = token.split(".");
    const tampered = `${header}.${payload}.${"A".repeat(86)}`;
    for (const bad of ["garbage", tampered]) {
      const response = await post(url, toolCall(6, "read"), { authorization: `Bearer ${bad}` });
      expect(response.status).toBe(401);
      const challenge = response.headers.get("www-authenticate") ?? "";
      expect(challenge).toContain('error="invalid_token"');
      const text = await response.text();
      expect(text + challenge).not.toMatch(/signature|well-formed/);
    }
    const reasons = lines(logger.at("info"), "access token refused").map((l) => l.fields.reason);
    expect(reasons).toEqual(["not a well-formed JWS", "bad signature"]);
  });

  it("logs a missing scope with what the caller holds", async () => {
    const { logger, url, token } = await protectedEndpoint();
    const auth = { authorization: `Bearer ${token}` };
    const [ok] = (await messagesOf(await post(url, toolCall(7, "read"), auth))) as {
      result: unknown;
    }[];
    expect(ok!.result).toBeDefined();
    const refused = await post(url, toolCall(8, "write"), auth);
    expect(refused.status).toBe(403);
    await refused.text();
    expect(lines(logger.at("info"), "insufficient scope").map((l) => l.fields)).toEqual([
      { missing: "notes:write", held: "notes:read", subject: MACHINE.id, client_id: MACHINE.id },
    ]);
  });
});

describe("an issuer that cannot be asked", () => {
  it("is logged with its cause when the outage starts, then at most once a minute", async () => {
    const logger = capturingLogger();
    let now = 1_000_000;
    let down = true;
    const app = new Hono();
    app.use(
      bearerAuth({
        logger,
        clock: () => now,
        verify: async () => {
          if (!down) return { kind: "user", scopes: [], claims: {} };
          throw new IssuerUnavailableError("The keys of https://idp.test could not be fetched", {
            cause: new TypeError("fetch failed"),
          });
        },
      }),
    );
    app.get("/", (c) => c.text("ok"));
    const base = await listen(app);
    const ask = async () => {
      const response = await fetch(base, { headers: { authorization: "Bearer abc" } });
      await response.text();
      return response.status;
    };
    const outageLines = () => lines(logger.at("error"), logger.at("error")[0]?.message ?? "");
    for (let i = 0; i < 5; i++) expect(await ask()).toBe(503);
    expect(outageLines()).toHaveLength(1);
    expect(outageLines()[0]!.fields).toMatchObject({ failures: 1 });
    expect((outageLines()[0]!.fields.cause as Error).message).toBe("fetch failed");
    now += 59_000;
    expect(await ask()).toBe(503);
    expect(outageLines()).toHaveLength(1);
    now += 1_000;
    expect(await ask()).toBe(503);
    expect(outageLines()).toHaveLength(2);
    expect(outageLines()[1]!.fields).toMatchObject({ failures: 7 });
    down = false;
    expect(await ask()).toBe(200);
    expect(lines(logger.at("info"), "tokens can be checked again")[0]!.fields).toEqual({
      failures: 7,
      down_ms: 60_000,
    });
  });
});

describe("warnings", () => {
  it("warns once about an http:// issuer off loopback, however many requests follow", async () => {
    const logger = capturingLogger();
    const as = authorizationServer({
      store: memoryStore(),
      login: { name: "custom", challenge: (c) => c.text("sign in") },
      issuer: "http://auth.example.com",
      logger,
    });
    const base = await listen(mcpApp(notesServer(), { auth: as }));
    for (let i = 0; i < 3; i++) {
      await (await fetch(`${base}/.well-known/oauth-authorization-server`)).text();
    }
    expect(logger.at("warn")).toEqual([
      {
        level: "warn",
        message: expect.stringContaining("http:// off loopback"),
        fields: { issuer: "http://auth.example.com" },
      },
    ]);
    // Loopback http is what local development uses: no warning.
    const quiet = capturingLogger();
    authorizationServer({
      store: memoryStore(),
      login: devLogin(),
      issuer: "http://localhost:8787",
      logger: quiet,
    });
    expect(quiet.lines).toEqual([]);
  });

  it("warns once when sessions share a Store and the server has no secret", async () => {
    const logger = capturingLogger();
    const store = memoryStore();
    const mcp = notesServer(logger);
    const url = `${await listen(mcpApp(mcp, { sessions: { store } }))}/mcp`;
    mcpApp(mcp, { sessions: { store }, path: "/other" });
    for (let i = 0; i < 3; i++) await (await post(url, initializeRequest())).text();
    expect(logger.at("warn").map((line) => line.message)).toEqual([
      expect.stringContaining("no secret"),
    ]);

    const withSecret = capturingLogger();
    const secret = "a-shared-secret-of-thirty-two-characters";
    const sealed = new McpServer({ name: "s", version: "1", secret, logger: withSecret });
    mcpApp(sealed, { sessions: { store } });
    new McpServer({ name: "t", version: "1", secret, tasks: { store }, logger: withSecret });
    expect(withSecret.at("warn")).toEqual([]);
    const tasks = capturingLogger();
    new McpServer({ name: "t", version: "1", tasks: { store }, logger: tasks });
    expect(tasks.at("warn")).toHaveLength(1);
  });

  it("warns once about scopes the tools need that the authorization server does not offer", () => {
    const logger = capturingLogger();
    const mcp = notesServer(logger);
    const auth = { issuer: "https://idp.example.com", scopes: ["notes:read"] };
    mcpApp(mcp, { auth });
    mcpApp(mcp, { auth, path: "/again" });
    expect(logger.at("warn")).toEqual([
      {
        level: "warn",
        message: expect.stringContaining("does not offer"),
        fields: { missing: "notes:write", offered: "notes:read" },
      },
    ]);
    const quiet = capturingLogger();
    mcpApp(notesServer(quiet), {
      auth: { issuer: "https://idp.example.com", scopes: ["notes:read", "notes:write"] },
    });
    expect(quiet.at("warn")).toEqual([]);
  });
});
