/**
 * Change notifications in 2026-07-28: one subscriptions/listen stream per client, opened for
 * the list-changed hooks and re-opened with the union of subscribed URIs, its
 * acknowledgement checked, its notifications told apart by subscription id, and reconnected
 * (a bounded number of times) when it drops.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type McpClient, ProtocolError } from "../../src/client/index.ts";
import type { McpServer } from "../../src/index.ts";
import { deferred, until } from "../helpers/async.ts";
import {
  bodyOf,
  client,
  discoverResult,
  fakeServer,
  type Json,
  methodsOf,
  recordingFetch,
  richServer,
  serve,
  sseResponse,
} from "./support.ts";

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

const SUBSCRIPTION = "io.modelcontextprotocol/subscriptionId";

async function connect(mcp: McpServer, options: Parameters<typeof client>[0] = {}) {
  const recorder = recordingFetch();
  const made = client(options);
  await made.client.connect(await serve(mcp), { fetch: recorder.fetch });
  open.push(made.client);
  const listens = () =>
    recorder.calls.filter((call) => call.body?.includes('"subscriptions/listen"'));
  return { ...made, calls: recorder.calls, listens };
}

describe("against our server", () => {
  it("the list-changed hooks open one stream at connect; a new tool is heard of", async () => {
    const { mcp } = richServer();
    let changed = 0;
    const heard = deferred();
    const {
      client: c,
      calls,
      listens,
      warnings,
    } = await connect(mcp, {
      onToolsChanged: () => {
        changed++;
        heard.resolve();
      },
      onPromptsChanged: () => undefined,
    });
    expect(methodsOf(calls)).toEqual(["server/discover", "subscriptions/listen"]);
    expect(bodyOf(listens()[0]!).params).toMatchObject({
      notifications: { toolsListChanged: true, promptsListChanged: true },
    });
    expect(listens()[0]!.headers.get("mcp-method")).toBe("subscriptions/listen");
    mcp.tool("brand_new", {}, () => "new");
    await heard.promise;
    expect(changed).toBe(1);
    expect(c.protocolVersion).toBe("2026-07-28");
    expect(warnings).toEqual([]);
  });

  it("without hooks, or with listen: false, no stream is opened", async () => {
    const { mcp } = richServer();
    const quiet = await connect(mcp);
    expect(methodsOf(quiet.calls)).toEqual(["server/discover"]);
    const recorder = recordingFetch();
    const { client: c } = client({ onToolsChanged: () => undefined });
    await c.connect(await serve(mcp), { fetch: recorder.fetch, listen: false });
    open.push(c);
    expect(methodsOf(recorder.calls)).toEqual(["server/discover"]);
  });

  it("resources/updated comes for subscribed URIs only, once, until unsubscribed", async () => {
    const { mcp } = richServer();
    const updates: string[] = [];
    const { client: c, listens } = await connect(mcp, {
      onResourceUpdated: (uri) => updates.push(uri),
    });
    await c.subscribe("notes://alpha");
    await c.subscribe("notes://beta");
    expect(bodyOf(listens().at(-1)!).params).toMatchObject({
      notifications: { resourceSubscriptions: ["notes://alpha", "notes://beta"] },
    });
    // Subscribing again to what the stream already carries re-opens nothing.
    await c.subscribe("notes://beta");
    expect(listens()).toHaveLength(2);
    // Notifications arrive in order on the stream: by the time alpha's has come, an update
    // of the unsubscribed readme would have too; and the first stream must not double it.
    mcp.resourceUpdated("notes://readme");
    mcp.resourceUpdated("notes://alpha");
    await until(() => updates.length >= 1);
    mcp.resourceUpdated("notes://beta");
    await until(() => updates.length >= 2);
    expect(updates).toEqual(["notes://alpha", "notes://beta"]);

    await c.unsubscribe("notes://alpha");
    expect(bodyOf(listens().at(-1)!).params).toMatchObject({
      notifications: { resourceSubscriptions: ["notes://beta"] },
    });
    mcp.resourceUpdated("notes://alpha");
    mcp.resourceUpdated("notes://beta");
    await until(() => updates.length >= 3);
    expect(updates).toEqual(["notes://alpha", "notes://beta", "notes://beta"]);
  });

  it("subscriptions made at once share the stream that acknowledges them all", async () => {
    const { mcp } = richServer();
    const updates: string[] = [];
    const { client: c } = await connect(mcp, { onResourceUpdated: (uri) => updates.push(uri) });
    await Promise.all([c.subscribe("notes://alpha"), c.subscribe("notes://beta")]);
    mcp.resourceUpdated("notes://beta");
    mcp.resourceUpdated("notes://alpha");
    await until(() => updates.length >= 2);
    expect(updates).toEqual(["notes://beta", "notes://alpha"]);
  });
});

/** A 2026-07-28 fake whose subscriptions/listen replies as `listen` says (by call count). */
async function listenFake(listen: (id: unknown, count: number) => Response) {
  let count = 0;
  const fake = await fakeServer((request) => {
    if (request.method === "server/discover") return discoverResult();
    if (request.method === "subscriptions/listen") return listen(request.message.id, count++);
    return undefined;
  });
  const listens = () => fake.requests.filter((r) => r.method === "subscriptions/listen");
  return { ...fake, listens };
}

