import { describe, expect, it } from "vitest";
import { UriTemplate } from "../../src/mcp/uri-template.ts";

const match = (template: string, uri: string) => new UriTemplate(template).match(uri);
const expand = (template: string, variables: Record<string, string | undefined>) =>
  new UriTemplate(template).expand(variables);

describe("UriTemplate parsing", () => {
  it("tells templates from plain URIs", () => {
    expect(UriTemplate.isTemplate("notes://{id}")).toBe(true);
    expect(UriTemplate.isTemplate("search{?q}")).toBe(true);
    expect(UriTemplate.isTemplate("notes://all")).toBe(false);
    expect(UriTemplate.isTemplate("notes://{}")).toBe(false);
  });

  it("lists variable names without explode or prefix modifiers, in order", () => {
    const template = new UriTemplate("x://{a}{/path*}{;p,q:3}{?r,s}{&t}");
    expect(template.variableNames).toEqual(["a", "path", "p", "q", "r", "s", "t"]);
  });

  it("rejects unclosed expressions and invalid variable names", () => {
    expect(() => new UriTemplate("notes://{id")).toThrow(TypeError);
    expect(() => new UriTemplate("notes://{i d}")).toThrow(/Invalid variable/);
    expect(() => new UriTemplate("notes://{id-x}")).toThrow(/Invalid variable/);
  });
});

describe("UriTemplate.match", () => {
  it("{var}: one segment, up to the next delimiter", () => {
    expect(match("notes://{id}", "notes://42")).toEqual({ id: "42" });
    expect(match("users://{user}/notes/{id}", "users://ann/notes/7")).toEqual({
      user: "ann",
      id: "7",
    });
    expect(match("notes://{id}", "notes://a/b")).toBeUndefined();
  });

  it("{var}: keeps unreserved characters such as '.', '-', '_' and '~'", () => {
    expect(match("file:///{name}", "file:///readme.md")).toEqual({ name: "readme.md" });
    expect(match("file:///{name}", "file:///a-b_c~d")).toEqual({ name: "a-b_c~d" });
  });

  it("{var}: round-trips what expand produces", () => {
    const template = new UriTemplate("notes://{id}");
    for (const id of ["v1.2.3", "a b", "x/y", "100%", "ünï", "a?b#c"]) {
      expect(template.match(template.expand({ id }))).toEqual({ id });
    }
  });

  it("{var}: an empty value is an empty string, not a missing variable", () => {
    expect(match("notes://{id}", "notes://")).toEqual({ id: "" });
    expect(match("files{/dir}", "files/")).toEqual({ dir: "" });
    expect(match("files{/dir}", "files")).toEqual({});
  });

  it("{x,y}: comma-separated simple values", () => {
    expect(match("point://{x,y}", "point://3,4")).toEqual({ x: "3", y: "4" });
  });

  it("{+var}: reserved expansion keeps '/' in the value", () => {
    expect(match("file://{+path}", "file:///etc/hosts")).toEqual({ path: "/etc/hosts" });
    expect(match("{+path}/here", "/foo/bar/here")).toEqual({ path: "/foo/bar" });
  });

  it("{#var}: fragment expansion", () => {
    expect(match("doc://page{#section}", "doc://page#intro/part-1")).toEqual({
      section: "intro/part-1",
    });
    expect(match("doc://page{#section}", "doc://page")).toEqual({});
  });

  it("{.var}: label expansion, '.' separated", () => {
    expect(match("file://name{.ext}", "file://name.txt")).toEqual({ ext: "txt" });
    expect(match("host://www{.a,b}", "host://www.example.com")).toEqual({
      a: "example",
      b: "com",
    });
  });

  it("{/var}: one path segment", () => {
    expect(match("files{/dir}", "files/docs")).toEqual({ dir: "docs" });
    expect(match("files{/dir}", "files/a.txt")).toEqual({ dir: "a.txt" });
    expect(match("files{/dir}", "files/docs/more")).toBeUndefined();
  });

  it("{/var*}: an exploded path spans segments and comes back as one string", () => {
    expect(match("files{/path*}", "files/a")).toEqual({ path: "a" });
    expect(match("files{/path*}", "files/a/b/c.txt")).toEqual({ path: "a/b/c.txt" });
    expect(match("files{/path*}", "files")).toEqual({});
  });

  it("{;x,y}: path-style parameters, named, with an empty value as a bare name", () => {
    expect(match("map{;x,y}", "map;x=1024;y=768")).toEqual({ x: "1024", y: "768" });
    expect(match("map{;x,y}", "map;y=768;x=1024")).toEqual({ x: "1024", y: "768" });
    expect(match("map{;x,y}", "map;x")).toEqual({ x: "" });
  });

  it("{;x}{?q}: path parameters end where the query begins", () => {
    expect(match("map{;x,y}{?q}", "map;x=1;y=2?q=3")).toEqual({ x: "1", y: "2", q: "3" });
  });

  it("{?q,lang}: query parameters may be absent or reordered", () => {
    const template = "search://notes{?q,lang}";
    expect(match(template, "search://notes?q=cat&lang=en")).toEqual({ q: "cat", lang: "en" });
    expect(match(template, "search://notes?lang=en&q=cat")).toEqual({ q: "cat", lang: "en" });
    expect(match(template, "search://notes?q=cat")).toEqual({ q: "cat" });
    expect(match(template, "search://notes")).toEqual({});
  });

  it("{?q,lang}: ignores parameters the template does not name", () => {
    expect(match("search://notes{?q}", "search://notes?q=cat&page=2")).toEqual({ q: "cat" });
  });

  it("{?q}{&lang}: continuation parameters, in either order", () => {
    const template = "search://notes{?q}{&lang}";
    expect(match(template, "search://notes?q=cat&lang=en")).toEqual({ q: "cat", lang: "en" });
    expect(match(template, "search://notes?lang=en&q=cat")).toEqual({ q: "cat", lang: "en" });
  });

  it("{&x}: after a literal query", () => {
    expect(match("search://notes?fixed=1{&x}", "search://notes?fixed=1&x=2")).toEqual({
      x: "2",
    });
  });

  it("percent-decodes values and names", () => {
    expect(match("notes://{id}", "notes://hello%20world")).toEqual({ id: "hello world" });
    expect(match("notes://{id}", "notes://%C3%BC")).toEqual({ id: "ü" });
    expect(match("files{/path*}", "files/a%2Fb/c")).toEqual({ path: "a/b/c" });
    expect(match("search://x{?q}", "search://x?q=a%26b%3Dc")).toEqual({ q: "a&b=c" });
  });

  it("keeps a malformed percent sequence as it is", () => {
    expect(match("notes://{id}", "notes://100%")).toEqual({ id: "100%" });
  });

  it("does not match other URIs", () => {
    expect(match("notes://{id}", "other://42")).toBeUndefined();
    expect(match("notes://{id}/x", "notes://42/y")).toBeUndefined();
    expect(match("notes://{id}", "prefix-notes://42")).toBeUndefined();
    expect(match("notes://{id}", "notes://42?q=1")).toBeUndefined();
    // Literal text is not a pattern.
    expect(match("a.b://{id}", "axb://1")).toBeUndefined();
  });
});

