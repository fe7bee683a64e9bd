/** Servers that misbehave: the client fails with a clear typed error, or copes when lenient. */
import { afterEach, describe, expect, it } from "vitest";
import { type McpClient, ProtocolError, TransportError } from "../../src/client/index.ts";
import { deferred } from "../helpers/async.ts";
import { client, type FakeAnswer, fakeServer, rpcResult, sseResponse } from "./support.ts";

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

/** A client connected to a fake server that answers tools/call as `call` says. */
async function against(
  call: FakeAnswer,
  options: Parameters<typeof client>[0] = {},
  connect: Parameters<McpClient["connect"]>[1] = {},
  get?: (request: Request) => Response,
) {
  const fake = await fakeServer(
    (request) => (request.method === "tools/call" ? call(request) : undefined),
    get ? { get } : {},
  );
  const made = client(options);
  await made.client.connect(fake.url, connect);
  open.push(made.client);
  return { ...made, ...fake };
}

const text = (body: string, type: string, status = 200) =>
  new Response(body, { status, headers: { "content-type": type } });

describe("bodies that are not what they claim", () => {
  it("a JSON reply that is not JSON fails with ERR_BAD_MESSAGE", async () => {
    const { client: c } = await against(() => text("{ not json", "application/json"));
    const error = await c.callTool("x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ code: "ERR_BAD_MESSAGE" });
  });

  it("an HTML reply fails with ERR_BAD_CONTENT_TYPE", async () => {
    const { client: c } = await against(() => text("<html>hello</html>", "text/html"));
    const error = await c.callTool("x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ code: "ERR_BAD_CONTENT_TYPE" });
    expect((error as Error).message).toContain("text/html");
  });

  it("JSON labelled text/plain is read when lenient, with a warning", async () => {
    const { client: c, warnings } = await against((request) =>
      text(
        rpcResult(request.message.id, { content: [{ type: "text", text: "ok" }] }),
        "text/plain",
      ),
    );
    expect((await c.callTool("x")).content).toEqual([{ type: "text", text: "ok" }]);
    expect(warnings.map((warning) => warning.code)).toContain("content_type");
  });

  it("an event stream labelled text/plain is read when lenient", async () => {
    const { client: c } = await against((request) =>
      text(
        `event: message\ndata: ${rpcResult(request.message.id, { content: [] })}\n\n`,
        "text/plain",
      ),
    );
    expect(await c.callTool("x")).toEqual({ content: [] });
  });

  it("JSON labelled text/plain fails with ERR_BAD_CONTENT_TYPE under strict headers", async () => {
    const { client: c } = await against(
      (request) => text(rpcResult(request.message.id, { content: [] }), "text/plain"),
      { strict: { headers: true } },
    );
    await expect(c.callTool("x")).rejects.toMatchObject({ code: "ERR_BAD_CONTENT_TYPE" });
  });

  it("a reply that is JSON but not JSON-RPC fails with ProtocolError ERR_CONTRACT", async () => {
    const { client: c } = await against((request) =>
      text(
        JSON.stringify({ jsonrpc: "2.0", id: request.message.id, result: [1, 2] }),
        "application/json",
      ),
    );
    const error = await c.callTool("x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ code: "ERR_CONTRACT" });
  });

  it("a JSON reply that answers another request fails instead of hanging", async () => {
    const { client: c } = await against(() =>
      text(rpcResult(12345, { content: [] }), "application/json"),
    );
    await expect(c.callTool("x")).rejects.toMatchObject({ code: "ERR_BAD_MESSAGE" });
  });

  it("an SSE event that is not JSON is skipped with a warning; the reply still arrives", async () => {
    const { client: c, warnings } = await against((request) =>
      sseResponse([
        "data: this is not json\n\n",
        `data: ${rpcResult(request.message.id, { content: [{ type: "text", text: "fine" }] })}\n\n`,
      ]),
    );
    expect((await c.callTool("x")).content).toEqual([{ type: "text", text: "fine" }]);
    expect(warnings.map((warning) => warning.code)).toContain("bad_message");
  });
});

describe("HTTP errors", () => {
  it("a 500 with a JSON-RPC error body fails with ERR_HTTP_STATUS and keeps the error", async () => {
    const { client: c } = await against(() =>
      Response.json(
        { jsonrpc: "2.0", id: null, error: { code: -32603, message: "database down" } },
        { status: 500 },
      ),
    );
    const error = (await c.callTool("x").catch((e: unknown) => e)) as TransportError;
    expect(error).toBeInstanceOf(TransportError);
    expect(error.code).toBe("ERR_HTTP_STATUS");
    expect(error.status).toBe(500);
    expect(error.rpcError).toEqual({ code: -32603, message: "database down" });
    expect(error.message).toContain("database down");
  });

  it("a 401 without an authorizer fails with ERR_UNAUTHORIZED", async () => {
    const { client: c } = await against(() => new Response("no", { status: 401 }));
    await expect(c.callTool("x")).rejects.toMatchObject({ code: "ERR_UNAUTHORIZED", status: 401 });
  });
});

describe("streams that never deliver", () => {
  it("an endless SSE stream with no reply times out, drops the stream, and cancels", async () => {
    const cancelled = deferred();
    const { client: c, requests } = await against(() =>
      sseResponse(
        [
          ": keep-alive\n\n",
          'data: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"working"}}\n\n',
        ],
        {
          open: true,
          onCancel: () => cancelled.resolve(),
        },
      ),
    );
    const error = await c.callTool("x", {}, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ code: "ERR_TIMEOUT" });
    await cancelled.promise;
    const call = requests.find((request) => request.method === "tools/call")!;
    await expect
      .poll(() => requests.find((request) => request.method === "notifications/cancelled"))
      .toMatchObject({ message: { params: { requestId: call.message.id, reason: "timeout" } } });
  });

  it("a stream that ends before the reply, without event ids, fails with ERR_STREAM_ENDED", async () => {
    const { client: c } = await against(() =>
      sseResponse([
        'data: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}\n\n',
      ]),
    );
    const error = await c.callTool("x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ code: "ERR_STREAM_ENDED" });
  });

  it("gives up resuming after maxAttempts reconnections that bring nothing", async () => {
    const { client: c, gets } = await against(
      () => sseResponse(["id: stream-1\nretry: 5\ndata: \n\n"]),
      {},
      { reconnect: { maxAttempts: 2 }, listen: false },
      () => sseResponse([]),
    );
    const error = await c.callTool("x").catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ERR_STREAM_ENDED" });
    expect((error as Error).message).toContain("2 attempts");
    expect(gets).toHaveLength(2);
    for (const headers of gets) expect(headers.get("last-event-id")).toBe("stream-1");
  });

  it("resumes from the last event id it saw, not the first", async () => {
    let resumedFrom: string | null = null;
    let callId: unknown;
    const { client: c } = await against(
      (request) => {
        callId = request.message.id;
        return sseResponse([
          "id: e1\nretry: 5\ndata: \n\n",
          'id: e2\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"1"}}\n\n',
        ]);
      },
      {},
      { listen: false },
      (request) => {
        resumedFrom = request.headers.get("last-event-id");
        return sseResponse([`id: e3\ndata: ${rpcResult(callId, { content: [] })}\n\n`]);
      },
    );
    expect(await c.callTool("x")).toEqual({ content: [] });
    expect(resumedFrom).toBe("e2");
  });
});

describe("oversized messages", () => {
  const big = "x".repeat(5_000);

  it("a JSON reply over maxMessageBytes fails with ERR_MESSAGE_TOO_LARGE", async () => {
    const { client: c } = await against(
      (request) =>
        text(
          rpcResult(request.message.id, { content: [{ type: "text", text: big }] }),
          "application/json",
        ),
      { maxMessageBytes: 1_024 },
    );
    const error = await c.callTool("x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ code: "ERR_MESSAGE_TOO_LARGE" });
    // The connection is still good for messages within the limit.
    await expect(c.ping()).rejects.toMatchObject({ code: -32601 });
  });

  it("an SSE event over maxMessageBytes fails with ERR_MESSAGE_TOO_LARGE, even endless", async () => {
    const cancelled = deferred();
    const { client: c } = await against(
      () => {
        // One event whose data line never ends.
        return sseResponse([`data: ${big}`, big, big], {
          open: true,
          onCancel: () => cancelled.resolve(),
        });
      },
      { maxMessageBytes: 1_024 },
    );
    await expect(c.callTool("x")).rejects.toMatchObject({ code: "ERR_MESSAGE_TOO_LARGE" });
    await cancelled.promise;
  });
});
