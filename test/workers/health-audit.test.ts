/**
 * In workerd: the demo Worker answers its probes (the Durable Object Store checked), and an
 * asynchronous audit sink is kept alive with waitUntil, never awaited by the response.
 */
import { createExecutionContext, SELF, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { AuditEvent } from "../../src/auth/index.ts";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import { memoryStore } from "../../src/storage/index.ts";

describe("probes and audit in workerd", () => {
  it("the Worker's /readyz checks its Durable Object Store; /healthz answers", async () => {
    expect(navigator.userAgent).toBe("Cloudflare-Workers");
    const ready = await SELF.fetch("http://localhost/readyz");
    expect(ready.status).toBe(200);
    expect(ready.headers.get("cache-control")).toBe("no-store");
    expect(await ready.json()).toEqual({ status: "ok", checks: { store: { status: "ok" } } });
    const live = await SELF.fetch("http://localhost/healthz", { method: "HEAD" });
    expect(live.status).toBe(200);
  });

  it("an asynchronous sink runs on after the response, under waitUntil", async () => {
    const events: AuditEvent[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const as = authorizationServer({
      store: memoryStore(),
      login: devLogin({ force: true }),
      issuer: "http://localhost",
      audit: async (event) => {
        await gate;
        events.push(event);
      },
    });
    const ctx = createExecutionContext();
    const response = await as.app.fetch(
      new Request("http://localhost/register", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          redirect_uris: ["http://127.0.0.1:9/cb"],
          token_endpoint_auth_method: "none",
        }),
      }),
      {},
      ctx,
    );
    // The response came while the sink still waits.
    expect(response.status).toBe(201);
    expect(events).toEqual([]);
    let waited = false;
    const drained = waitOnExecutionContext(ctx).then(() => {
      waited = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(waited).toBe(false);
    release();
    await drained;
    expect(events.map((event) => event.type)).toEqual(["client.registered"]);
  });
});
