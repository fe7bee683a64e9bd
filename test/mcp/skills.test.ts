/**
 * The Skills extension (SEP-2640) end to end: serveSkills on a real server over loopback,
 * our client's Skills against it (list, get, load with verification, read, directories), and
 * a front that tampers with what the server sends, to show the client refuses it.
 */
import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { McpClient, SkillError, Skills } from "../../src/client/index.ts";
import {
  ErrorCode,
  FrontmatterError,
  McpServer,
  mcpApp,
  parseFrontmatter,
  SKILLS_EXTENSION,
  serveSkills,
} from "../../src/index.ts";
import { listen } from "../helpers/http.ts";

const SKILL_MD = [
  "---",
  "name: pdf-processing",
  "description: Extract, fill, and assemble PDF documents",
  "license: Apache-2.0",
  "metadata:",
  '  version: "2.1.0"',
  "---",
  "",
  "Fill forms with references/FORMS.md.",
  "",
].join("\n");
const FORMS = "# Forms — ünïcode counts in bytes\n";

function server(options: { directoryRead?: boolean } = {}) {
  const mcp = new McpServer({ name: "skills", version: "1.0.0", pageSize: 1 });
  serveSkills(mcp, {
    ...options,
    skills: [
      {
        path: "pdf-processing",
        files: {
          "SKILL.md": SKILL_MD,
          "references/FORMS.md": FORMS,
          "templates/regional/eu.md": "# EU\n",
        },
      },
      {
        path: "acme/billing/refunds",
        files: { "SKILL.md": "---\nname: refunds\ndescription: Refunds\n---\nBody\n" },
      },
      {
        path: "hidden",
        listed: false,
        files: { "SKILL.md": "---\nname: hidden\ndescription: Not listed\n---\n" },
      },
    ],
  });
  return mcp;
}

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

async function connect(url: string, protocolVersion = "2026-07-28", fetcher?: typeof fetch) {
  const client = new McpClient({ name: "host", version: "1.0.0", protocolVersion });
  await client.connect(url, fetcher ? { fetch: fetcher } : {});
  open.push(client);
  return client;
}

const sha = (text: string) => `sha256:${createHash("sha256").update(text, "utf8").digest("hex")}`;

describe.each(["2026-07-28", "2025-11-25"])("serveSkills and Skills in %s", (version) => {
  it("declares the extension and lists every listed skill with digests and sizes, across pages", async () => {
    const url = `${await listen(mcpApp(server()))}/mcp`;
    const client = await connect(url, version);
    expect(client.extension(SKILLS_EXTENSION)).toEqual({ directoryRead: true });
    expect(client.serverCapabilities?.resources).toBeDefined();
    const entries = await new Skills(client).list();
    expect(entries.map((e) => e.uri)).toEqual([
      "skill://pdf-processing/SKILL.md",
      "skill://acme/billing/refunds/SKILL.md",
    ]);
    const pdf = entries[0]!;
    expect(pdf.frontmatter).toEqual({
      name: "pdf-processing",
      description: "Extract, fill, and assemble PDF documents",
      license: "Apache-2.0",
      metadata: { version: "2.1.0" },
    });
    expect(pdf.resources).toContainEqual({
      uri: "skill://pdf-processing/references/FORMS.md",
      digest: sha(FORMS),
      size: Buffer.byteLength(FORMS),
    });
  });

  it("loads a skill, verified, and reads its files by relative path", async () => {
    const url = `${await listen(mcpApp(server()))}/mcp`;
    const client = await connect(url, version);
    const skills = new Skills(client);
    const skill = await skills.load("skill://pdf-processing/SKILL.md");
    expect(skill.text).toBe(SKILL_MD);
    expect(await skills.read(skill, "references/FORMS.md")).toBe(FORMS);
    // Outside the entry: refused before any request, even a sibling skill's file.
    await expect(skills.read(skill, "../acme/billing/refunds/SKILL.md")).rejects.toMatchObject({
      code: "ERR_SKILL_UNLISTED",
    });
  });

  it("answers skills/get for an unlisted skill and -32602 for what it does not serve", async () => {
    const url = `${await listen(mcpApp(server()))}/mcp`;
    const client = await connect(url, version);
    const skills = new Skills(client);
    expect((await skills.get("skill://hidden/SKILL.md")).frontmatter.name).toBe("hidden");
    await expect(skills.get("skill://nope/SKILL.md")).rejects.toMatchObject({
      code: ErrorCode.InvalidParams,
    });
    await expect(
      client.request("skills/get", { uri: "skill://pdf-processing/references/FORMS.md" }),
    ).rejects.toMatchObject({ code: ErrorCode.InvalidParams });
    await expect(client.request("skills/get", { uri: 42 })).rejects.toMatchObject({
      code: ErrorCode.InvalidParams,
    });
  });

  it("lists a directory's direct children, subdirectories as inode/directory", async () => {
    const url = `${await listen(mcpApp(server()))}/mcp`;
    const client = await connect(url, version);
    const children = await new Skills(client).directory("skill://pdf-processing");
    expect(children).toEqual([
      { uri: "skill://pdf-processing/SKILL.md", name: "SKILL.md", mimeType: "text/markdown" },
      { uri: "skill://pdf-processing/references", name: "references", mimeType: "inode/directory" },
      { uri: "skill://pdf-processing/templates", name: "templates", mimeType: "inode/directory" },
    ]);
    await expect(
      client.request("resources/directory/read", { uri: "skill://pdf-processing/SKILL.md" }),
    ).rejects.toMatchObject({ code: ErrorCode.InvalidParams });
  });
});

