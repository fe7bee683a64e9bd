/**
 * The gateway in front of real third-party servers from npm, started by the test over stdio:
 * our client signs in through the built-in authorization server, lists and calls tools,
 * answers an upstream's elicitation in either era, and steps up for a per-tool scope.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { JsonObject } from "../../src/mcp/types.ts";
import { messagesOf, post } from "../helpers/http.ts";
import {
  accessToken,
  EVERYTHING,
  FILESYSTEM,
  postToolCall,
  signedIn,
  spawning,
  startGateway,
  tempDir,
} from "./support.ts";

const dir = tempDir();
let base: string;

beforeAll(async () => {
  ({ base } = await startGateway({
    upstreams: [
      { name: "everything", transport: spawning([EVERYTHING, "stdio"]).transport },
      {
        name: "fs",
        transport: spawning([FILESYSTEM, dir]).transport,
        scopes: { write_file: ["fs:write"] },
      },
    ],
  }));
}, 60_000);

const texts = (result: { content: unknown[] }) =>
  result.content.map((block) => (block as { text?: string }).text ?? "").join("\n");

describe("the gateway in front of stdio servers", () => {
  it("publishes each upstream's tools under its name and forwards calls", async () => {
    const { client } = await signedIn(base, { narrowScope: () => "" });
    expect(client.protocolVersion).toBe("2026-07-28");
    const names: string[] = [];
    for await (const tool of client.tools()) names.push(tool.name);
    expect(names).toContain("everything_echo");
    expect(names).toContain("everything_get-sum");
    expect(names).toContain("fs_read_text_file");
    // Needs a scope the token does not carry: left out of the list.
    expect(names).not.toContain("fs_write_file");
    expect(names).not.toContain("echo");

    const echoed = await client.callTool("everything_echo", { message: "through the gate" });
    expect(texts(echoed)).toContain("through the gate");
    const sum = await client.callTool("everything_get-sum", { a: 2, b: 40 });
    expect(texts(sum)).toContain("42");
  });

  it("checks arguments against the upstream's schema before forwarding", async () => {
    const { client } = await signedIn(base);
    const refused = await client.callTool("everything_get-sum", { a: "two", b: 40 });
    expect(refused.isError).toBe(true);
    expect(texts(refused)).toContain("a: expected number");
  });

  it("refuses a per-tool scope with 403, then the client steps up and writes", async () => {
    let narrow: string | undefined = "";
    const { client, authorizations } = await signedIn(base, { narrowScope: () => narrow });
    narrow = undefined;
    const written = await client.callTool("fs_write_file", {
      path: join(dir, "note.txt"),
      content: "written through the gateway",
    });
    expect(written.isError).toBeFalsy();
    expect(readFileSync(join(dir, "note.txt"), "utf8")).toBe("written through the gateway");
    expect(authorizations).toHaveLength(2);
    expect(authorizations[1]!.searchParams.get("scope")?.split(" ")).toContain("fs:write");
    const read = await client.callTool("fs_read_text_file", { path: join(dir, "note.txt") });
    expect(texts(read)).toContain("written through the gateway");
  });

  it("refuses the scoped tool over raw HTTP with 403 insufficient_scope", async () => {
    const token = await accessToken(base, "");
    const response = await postToolCall(`${base}/mcp`, token, "fs_write_file", {
      path: join(dir, "refused.txt"),
      content: "no",
    });
    expect(response.status).toBe(403);
    const challenge = response.headers.get("www-authenticate") ?? "";
    expect(challenge).toContain('error="insufficient_scope"');
    expect(challenge).toContain("fs:write");
    expect(existsSync(join(dir, "refused.txt"))).toBe(false);
  });

  for (const protocolVersion of ["2026-07-28", "2025-11-25"]) {
    it(`carries an upstream's elicitation to a ${protocolVersion} client and back`, async () => {
      const asked: JsonObject[] = [];
      const { client } = await signedIn(base, {
        protocolVersion: protocolVersion === "2026-07-28" ? "auto" : protocolVersion,
        handlers: {
          elicitation: (request) => {
            asked.push(request as unknown as JsonObject);
            return { action: "accept", content: { name: "Ada Lovelace", check: true } };
          },
        },
      });
      expect(client.protocolVersion).toBe(protocolVersion);
      const result = await client.callTool("everything_trigger-elicitation-request", {});
      expect(asked).toHaveLength(1);
      expect(asked[0]).toMatchObject({ mode: "form" });
      expect(JSON.stringify(asked[0]!.requestedSchema)).toContain("Your full, legal name");
      expect(texts(result)).toContain("Name: Ada Lovelace");
      expect(texts(result)).toContain("Agreed to terms: true");
    });
  }
});

describe("prompts and resources through the gateway", () => {
  it("publishes prompts under the upstream's name and forwards prompts/get", async () => {
    const { client } = await signedIn(base);
    const names: string[] = [];
    for await (const prompt of client.prompts()) names.push(prompt.name);
    expect(names).toContain("everything_simple-prompt");
    const got = await client.getPrompt("everything_simple-prompt");
    expect(got.messages.length).toBeGreaterThan(0);
  });

  it("publishes resource URIs as <name>+<uri> and reads them upstream", async () => {
    const { client } = await signedIn(base);
    const templates: string[] = [];
    for await (const template of client.resourceTemplates()) templates.push(template.uriTemplate);
    const text = templates.find((t) => t.startsWith("everything+demo://resource/dynamic/text"));
    expect(text, templates.join(", ")).toBeDefined();
    const uri = text!.replace(/\{[^}]+\}/, "7");
    const read = await client.readResource(uri);
    expect(read.contents[0]?.uri).toBe(uri);
    expect(JSON.stringify(read.contents[0])).toContain("7");
    const missing = await client
      .readResource("elsewhere+demo://resource/dynamic/text/7")
      .catch((error: unknown) => error);
    expect(missing).toMatchObject({ code: expect.any(Number) });
  });
});

describe("a parked upstream call (2026-07-28 input rounds)", () => {
  const call = (token: string, params: JsonObject) =>
    post(
      `${base}/mcp`,
      {
        jsonrpc: "2.0",
        id: 1,
        method: "tools/call",
        params: {
          name: "everything_trigger-elicitation-request",
          arguments: {},
          ...params,
          _meta: {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
            "io.modelcontextprotocol/clientCapabilities": { elicitation: { form: {} } },
          },
        },
      },
      {
        authorization: `Bearer ${token}`,
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/call",
        "mcp-name": "everything_trigger-elicitation-request",
      },
    ).then(async (response) => (await messagesOf(response))[0] as JsonObject);

  it("is resumed only by its own caller's retry", async () => {
    const alice = await accessToken(base, "");
    const mallory = await accessToken(base, "", "mallory");
    const first = (await call(alice, {})).result as JsonObject;
    expect(first.resultType).toBe("input_required");
    const [key] = Object.keys(first.inputRequests as JsonObject);
    // A 2025 upstream names no key: its questions are numbered along the call.
    expect(key).toBe("input-1");
    const answer = { [key!]: { action: "accept", content: { name: "Alice" } } };

    // Another caller with the sealed state cannot answer Alice's upstream call.
    const stolen = await call(mallory, {
      inputResponses: answer,
      requestState: first.requestState,
    });
    expect(stolen.error).toMatchObject({ code: -32602 });
    // Without it, the same answers only start (and answer) a call of Mallory's own.
    const forged = (await call(mallory, { inputResponses: { [key!]: answer[key!] } }))
      .result as JsonObject;
    expect(forged.resultType).toBe("complete");

    const done = (await call(alice, { inputResponses: answer, requestState: first.requestState }))
      .result as { content: { text: string }[] };
    expect(done.content.map((c) => c.text).join("\n")).toContain("Name: Alice");
  });
});
