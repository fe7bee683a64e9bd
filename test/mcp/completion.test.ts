import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ErrorCode, McpServer } from "../../src/index.ts";
import { completionResult } from "../../src/mcp/completion.ts";
import { error, result } from "./support.ts";

const LANGUAGES = ["python", "perl", "php", "rust", "ruby"];

function server(): McpServer {
  const mcp = new McpServer({ name: "completion", version: "1.0.0" });
  mcp.prompt(
    "review",
    {
      args: z.object({ language: z.string(), framework: z.string().optional() }),
      complete: {
        language: (value) => LANGUAGES.filter((l) => l.startsWith(value)),
        framework: (value, { arguments: args }) =>
          (args.language === "python" ? ["django", "flask"] : ["rails"]).filter((f) =>
            f.startsWith(value),
          ),
      },
    },
    () => "x",
  );
  mcp.resource(
    "repos://{owner}/{repo}",
    {
      complete: {
        owner: async (value) => ["ann", "anna", "bob"].filter((o) => o.startsWith(value)),
        repo: (value, { arguments: args }) =>
          (args.owner === "ann" ? ["alpha", "beta"] : ["gamma"]).filter((r) => r.startsWith(value)),
      },
    },
    () => "",
  );
  mcp.resource(
    "many://{n}",
    { complete: { n: () => Array.from({ length: 250 }, (_, i) => `v${i}`) } },
    () => "",
  );
  return mcp;
}

const complete = (mcp: McpServer, params: Record<string, unknown>) =>
  result(mcp, "completion/complete", params);

describe("completionResult", () => {
  it("caps values at 100 and reports total and hasMore", () => {
    const values = Array.from({ length: 101 }, (_, i) => String(i));
    const capped = completionResult(values).completion;
    expect(capped.values).toHaveLength(100);
    expect(capped.values.at(-1)).toBe("99");
    expect(capped.total).toBe(101);
    expect(capped.hasMore).toBe(true);
    expect(completionResult(values.slice(0, 100)).completion).toMatchObject({
      total: 100,
      hasMore: false,
    });
    expect(completionResult([])).toEqual({ completion: { values: [], total: 0, hasMore: false } });
  });
});

describe("completion/complete", () => {
  it("completes a prompt argument", async () => {
    expect(
      await complete(server(), {
        ref: { type: "ref/prompt", name: "review" },
        argument: { name: "language", value: "p" },
      }),
    ).toEqual({ completion: { values: ["python", "perl", "php"], total: 3, hasMore: false } });
  });

  it("passes context.arguments to a prompt completer", async () => {
    const mcp = server();
    const params = {
      ref: { type: "ref/prompt", name: "review" },
      argument: { name: "framework", value: "" },
    };
    expect(
      await complete(mcp, { ...params, context: { arguments: { language: "python" } } }),
    ).toMatchObject({ completion: { values: ["django", "flask"] } });
    expect(await complete(mcp, params)).toMatchObject({ completion: { values: ["rails"] } });
  });

  it("completes a template variable, with context.arguments", async () => {
    const mcp = server();
    const ref = { type: "ref/resource", uri: "repos://{owner}/{repo}" };
    expect(await complete(mcp, { ref, argument: { name: "owner", value: "an" } })).toEqual({
      completion: { values: ["ann", "anna"], total: 2, hasMore: false },
    });
    expect(
      await complete(mcp, {
        ref,
        argument: { name: "repo", value: "" },
        context: { arguments: { owner: "ann" } },
      }),
    ).toMatchObject({ completion: { values: ["alpha", "beta"] } });
  });

  it("caps a long list at 100 values with the total and hasMore", async () => {
    const answer = await complete(server(), {
      ref: { type: "ref/resource", uri: "many://{n}" },
      argument: { name: "n", value: "" },
    });
    const completion = answer.completion as { values: string[]; total: number; hasMore: boolean };
    expect(completion.values).toHaveLength(100);
    expect(completion.values[0]).toBe("v0");
    expect(completion.total).toBe(250);
    expect(completion.hasMore).toBe(true);
  });

  it("treats a missing value as empty", async () => {
    expect(
      await complete(server(), {
        ref: { type: "ref/prompt", name: "review" },
        argument: { name: "language" },
      }),
    ).toMatchObject({ completion: { total: 5 } });
  });

  it("answers an argument without a completer with no values", async () => {
    expect(
      await complete(server(), {
        ref: { type: "ref/prompt", name: "review" },
        argument: { name: "unknown", value: "x" },
      }),
    ).toEqual({ completion: { values: [], total: 0, hasMore: false } });
  });

  it("hands the request context to the completer", async () => {
    const mcp = new McpServer({ name: "c", version: "1" });
    mcp.prompt("p", { complete: { a: (_v, { ctx }) => [ctx.method] } }, () => "");
    expect(
      await complete(mcp, { ref: { type: "ref/prompt", name: "p" }, argument: { name: "a" } }),
    ).toMatchObject({ completion: { values: ["completion/complete"] } });
  });

  it("answers bad requests with -32602, and an unknown resource with -32002", async () => {
    const mcp = server();
    const argument = { name: "x", value: "" };
    expect(
      (
        await error(mcp, "completion/complete", {
          ref: { type: "ref/prompt", name: "nope" },
          argument,
        })
      ).code,
    ).toBe(ErrorCode.InvalidParams);
    expect(
      (await error(mcp, "completion/complete", { ref: { type: "ref/other" }, argument })).code,
    ).toBe(ErrorCode.InvalidParams);
    expect((await error(mcp, "completion/complete", { argument })).code).toBe(
      ErrorCode.InvalidParams,
    );
    expect(
      (
        await error(mcp, "completion/complete", {
          ref: { type: "ref/prompt", name: "review" },
          argument: { value: "p" },
        })
      ).code,
    ).toBe(ErrorCode.InvalidParams);
    const unknown = await error(mcp, "completion/complete", {
      ref: { type: "ref/resource", uri: "nothing://{x}" },
      argument,
    });
    expect(unknown).toMatchObject({
      code: ErrorCode.ResourceNotFound,
      data: { uri: "nothing://{x}" },
    });
  });
});
