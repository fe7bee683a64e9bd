/**
 * Three server processes sharing one redis-server, as behind a load balancer: every step of
 * a client's work may land on another instance, and one instance dies mid-run.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { parseEventId } from "../../src/http/sse.ts";
import { redisEventStore } from "../../src/redis/index.ts";
import { eventually } from "../helpers/async.ts";
import { initializeRequest } from "../helpers/http.ts";
import { type Json, post, SseReader, sessionHeaders, toolCall } from "../http/support.ts";
import { authorizeAcross, PUBLIC_HOST, redeem, refresh, register, type Tokens } from "./oauth.ts";
import {
  client,
  closeClients,
  describeRedis,
  type Instance,
  startInstance,
  startInstances,
  stopInstances,
  uniquePrefix,
} from "./support.ts";

const SECRET = "multi-instance-test-secret-0123456789abcdef";

describeRedis("three instances sharing one Redis", (url) => {
  let nodes: Instance[] = [];
  /** Base URLs of instances 1, 2 and 3. */
  let one = "";
  let two = "";
  let three = "";
  let bearer: Record<string, string> = {};
  const prefix = uniquePrefix("multi");
  const env = {
    REDIS_URL: url,
    PREFIX: prefix,
    PUBLIC_HOST,
    SECRET,
    REGISTER_LIMIT: "20",
    REFRESH_GRACE_MS: "0",
  };

  beforeAll(async () => {
    nodes = await startInstances(3, env);
    [one, two, three] = nodes.map((node) => node.url) as [string, string, string];
  }, 60_000);

  afterAll(async () => {
    await stopInstances(nodes);
    await closeClients();
  });

  const mcp = (base: string) => `${base}/mcp`;

  /** Opens a session on `base` as the bearer's user; its id. */
  async function openSession(base: string, capabilities: Json = {}): Promise<string> {
    const response = await post(mcp(base), initializeRequest("2025-11-25", capabilities), bearer);
    expect(response.status).toBe(200);
    await response.text();
    const id = response.headers.get("mcp-session-id")!;
    const initialized = await post(
      mcp(base),
      { jsonrpc: "2.0", method: "notifications/initialized" },
      { ...bearer, ...sessionHeaders(id) },
    );
    expect(initialized.status).toBe(202);
    return id;
  }

  const on = (id: string) => ({ ...bearer, ...sessionHeaders(id) });
  const gate = (base: string, name: string) =>
    fetch(`${base}/__test/gate/${name}`, { method: "POST" });
  const logData = (message: Json) =>
    message.method === "notifications/message" ? (message.params as Json).data : undefined;

  it("runs OAuth across instances: register on 1, authorize on 2, token on 3", async () => {
    const code = await authorizeAcross(one, two);
    const response = await redeem(three, code);
    expect(response.status).toBe(200);
    const tokens = (await response.json()) as Tokens;
    // Refreshed on yet another instance: rotation state is shared too.
    const refreshed = await refresh(one, code.clientId, tokens.refresh_token);
    expect(refreshed.status).toBe(200);
    const next = (await refreshed.json()) as Tokens;
    expect(next.refresh_token).not.toBe(tokens.refresh_token);
    bearer = { authorization: `Bearer ${next.access_token}` };
    // The token, signed with the shared key, works on every instance.
    for (const base of [one, two, three]) {
      const reply = await post(mcp(base), toolCall(1, "whoami"), on(await openSession(base)));
      expect(reply.status).toBe(200);
      const [message] = await new SseReader(reply).messages();
      expect(JSON.stringify(message)).toContain("alice");
    }
  });

  it("shares rate limits: the budget is per deployment, not per instance", async () => {
    const rateKey = `rl-${Date.now()}`;
    const statuses: number[] = [];
    for (let i = 0; i < 24; i++) {
      const response = await register([one, two, three][i % 3]!, rateKey);
      statuses.push(response.status);
      if (response.status === 429)
        expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
      await response.body?.cancel();
    }
    expect(statuses.filter((s) => s === 201)).toHaveLength(20);
    expect(statuses.slice(20)).toEqual([429, 429, 429, 429]);
  });

  it("resumes on instance 3 a tool call whose stream on instance 2 was cut", async () => {
    const id = await openSession(one);
    const controller = new AbortController();
    const first = new SseReader(
      await post(mcp(two), toolCall(1, "steps", { key: "cut" }), on(id), controller.signal),
    );
    const priming = await first.event();
    expect(priming?.data).toBe("");
    expect(logData((await first.message()) as Json)).toBe("step 1 on #2");
    controller.abort();
    await gate(two, "cut:1");
    // Step 2 is sent while no client is connected: wait until Redis holds it.
    const events = redisEventStore({ client: client(url), prefix });
    const { streamId } = parseEventId(priming!.id!)!;
    await eventually(
      async () => (await events.replay(streamId, 0)) ?? [],
      (stored) => stored.some((event) => logData(event.message as unknown as Json) === "step 2"),
    );
    const resumed = await fetch(mcp(three), {
      headers: { accept: "text/event-stream", ...on(id), "last-event-id": priming!.id! },
    });
    expect(resumed.status).toBe(200);
    const reader = new SseReader(resumed);
    expect(logData(await reader.message())).toBe("step 1 on #2");
    expect(logData(await reader.message())).toBe("step 2");
    // The rest happens on instance 2 after the resume: relayed live through Redis.
    await gate(two, "cut:2");
    expect(logData(await reader.message())).toBe("step 3");
    expect(await reader.message()).toMatchObject({
      id: 1,
      result: { content: [{ text: "stepped on #2" }] },
    });
    expect(await reader.event()).toBeUndefined();
  });

  it("delivers an elicitation answer posted to instance 3 to the tool waiting on instance 1", async () => {
    const id = await openSession(two, { elicitation: { form: {} } });
    const reader = new SseReader(await post(mcp(one), toolCall(1, "ask"), on(id)));
    const request = await reader.until((message) => message.method === "elicitation/create");
    const answer = await post(
      mcp(three),
      { jsonrpc: "2.0", id: request.id, result: { action: "accept", content: { name: "Grace" } } },
      on(id),
    );
    expect(answer.status).toBe(202);
    expect(await reader.until((message) => message.id === 1)).toMatchObject({
      result: { content: [{ text: "hello Grace" }] },
    });
  });

  it("starts a task on instance 1, polls it on 2 and reads its result on 3", async () => {
    const id = await openSession(one);
    const call = async (base: string, requestId: number, method: string, params: Json) => {
      const response = await post(
        mcp(base),
        { jsonrpc: "2.0", id: requestId, method, params },
        on(id),
      );
      expect(response.status).toBe(200);
      return (await new SseReader(response).until((m) => m.id === requestId)).result as Json;
    };
    const created = await call(one, 1, "tools/call", {
      name: "job",
      arguments: { key: "t1" },
      task: { ttl: 60_000 },
    });
    const taskId = (created.task as Json).taskId as string;
    expect(await call(two, 2, "tasks/get", { taskId })).toMatchObject({
      taskId,
      status: "working",
    });
    await gate(one, "t1");
    let requestId = 3;
    const task = await eventually(
      () => call(two, requestId++, "tasks/get", { taskId }),
      (got) => got.status !== "working",
      100,
      50,
    );
    expect(task.status).toBe("completed");
    const result = await call(three, 100, "tasks/result", { taskId });
    expect(result.content).toEqual([{ type: "text", text: "job t1 done on #1" }]);
  });

  it("sends the status of a 2026-07-28 task run on instance 1 to its owner's listen stream on 2", async () => {
    const modern = (method: string, id: number, params: Json, name?: string) =>
      post(
        mcp(method === "subscriptions/listen" ? two : one),
        {
          jsonrpc: "2.0",
          id,
          method,
          params: {
            ...params,
            _meta: {
              "io.modelcontextprotocol/protocolVersion": "2026-07-28",
              "io.modelcontextprotocol/clientCapabilities": {
                extensions: { "io.modelcontextprotocol/tasks": {} },
              },
              "io.modelcontextprotocol/clientInfo": { name: "watcher", version: "1.0.0" },
            },
          },
        },
        {
          ...bearer,
          "mcp-protocol-version": "2026-07-28",
          "mcp-method": method,
          ...(name ? { "mcp-name": name } : {}),
        },
      );
    // An optional tool held by its gate becomes a task after the server's hand-off delay.
    const created = await modern("tools/call", 1, { name: "job", arguments: { key: "n1" } }, "job");
    const text = await created.text();
    const task = JSON.parse(text.includes("data: ") ? text.split("data: ").at(-1)! : text)
      .result as Json;
    expect(task.resultType).toBe("task");
    const taskId = task.taskId as string;
    const stream = new SseReader(
      await modern("subscriptions/listen", 2, { notifications: { taskIds: [taskId] } }),
    );
    const ack = await stream.until((m) => m.method === "notifications/subscriptions/acknowledged");
    expect((ack.params as Json).notifications).toEqual({ taskIds: [taskId] });
    await gate(one, "n1");
    const done = await stream.until(
      (m) => m.method === "notifications/tasks" && (m.params as Json).status === "completed",
    );
    expect((done.params as Json).result).toMatchObject({
      content: [{ type: "text", text: "job n1 done on #1" }],
    });
  });

  it("carries a resource update raised on instance 3 to the GET stream on instance 1", async () => {
    const id = await openSession(two);
    const subscribed = await post(
      mcp(two),
      { jsonrpc: "2.0", id: 1, method: "resources/subscribe", params: { uri: "notes://9" } },
      on(id),
    );
    expect(subscribed.status).toBe(200);
    await subscribed.text();
    const get = new SseReader(
      await fetch(mcp(one), { headers: { accept: "text/event-stream", ...on(id) } }),
    );
    expect((await get.event())?.data).toBe(""); // priming
    await (await post(mcp(three), toolCall(2, "touch", { uri: "notes://8" }), on(id))).text();
    await (await post(mcp(three), toolCall(3, "touch", { uri: "notes://9" }), on(id))).text();
    expect(await get.message()).toEqual({
      jsonrpc: "2.0",
      method: "notifications/resources/updated",
      params: { uri: "notes://9" },
    });
    await get.cancel();
  });

  it("loses nothing when instance 1 is killed mid-run", async () => {
    const id = await openSession(one);
    const first = new SseReader(
      await post(mcp(one), toolCall(1, "steps", { key: "kill" }), on(id)),
    );
    const priming = await first.event();
    expect(logData(await first.message())).toBe("step 1 on #1");
    // The client moved to instance 2, which relays what instance 1 still sends.
    const relayed = new SseReader(
      await fetch(mcp(two), {
        headers: { accept: "text/event-stream", ...on(id), "last-event-id": priming!.id! },
      }),
    );
    expect(logData(await relayed.message())).toBe("step 1 on #1");
    nodes[0]!.process.kill("SIGKILL");
    await new Promise((resolve) => nodes[0]!.process.once("exit", resolve));
    // Instance 2 notices that nobody answers for the stream any more, and ends it.
    expect(await relayed.event()).toBeUndefined();

    // The session opened on 1 goes on, on 2 and 3.
    const reply = await post(mcp(two), toolCall(2, "whoami"), on(id));
    expect(reply.status).toBe(200);
    expect(JSON.stringify(await new SseReader(reply).messages())).toContain("#2 alice");
    // What instance 1 sent before it died is still there to resume; then the stream ends.
    const resumed = await fetch(mcp(three), {
      headers: { accept: "text/event-stream", ...on(id), "last-event-id": priming!.id! },
    });
    expect(resumed.status).toBe(200);
    const replay = await new SseReader(resumed).messages();
    expect(replay.map(logData)).toEqual(["step 1 on #1"]);
    // Tokens and clients made before the kill still work, and a new instance joins in.
    const replacement = await startInstance("#4", env);
    nodes.push(replacement);
    const code = await authorizeAcross(replacement.url, two, "bob");
    const tokens = await redeem(three, code);
    expect(tokens.status).toBe(200);
    const again = await post(mcp(replacement.url), toolCall(3, "whoami"), on(id));
    expect(JSON.stringify(await new SseReader(again).messages())).toContain("#4 alice");
    // Ending the session on one instance ends it on all.
    expect((await fetch(mcp(three), { method: "DELETE", headers: on(id) })).status).toBe(200);
    const ended = await post(mcp(two), toolCall(4, "whoami"), on(id));
    expect(ended.status).toBe(404);
    expect(await ended.json()).toMatchObject({
      error: { message: expect.stringContaining("ended") },
    });
  });
});