function event(message: Json): string {
  return `data: ${JSON.stringify(message)}\n\n`;
}

function ack(id: unknown, notifications: Json): string {
  return event({
    jsonrpc: "2.0",
    method: "notifications/subscriptions/acknowledged",
    params: { notifications, _meta: { [SUBSCRIPTION]: id } },
  });
}

function toolsChanged(id: unknown): string {
  return event({
    jsonrpc: "2.0",
    method: "notifications/tools/list_changed",
    params: { _meta: { [SUBSCRIPTION]: id } },
  });
}

describe("against other servers", () => {
  it("a subscription the acknowledgement leaves out is refused with ERR_SUBSCRIPTION", async () => {
    const fake = await listenFake((id) => sseResponse([ack(id, {})], { open: true }));
    const { client: c } = client();
    await c.connect(fake.url);
    open.push(c);
    const error = await c.subscribe("notes://secret").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ code: "ERR_SUBSCRIPTION" });
  });

  it("a list filter the server does not honour is reported once", async () => {
    const fake = await listenFake((id) => sseResponse([ack(id, {})], { open: true }));
    const { client: c, warnings } = client({ onPromptsChanged: () => undefined });
    await c.connect(fake.url);
    open.push(c);
    expect(warnings.map((warning) => warning.code)).toEqual(["subscription_refused"]);
  });

  it("notifications tagged with another subscription are dropped", async () => {
    const fake = await listenFake((id) =>
      sseResponse(
        [ack(id, { toolsListChanged: true }), toolsChanged("not-ours"), toolsChanged(id)],
        {
          open: true,
        },
      ),
    );
    const seen: unknown[] = [];
    const { client: c } = client({
      onToolsChanged: () => undefined,
      onNotification: (notification) => seen.push(notification.params?._meta),
    });
    await c.connect(fake.url);
    open.push(c);
    await until(() => seen.length >= 2);
    const ids = seen.map((meta) => (meta as Json)[SUBSCRIPTION]);
    // The acknowledgement, then only the notification of our own stream.
    expect(ids).toEqual([fake.listens()[0]!.message.id, fake.listens()[0]!.message.id]);
  });

  it("a stream that drops is opened again, and its notifications come through", async () => {
    const fake = await listenFake((id, count) =>
      count === 0
        ? sseResponse([ack(id, { toolsListChanged: true })])
        : sseResponse([ack(id, { toolsListChanged: true }), toolsChanged(id)], { open: true }),
    );
    const heard = deferred();
    const { client: c, warnings } = client({ onToolsChanged: () => heard.resolve() });
    await c.connect(fake.url, { reconnect: { delayMs: 1 } });
    open.push(c);
    await heard.promise;
    expect(fake.listens()).toHaveLength(2);
    const [first, second] = fake.listens();
    expect(second!.message.id).not.toBe(first!.message.id);
    expect(warnings).toEqual([]);
  });

  it("a stream that keeps dropping without delivering anything is given up on", async () => {
    const fake = await listenFake((id) => sseResponse([ack(id, { toolsListChanged: true })]));
    const { client: c, warnings } = client({ onToolsChanged: () => undefined });
    await c.connect(fake.url, { reconnect: { delayMs: 1, maxAttempts: 2 } });
    open.push(c);
    await until(() => warnings.some((warning) => warning.code === "subscription_lost"));
    expect(fake.listens()).toHaveLength(3);
  });

  it("a stream the server ends with its result is over: reported, not reconnected", async () => {
    const fake = await listenFake((id) =>
      sseResponse([
        ack(id, { toolsListChanged: true }),
        event({
          jsonrpc: "2.0",
          id,
          result: { resultType: "complete", _meta: { [SUBSCRIPTION]: id } },
        }),
      ]),
    );
    const { client: c, warnings } = client({ onToolsChanged: () => undefined });
    await c.connect(fake.url, { reconnect: { delayMs: 1 } });
    open.push(c);
    await until(() => warnings.some((warning) => warning.code === "subscription_ended"));
    // A subscription afterwards opens the stream anew, once.
    await expect(c.subscribe("notes://x")).rejects.toMatchObject({ code: "ERR_SUBSCRIPTION" });
    expect(fake.listens()).toHaveLength(2);
  });
});
