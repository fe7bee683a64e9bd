/**
 * The canonical JSON a multi round-trip requestState binds its arguments with. Its exact form
 * is part of every sealed state: instances of different versions behind one load balancer
 * must agree on it, so it is pinned here against the plain definition (sorted keys, undefined
 * members left out, arrays in order).
 */
import { describe, expect, it } from "vitest";
import { canonical } from "../../src/mcp/mrtr.ts";

function reference(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => reference(item)).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    return `{${Object.keys(record)
      .sort()
      .filter((key) => record[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${reference(record[key])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

const wide: Record<string, number> = {};
for (let i = 40; i > 0; i--) wide[`key${i}`] = i;

const VALUES: unknown[] = [
  {},
  [],
  { b: 1, a: 2 },
  { z: { y: [3, { d: 1, c: undefined, b: null }], x: "é\u2028" }, a: [undefined, 1] },
  { B: 1, a: 2, _: 3, "10": 4, "9": 5, "": 6, ä: 7, "\ud83d\ude00": 8, "\uffff": 9 },
  wide,
  { nested: wide, list: [wide, "s", 1.5, true, false, null] },
  "text",
  42,
  null,
];

describe("canonical arguments of a requestState", () => {
  it("is the JSON of the value with its keys sorted, whatever their order", () => {
    for (const value of VALUES) expect(canonical(value)).toBe(reference(value));
    expect(canonical({ b: 1, a: { d: 2, c: 3 } })).toBe('{"a":{"c":3,"d":2},"b":1}');
  });
});