describe("the SKILL.md resource and the 2026-07-28 result", () => {
  it("lists SKILL.md with its frontmatter's name and description, and caches skills/list", async () => {
    const url = `${await listen(mcpApp(server()))}/mcp`;
    const client = await connect(url);
    const listed = (await client.listResources()).resources;
    expect(listed[0]).toMatchObject({
      uri: "skill://pdf-processing/SKILL.md",
      name: "pdf-processing",
      description: "Extract, fill, and assemble PDF documents",
      mimeType: "text/markdown",
    });
    const page = await client.request("skills/list");
    expect(page).toMatchObject({ ttlMs: 0, cacheScope: "public" });
    expect(typeof page.nextCursor).toBe("string");
  });

  it("has no resources/directory/read when directoryRead is off", async () => {
    const url = `${await listen(mcpApp(server({ directoryRead: false })))}/mcp`;
    const client = await connect(url);
    expect(client.extension(SKILLS_EXTENSION)).toEqual({});
    await expect(new Skills(client).directory("skill://pdf-processing")).rejects.toMatchObject({
      code: "ERR_SKILL_UNSUPPORTED",
    });
    await expect(
      client.request("resources/directory/read", { uri: "skill://pdf-processing" }),
    ).rejects.toMatchObject({ code: ErrorCode.MethodNotFound });
  });
});

describe("a tampered reply is refused, and the unverified content never used", () => {
  /** A front between client and server that rewrites the SKILL.md text the server sends. */
  function tampering(rewrite: (text: string) => string): typeof fetch {
    return async (input, init) => {
      const response = await fetch(input, init);
      const body = typeof init?.body === "string" ? init.body : "";
      if (!body.includes('"resources/read"') || !body.includes("SKILL.md")) return response;
      const text = await response.text();
      const json = JSON.parse(text.includes("data: ") ? text.split("data: ").at(-1)! : text);
      json.result.contents[0].text = rewrite(json.result.contents[0].text);
      return new Response(JSON.stringify(json), {
        status: response.status,
        headers: { "content-type": "application/json" },
      });
    };
  }

  it.each([
    ["the bytes", (t: string) => t.replace("Fill", "Fail")],
    ["the size", (t: string) => `${t}extra`],
    ["the frontmatter", (t: string) => t.replace("Apache-2.0", "MIT-0")],
  ])("%s", async (_what, rewrite) => {
    const url = `${await listen(mcpApp(server()))}/mcp`;
    const client = await connect(url, "2026-07-28", tampering(rewrite));
    const skills = new Skills(client);
    const [entry] = await skills.list();
    const error = await skills.load(entry!).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SkillError);
    expect((error as SkillError).code).toBe("ERR_SKILL_VERIFICATION");
  });

  it("a frontmatter the digest covers but that differs from the entry (server-side mismatch)", async () => {
    // The front rewrites the frontmatter and the entry's digest and size to match, as a
    // gateway could: the comparison with the entry's frontmatter still refuses it.
    const bad = SKILL_MD.replace("Apache-2.0", "MIT-0");
    const url = `${await listen(mcpApp(server()))}/mcp`;
    const client = await connect(
      url,
      "2026-07-28",
      tampering(() => bad),
    );
    const skills = new Skills(client);
    const [entry] = await skills.list();
    const resources = (entry!.resources as { uri: string; digest: string; size: number }[]).map(
      (f) => (f.uri === entry!.uri ? { ...f, digest: sha(bad), size: Buffer.byteLength(bad) } : f),
    );
    await expect(skills.load({ ...entry!, resources })).rejects.toMatchObject({
      code: "ERR_SKILL_VERIFICATION",
    });
  });
});

describe("registration is checked at once", () => {
  const make = (path: string, files: Record<string, string>) => () =>
    serveSkills(new McpServer({ name: "x", version: "1.0.0" }), { skills: [{ path, files }] });
  const md = (name: string) => `---\nname: ${name}\ndescription: d\n---\n`;

  it.each([
    ["a name that is not the last segment", make("a/b", { "SKILL.md": md("a") })],
    ["a name breaking the rules", make("Bad--Name", { "SKILL.md": md("Bad--Name") })],
    ["no SKILL.md", make("x", { "README.md": "hi" })],
    ["no description", make("x", { "SKILL.md": "---\nname: x\n---\n" })],
    ["a path escaping the skill", make("x", { "SKILL.md": md("x"), "../y.md": "" })],
    ["unsupported YAML", make("x", { "SKILL.md": "---\nname: x\ndescription: [a]\n---\n" })],
  ])("refuses %s", (_what, register) => {
    expect(register).toThrow(TypeError);
  });
});

describe("parseFrontmatter", () => {
  it("reads mappings, sequences and core-schema scalars, and refuses what it does not know", () => {
    expect(
      parseFrontmatter(
        "---\nname: a\nn: 3\nok: true\nnone: ~\nq: 'it''s'\nlist:\n  - x\n  - 'y'\nmeta:\n  k: \"v\"\n---\nbody",
      ),
    ).toEqual({
      name: "a",
      n: 3,
      ok: true,
      none: null,
      q: "it's",
      list: ["x", "y"],
      meta: { k: "v" },
    });
    expect(parseFrontmatter('---\na: "x # y" # comment\nb: c#d\nc: it\'s # gone\n---\n')).toEqual({
      a: "x # y",
      b: "c#d",
      c: "it's",
    });
    expect(() => parseFrontmatter("no frontmatter")).toThrow(FrontmatterError);
    expect(() => parseFrontmatter("---\na: 1\n")).toThrow(FrontmatterError);
    expect(() => parseFrontmatter("---\na: &anchor 1\n---\n")).toThrow(FrontmatterError);
    expect(() => parseFrontmatter("---\na: 1\na: 2\n---\n")).toThrow(FrontmatterError);
  });
});
