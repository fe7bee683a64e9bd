/**
 * What upstreams announce, to whom, and for how long: a caller's unsubscribe (2025) or the end
 * of its listen stream (2026-07-28) lets go of the upstream subscription once no caller of that
 * connection holds it (counted), and a per-user upstream's updates reach only its own user,
 * never another, against the reference "everything" server over stdio.
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { Gateway } from "../../src/gateway/index.ts";
import { StdioClientTransport } from "../../src/node/index.ts";
import { until } from "../helpers/async.ts";
import { EVERYTHING, signedIn, spawning, startGateway } from "./support.ts";

const growing = fileURLToPath(new URL("../fixtures/growing-server.ts", import.meta.url));
const root = fileURLToPath(new URL("../..", import.meta.url));

const DOC = "demo://resource/static/document/features.md";
const texts = (result: { content: unknown[] }) =>
  result.content.map((block) => (block as { text?: string }).text ?? "").join("\n");
const statusOf = (gw: Gateway, name: string) => gw.status().find((u) => u.name === name)!;

describe("releasing upstream subscriptions", () => {
  for (const protocolVersion of ["2025-11-25", "2026-07-28"]) {
    it(`unsubscribes upstream when the last caller lets go (${protocolVersion})`, async () => {
      const { gw, base } = await startGateway({
        upstreams: [{ name: "everything", transport: spawning([EVERYTHING, "stdio"]).transport }],
      });
      const uri = `everything+${DOC}`;
      const alice = (await signedIn(base, { user: "alice", protocolVersion })).client;
      const bob = (await signedIn(base, { user: "bob", protocolVersion })).client;
      await alice.subscribe(uri);
      await bob.subscribe(uri);
      // Two callers, one subscription upstream.
      expect(statusOf(gw, "everything").subscriptions).toBe(1);
      await alice.unsubscribe(uri);
      // Bob still needs it: nothing changes upstream. (A 2026-07-28 unsubscribe ends alice's
      // listen stream; her other subscriptions would open a new one.)
      await bob.ping();
      expect(statusOf(gw, "everything").subscriptions).toBe(1);
      await bob.unsubscribe(uri);
      await until(() => statusOf(gw, "everything").subscriptions === 0);
      // Subscribing again subscribes upstream again.
      await alice.subscribe(uri);
      expect(statusOf(gw, "everything").subscriptions).toBe(1);
    });
  }

  it("lets go when a 2025 session ends without unsubscribing", async () => {
    const { gw, base } = await startGateway({
      upstreams: [{ name: "everything", transport: spawning([EVERYTHING, "stdio"]).transport }],
    });
    const uri = `everything+${DOC}`;
    const alice = (await signedIn(base, { user: "alice", protocolVersion: "2025-11-25" })).client;
    const bob = (await signedIn(base, { user: "bob", protocolVersion: "2025-11-25" })).client;
    await alice.subscribe(uri);
    await bob.subscribe(uri);
    // Closing ends the session (DELETE); alice never unsubscribed.
    await alice.close();
    await bob.ping();
    expect(statusOf(gw, "everything").subscriptions).toBe(1);
    await bob.close();
    await until(() => statusOf(gw, "everything").subscriptions === 0);
  });
});

describe("a per-user upstream's announcements", () => {
  for (const protocolVersion of ["2025-11-25", "2026-07-28"]) {
    it(`reach its own user only (${protocolVersion})`, async () => {
      const everything = spawning([EVERYTHING, "stdio"]);
      const { gw, base } = await startGateway({
        upstreams: [{ name: "mine", transport: everything.transport, isolation: "per-user" }],
      });
      const uri = `mine+${DOC}`;
      const heard = { alice: [] as string[], bob: [] as string[] };
      const alice = (
        await signedIn(base, {
          user: "alice",
          protocolVersion,
          onResourceUpdated: (updated) => heard.alice.push(updated),
        })
      ).client;
      const bob = (
        await signedIn(base, {
          user: "bob",
          protocolVersion,
          onResourceUpdated: (updated) => heard.bob.push(updated),
        })
      ).client;
      // Both subscribe to the same published URI, each on their own upstream process.
      await alice.subscribe(uri);
      await bob.subscribe(uri);
      expect(statusOf(gw, "mine")).toMatchObject({ instances: 2, subscriptions: 2 });

      // Alice's upstream announces (one update at once, then one every 5 s while on).
      expect(texts(await alice.callTool("mine_toggle-subscriber-updates"))).toContain("Started");
      await until(() => heard.alice.length > 0, 10_000);
      expect(heard.alice[0]).toBe(uri);
      expect(texts(await alice.callTool("mine_toggle-subscriber-updates"))).toContain("Stopped");

      // Bob's own upstream announces after alice's did. Each caller's notifications arrive in
      // the order the gateway sent them, so once bob hears his own, anything of alice's that
      // reached him would be here already: he heard exactly one, his.
      expect(texts(await bob.callTool("mine_toggle-subscriber-updates"))).toContain("Started");
      await until(() => heard.bob.length > 0, 10_000);
      expect(texts(await bob.callTool("mine_toggle-subscriber-updates"))).toContain("Stopped");
      expect(heard.bob).toEqual([uri]);
      expect(heard.alice.length).toBeGreaterThan(0);
    });
  }

  for (const protocolVersion of ["2025-11-25", "2026-07-28"]) {
    it(`tell only its own user that its tools changed (${protocolVersion})`, async () => {
      const { base } = await startGateway({
        upstreams: [
          {
            name: "mine",
            isolation: "per-user",
            transport: () =>
              new StdioClientTransport({
                command: process.execPath,
                args: ["--import", "tsx", growing],
                cwd: root,
                stderr: "ignore",
              }),
          },
        ],
      });
      const heard = { alice: { tools: 0, prompts: 0 }, bob: { tools: 0, prompts: 0 } };
      const join = async (user: "alice" | "bob") =>
        (
          await signedIn(base, {
            user,
            protocolVersion,
            onToolsChanged: () => heard[user].tools++,
            onPromptsChanged: () => heard[user].prompts++,
          })
        ).client;
      const alice = await join("alice");
      const bob = await join("bob");
      // Each user's first call opens their own upstream process.
      expect(texts(await bob.callTool("mine_grow"))).toBe("now 1");
      await until(() => heard.bob.tools === 1);
      expect(texts(await alice.callTool("mine_grow"))).toBe("now 1");
      await until(() => heard.alice.tools === 1);
      // Bob's upstream announces after alice's did, on the same stream to bob: once he hears it,
      // anything of alice's that reached him would be here already.
      expect(texts(await bob.callTool("mine_grow-prompts"))).toBe("now 1");
      await until(() => heard.bob.prompts === 1);
      expect(heard).toEqual({ alice: { tools: 1, prompts: 0 }, bob: { tools: 1, prompts: 1 } });
    });
  }
});
