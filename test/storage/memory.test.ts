import { describe, expect, it } from "vitest";
import { memoryStore } from "../../src/storage/index.ts";
import { manualClock } from "../helpers/clock.ts";
import { storeContract } from "./contract.ts";

const clock = manualClock();
storeContract("memoryStore", () => memoryStore({ clock: clock.now }), { clock });

describe("memoryStore limits", () => {
  it("evicts the oldest entries beyond maxEntries", async () => {
    const store = memoryStore({ maxEntries: 3 });
    for (const k of ["a", "b", "c", "d"]) await store.set(k, k);
    expect(await store.get("a")).toBeUndefined();
    expect(await store.get("d")).toBe("d");
  });
});