describe("UriTemplate.expand (RFC 6570 examples)", () => {
  const vars = {
    var: "value",
    hello: "Hello World!",
    path: "/foo/bar",
    x: "1024",
    y: "768",
    empty: "",
  };

  it("{var}: encodes everything outside the unreserved set", () => {
    expect(expand("{var}", vars)).toBe("value");
    expect(expand("{hello}", vars)).toBe("Hello%20World%21");
    expect(expand("{x,y}", vars)).toBe("1024,768");
    expect(expand("{path}", vars)).toBe("%2Ffoo%2Fbar");
  });

  it("{+var}: keeps reserved characters and existing percent triplets", () => {
    expect(expand("{+path}/here", vars)).toBe("/foo/bar/here");
    expect(expand("{+hello}", vars)).toBe("Hello%20World!");
    expect(expand("{+v}", { v: "a%20b" })).toBe("a%20b");
    expect(expand("{+v}", { v: "100%" })).toBe("100%25");
  });

  it("{#var}", () => {
    expect(expand("X{#var}", vars)).toBe("X#value");
    expect(expand("{#hello}", vars)).toBe("#Hello%20World!");
  });

  it("{.var}", () => {
    expect(expand("X{.var}", vars)).toBe("X.value");
    expect(expand("X{.x,y}", vars)).toBe("X.1024.768");
  });

  it("{/var} and {/var*}", () => {
    expect(expand("{/var}", vars)).toBe("/value");
    expect(expand("{/var,x}/here", vars)).toBe("/value/1024/here");
    // A string is one value: its '/' is data, so it is encoded.
    expect(expand("files{/p*}", { p: "a/b" })).toBe("files/a%2Fb");
  });

  it("{;x,y}: a bare name for an empty value", () => {
    expect(expand("{;x,y}", vars)).toBe(";x=1024;y=768");
    expect(expand("{;x,y,empty}", vars)).toBe(";x=1024;y=768;empty");
  });

  it("{?q,lang} and {&x}: 'name=' for an empty value", () => {
    expect(expand("{?x,y}", vars)).toBe("?x=1024&y=768");
    expect(expand("{?x,y,empty}", vars)).toBe("?x=1024&y=768&empty=");
    expect(expand("?fixed=yes{&x}", vars)).toBe("?fixed=yes&x=1024");
  });

  it("leaves out undefined variables, and the whole expression when all are undefined", () => {
    expect(expand("{?x,missing}", vars)).toBe("?x=1024");
    expect(expand("search{?missing}", vars)).toBe("search");
    expect(expand("files{/missing}", vars)).toBe("files");
  });

  it("expands what match reads back, for every operator", () => {
    const cases: [string, Record<string, string>][] = [
      ["a://{v}", { v: "x y" }],
      ["a://{+v}", { v: "p/q" }],
      ["a://b{#v}", { v: "frag" }],
      ["a://b{.v}", { v: "txt" }],
      ["a://b{/v}", { v: "seg" }],
      ["a://b{;x,y}", { x: "1", y: "2" }],
      ["a://b{?q,lang}", { q: "a&b", lang: "en" }],
      ["a://b?z=1{&x}", { x: "é" }],
    ];
    for (const [text, variables] of cases) {
      const template = new UriTemplate(text);
      expect(template.match(template.expand(variables)), text).toEqual(variables);
    }
  });
});
