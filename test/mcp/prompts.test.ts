import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ErrorCode, McpError, McpServer } from "../../src/index.ts";
import { error, result } from "./support.ts";

function server(): McpServer {
  return new McpServer({ name: "prompts", version: "1.0.0" });
}

describe("prompts/list", () => {
  it("publishes zod args as arguments with required and description", async () => {
    const mcp = server();
    mcp.prompt(
      "review",
      {
        title: "Review",
        description: "Review code",
        args: z.object({
          code: z.string().describe("The code to review"),
          language: z.string().optional().describe("Its language"),
          tone: z.string().default("kind"),
        }),
        icons: [{ src: "https://example.com/r.svg" }],
        _meta: { category: "dev" },
      },
      ({ code }) => code,
    );
    expect((await result(mcp, "prompts/list")).prompts).toEqual([
      {
        name: "review",
        title: "Review",
        description: "Review code",
        arguments: [
          { name: "code", required: true, description: "The code to review" },
          { name: "language", required: false, description: "Its language" },
          { name: "tone", required: false },
        ],
        icons: [{ src: "https://example.com/r.svg" }],
        _meta: { category: "dev" },
      },
    ]);
  });

  it("leaves `arguments` out for a prompt without args", async () => {
    const mcp = server();
    mcp.prompt("hello", {}, () => "hi");
    expect((await result(mcp, "prompts/list")).prompts).toEqual([{ name: "hello" }]);
  });
});

describe("prompts/get", () => {
  it("turns a string into one user text message, with the description", async () => {
    const mcp = server();
    mcp.prompt("hello", { description: "Greets" }, () => "Say hello");
    mcp.prompt("bare", {}, () => "Just this");
    expect(await result(mcp, "prompts/get", { name: "hello" })).toEqual({
      description: "Greets",
      messages: [{ role: "user", content: { type: "text", text: "Say hello" } }],
    });
    expect(await result(mcp, "prompts/get", { name: "bare" })).toEqual({
      messages: [{ role: "user", content: { type: "text", text: "Just this" } }],
    });
  });

  it("turns string contents into text blocks and keeps content blocks", async () => {
    const mcp = server();
    const image = { type: "image" as const, data: "AAAA", mimeType: "image/png" };
    const resource = {
      type: "resource" as const,
      resource: { uri: "notes://1", text: "note", mimeType: "text/plain" },
    };
    mcp.prompt(
      "convo",
      { description: "A conversation", args: z.object({ topic: z.string() }) },
      ({ topic }) => [
        { role: "user", content: `Tell me about ${topic}` },
        { role: "assistant", content: image },
        { role: "user", content: resource },
      ],
    );
    expect(
      await result(mcp, "prompts/get", { name: "convo", arguments: { topic: "owls" } }),
    ).toEqual({
      description: "A conversation",
      messages: [
        { role: "user", content: { type: "text", text: "Tell me about owls" } },
        { role: "assistant", content: image },
        { role: "user", content: resource },
      ],
    });
  });

  it("passes a full GetPromptResult through", async () => {
    const mcp = server();
    const full = {
      description: "custom",
      messages: [{ role: "assistant" as const, content: { type: "text" as const, text: "x" } }],
      _meta: { v: 1 },
    };
    mcp.prompt("full", { description: "configured" }, () => full);
    expect(await result(mcp, "prompts/get", { name: "full" })).toEqual(full);
  });

  it("hands parsed arguments (with defaults) and a context to the handler", async () => {
    const mcp = server();
    let seen: unknown[] = [];
    mcp.prompt(
      "p",
      { args: z.object({ a: z.string(), b: z.string().default("dflt") }) },
      (args, ctx) => {
        seen = [args, ctx.method];
        return "ok";
      },
    );
    await result(mcp, "prompts/get", { name: "p", arguments: { a: "x" } });
    expect(seen).toEqual([{ a: "x", b: "dflt" }, "prompts/get"]);
  });

  it("answers invalid or missing arguments with -32602 naming them", async () => {
    const mcp = server();
    let ran = false;
    mcp.prompt("p", { args: z.object({ topic: z.string(), style: z.enum(["a", "b"]) }) }, () => {
      ran = true;
      return "x";
    });
    const missing = await error(mcp, "prompts/get", { name: "p", arguments: { style: "a" } });
    expect(missing.code).toBe(ErrorCode.InvalidParams);
    expect(missing.message).toMatch(/^Invalid arguments for prompt "p": /);
    expect(missing.message).toContain("topic");
    const wrong = await error(mcp, "prompts/get", {
      name: "p",
      arguments: { topic: "t", style: "c" },
    });
    expect(wrong.code).toBe(ErrorCode.InvalidParams);
    expect(wrong.message).toContain("style");
    const none = await error(mcp, "prompts/get", { name: "p" });
    expect(none.code).toBe(ErrorCode.InvalidParams);
    expect(ran).toBe(false);
  });

  it("answers an unknown or disabled prompt with -32602", async () => {
    const mcp = server();
    mcp.prompt("off", {}, () => "x").disable();
    expect(await error(mcp, "prompts/get", { name: "nope" })).toEqual({
      code: ErrorCode.InvalidParams,
      message: "Unknown prompt: nope",
    });
    expect((await error(mcp, "prompts/get", { name: "off" })).code).toBe(ErrorCode.InvalidParams);
    expect((await error(mcp, "prompts/get", {})).code).toBe(ErrorCode.InvalidParams);
  });

  it("lets an McpError through and hides other failures", async () => {
    const mcp = server();
    mcp.prompt("mcp", {}, () => {
      throw new McpError(ErrorCode.InvalidParams, "bad topic");
    });
    mcp.prompt("boom", {}, () => {
      throw new Error("internal detail");
    });
    expect(await error(mcp, "prompts/get", { name: "mcp" })).toEqual({
      code: ErrorCode.InvalidParams,
      message: "bad topic",
    });
    expect(await error(mcp, "prompts/get", { name: "boom" })).toEqual({
      code: ErrorCode.InternalError,
      message: "Internal error",
      data: { errorId: expect.stringMatching(/^[0-9a-f-]{36}$/) },
    });
  });
});

describe("prompt handles", () => {
  it("refuse a duplicate name", () => {
    const mcp = server();
    mcp.prompt("p", {}, () => "a");
    expect(() => mcp.prompt("p", {}, () => "b")).toThrow(/already registered/);
  });

  it("update(), disable(), enable() and remove()", async () => {
    const mcp = server();
    const prompt = mcp.prompt("p", { description: "old" }, () => "old");
    prompt.update({ description: "new", args: z.object({ q: z.string() }) }, () => "new");
    expect((await result(mcp, "prompts/list")).prompts).toEqual([
      { name: "p", description: "new", arguments: [{ name: "q", required: true }] },
    ]);
    expect(await result(mcp, "prompts/get", { name: "p", arguments: { q: "x" } })).toMatchObject({
      messages: [{ content: { text: "new" } }],
    });
    prompt.disable();
    expect((await result(mcp, "prompts/list")).prompts).toEqual([]);
    prompt.enable();
    expect((await result(mcp, "prompts/list")).prompts).toHaveLength(1);
    prompt.remove();
    expect((await result(mcp, "prompts/list")).prompts).toEqual([]);
    expect((await error(mcp, "prompts/get", { name: "p" })).code).toBe(ErrorCode.InvalidParams);
  });
});
